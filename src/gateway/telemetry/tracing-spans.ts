// The gateway's spans, by the OpenTelemetry MCP semantic conventions: a SERVER span per client request
// (`tools/call get_weather`) with an `auth` child, one INTERNAL `policy` span for the stages' checks with their
// decisions as events, and a CLIENT span per upstream request whose W3C trace context rides in `params._meta` (and
// in the HTTP headers, see upstreams/http-transport.ts). Spans are recorded by recorded-span.ts and exported by the
// SDK; an unsampled request records nothing: ids of its own and the context passed upstream. Names, ids and
// outcomes only: never an argument value nor an error's text.
import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  type Attributes,
  type Span,
  type TextMapPropagator,
} from '@opentelemetry/api';
import type { Policy } from '../../policy/types.js';
import type { Upstream } from '../../upstreams/pool.js';
import { hashSessionId } from '../logger.js';
import type { Exchange, Session } from '../session/sessions.js';
import { bounded } from '../wire/jsonrpc.js';
import type { SpanRecorder } from './recorded-span.js';
import { authSpan, refusedSpan, type AuthTiming } from './tracing-auth.js';
import type { GatewayTracing, UpstreamSpan } from './tracing-hooks.js';
import {
  attributesOf,
  described,
  metaWithout,
  recordError,
  recordOutcome,
  toolError,
  unsampledHop,
  withMeta,
  type Carrier,
} from './span-details.js';

/** The auth hook's times, carried on the request's headers object, then on the message it brought, and the
 * trace context of its HTTP headers: symbol properties (invisible to JSON and to header iteration), not
 * WeakMaps, which cost the GC per entry. */
const AUTH = Symbol('switchboard.auth');
const HEADERS = Symbol('switchboard.traceHeaders');
type Noted = { [AUTH]?: AuthTiming; [HEADERS]?: Carrier };

/** A request's tracing, held by its exchange (`Exchange.trace`). */
interface RequestTrace {
  /** Its SERVER span: the trace id the audit record carries, an unsampled upstream hop's parent. */
  readonly server: Span;
  /** The span a sampled request's next span is a child of (its server span, or the policy span while its checks
   * run): carried by the exchange, since no context manager tracks it (explicit-context.ts). */
  current: Span | undefined;
  /** A sampled request's policy span while its checks run, and the span to go back to when they end. */
  checking: { span: Span; parent: Span } | undefined;
}
const traceOf = (exchange: Exchange) => exchange.trace as RequestTrace | undefined;

export function createTracing(
  spans: SpanRecorder,
  propagator: TextMapPropagator,
  flush: () => Promise<void>,
): GatewayTracing {
  /** A session id is hashed once per session, not per request. */
  const hashed = new WeakMap<Session, string>();
  /** An upstream's fixed attributes (its name, and its address for an HTTP one), built on its first call. */
  const upstreamAttributes = new WeakMap<Upstream, Attributes>();
  /** Ends the request's policy span, if one is open: on the way upstream, or when a stage ended the call. */
  const checked = (state: RequestTrace | undefined, error?: unknown) => {
    const open = state?.checking;
    if (!open) return;
    state.checking = undefined;
    state.current = open.parent;
    if (error !== undefined) recordError(open.span, error);
    open.span.end();
  };

  const sessionHash = (session: Session) => {
    let hash = hashed.get(session);
    if (hash === undefined) hashed.set(session, (hash = hashSessionId(session.id)));
    return hash;
  };

  return {
    observer: {
      begin(exchange, request) {
        const params = request.params as Record<string, any> | undefined;
        const meta = params?._meta;
        // The MCP conventions carry trace context in `_meta`; an HTTP client's headers are the fallback.
        const carrier: Carrier | undefined =
          typeof meta?.traceparent === 'string' ? meta : (request as Noted)[HEADERS];
        const parent = carrier
          ? trace.getSpanContext(propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter))
          : undefined;
        const method = bounded(request.method);
        const auth = (request as Noted)[AUTH];
        // Sampling is decided here, once, on the parent or (a root request, the usual case) the ratio on a trace
        // id drawn here: the name and attributes are only built for a span that records. The span starts when
        // authentication did, so it holds its child.
        const span = spans.first(method, SpanKind.SERVER, parent, auth?.start);
        const state: RequestTrace = { server: span, current: undefined, checking: undefined };
        exchange.trace = state;
        // Not sampled: no context switch, no stage spans, nothing to end. The upstream hop still passes this
        // span's (unsampled) context on, found through the exchange.
        if (!span.isRecording()) return undefined;
        const { name, attributes } = described(method, params);
        attributes['mcp.session.id'] = sessionHash(exchange.session);
        attributes['mcp.protocol.version'] = exchange.session.protocolVersion;
        // The conventions' current name, and the older one operators' dashboards may still query.
        attributes['jsonrpc.request.id'] = attributes['rpc.jsonrpc.request_id'] = String(exchange.requestId);
        span.updateName(name);
        span.setAttributes(attributes);
        if (auth) authSpan(spans, span, auth);
        state.current = span;
        return {
          end(outcome, error) {
            recordOutcome(span, outcome, error);
            span.end();
          },
        };
      },
    },

    upstream(exchange, upstream, method, params): UpstreamSpan {
      // The checks are done once the call leaves for its upstream: its span is the policy span's sibling.
      const state = traceOf(exchange);
      checked(state);
      // Only a sampled request has a current span: any other passes its SERVER span's (unsampled) context
      // on, if it has one, and records no span for the hop.
      const parent = state?.current;
      if (parent === undefined) return unsampledHop(state?.server, params);
      const { name, attributes } = described(method, params);
      Object.assign(attributes, attributesOf(upstream, upstreamAttributes));
      let span: Span | undefined = spans.child(name, SpanKind.CLIENT, parent, attributes);
      const meta = metaWithout(params);
      propagator.inject(trace.setSpan(ROOT_CONTEXT, span), meta, defaultTextMapSetter);
      return {
        params: withMeta(params, meta),
        end(error, value) {
          if (!span) return;
          if (error !== undefined) recordError(span, error);
          else if ((value as { isError?: unknown } | undefined)?.isError === true) toolError(span);
          span.end();
          span = undefined;
        },
      };
    },

    policies(list: readonly Policy[]): Policy[] {
      const staged = list.filter((policy) => policy.around);
      if (staged.length === 0) return [...list];
      // One span for the checks a call passes before it leaves for its upstream, whatever the number of stages:
      // a sampled call costs four spans (server, auth, policy, upstream), not one more per stage.
      const methods = staged.some((p) => !p.methods)
        ? undefined
        : [...new Set(staged.flatMap((p) => p.methods!))];
      const stagesOf = new Map<string, string[]>();
      const stageNames = (method: string) => {
        let names = stagesOf.get(method);
        if (!names) {
          names = staged.filter((p) => !p.methods || p.methods.includes(method)).map((p) => p.name);
          stagesOf.set(method, names);
        }
        return names;
      };
      const opening: Policy = {
        name: 'tracing',
        ...(methods ? { methods } : {}),
        around(call, next) {
          const exchange = (call as { exchange?: Exchange }).exchange;
          const state = exchange && traceOf(exchange);
          // Only a sampled request has a current span (its SERVER span).
          const parent = state?.current;
          if (!state || !parent) return next(call);
          const span = spans.child('policy', SpanKind.INTERNAL, parent, {
            'switchboard.policy.stages': stageNames(call.method),
          });
          // The stages' decisions become this span's events until the call leaves for its upstream.
          state.current = span;
          state.checking = { span, parent };
          return next(call).then(
            (result) => {
              checked(state);
              return result;
            },
            (error: unknown) => {
              checked(state, error);
              throw error;
            },
          );
        },
      };
      return [opening, ...list];
    },

    decision(event, where) {
      const exchange = where.exchange as Exchange | undefined;
      const span = exchange && traceOf(exchange)?.current;
      if (!span?.isRecording()) return;
      // Which rule decided what, about which item; the reason's text may quote an argument, so it stays out.
      span.addEvent('switchboard.policy.decision', {
        'switchboard.decision.effect': event.effect,
        'switchboard.decision.kind': event.kind,
        'switchboard.decision.item': event.item,
        ...(event.rule ? { 'switchboard.decision.rule': event.rule } : {}),
        ...(event.outcome ? { 'switchboard.decision.outcome': event.outcome } : {}),
      });
    },

    fromHeaders(message, headers) {
      const { traceparent, tracestate } = headers;
      if (typeof traceparent === 'string') (message as Noted)[HEADERS] = { traceparent, tracestate };
      const auth = (headers as Noted)[AUTH];
      if (auth) (message as Noted)[AUTH] = auth;
    },

    authenticated(headers, timing) {
      (headers as Noted)[AUTH] = timing;
    },

    refused(request, timing, error) {
      refusedSpan(spans, propagator, request, timing, error);
    },

    traceId: (exchange) => traceOf(exchange)?.server.spanContext().traceId,

    spanRef(exchange) {
      const span = traceOf(exchange)?.server;
      if (!span) return undefined;
      const { traceId, spanId } = span.spanContext();
      return { traceId, spanId };
    },

    flush,
  };
}
