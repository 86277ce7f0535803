// The gateway's spans, by the OpenTelemetry MCP semantic conventions: a SERVER span per client request
// (`tools/call get_weather`) with an `auth` child, an INTERNAL span per policy stage with its decisions as
// events, and a CLIENT span per upstream request whose W3C trace context rides in `params._meta` (and in the HTTP
// headers, see upstreams/http-transport.ts). An unsampled request costs one non-recording span and the context
// passed upstream. Names, ids and outcomes only: never an argument value nor an error's text.
import {
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapPropagator,
  type Tracer,
} from '@opentelemetry/api';
import type { JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import { GatewayError } from '../../errors.js';
import type { Policy } from '../../policy/types.js';
import type { Upstream } from '../../upstreams/pool.js';
import { hashSessionId } from '../logger.js';
import type { Outcome } from '../pipeline/observe.js';
import type { Exchange, Session } from '../session/sessions.js';
import { bounded } from '../wire/jsonrpc.js';
import { authSpan, refusedSpan, type AuthTiming } from './tracing-auth.js';
import type { GatewayTracing, UpstreamSpan } from './tracing-hooks.js';

/** The auth hook's times, carried on the request's headers object, then on the message it brought: a symbol
 * property (invisible to JSON and to header iteration), not a WeakMap, which costs the GC per entry. */
const AUTH = Symbol('switchboard.auth');
type Noted = { [AUTH]?: AuthTiming };

/** A trace context as W3C names it: what a client sends and what the gateway passes on. */
type Carrier = { traceparent?: unknown; tracestate?: unknown };

export function createTracing(
  tracer: Tracer,
  propagator: TextMapPropagator,
  flush: () => Promise<void>,
): GatewayTracing {
  /** Trace context from HTTP headers, by the message it came with (the observer sees the message only). */
  const fromHeaders = new WeakMap<JSONRPCRequest, Carrier>();
  /** A session id is hashed once per session, not per request. */
  const hashed = new WeakMap<Session, string>();
  /** An upstream's fixed attributes (its name, and its address for an HTTP one), built on its first call. */
  const upstreamAttributes = new WeakMap<Upstream, Attributes>();
  /** Each request's SERVER span: the trace id the audit record carries, an unsampled upstream hop's parent. */
  const serverSpans = new WeakMap<Exchange, Span>();
  /** The context a sampled request's next span starts in (its server span, or the policy stage running now):
   * carried by the exchange, since no context manager tracks it (explicit-context.ts). */
  const current = new WeakMap<Exchange, Context>();

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
          typeof meta?.traceparent === 'string' ? meta : fromHeaders.get(request);
        const parent = carrier
          ? propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter)
          : ROOT_CONTEXT;
        const method = bounded(request.method);
        const auth = (request as Noted)[AUTH];
        // Sampling is decided here, once, on the parent and the trace id alone: the name and attributes are
        // only built for a span that records. The span starts when authentication did, so it holds its child.
        const span = tracer.startSpan(method, { kind: SpanKind.SERVER, startTime: auth?.start }, parent);
        serverSpans.set(exchange, span);
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
        if (auth) authSpan(tracer, span, auth);
        current.set(exchange, trace.setSpan(parent, span));
        return {
          end(outcome, error) {
            recordOutcome(span, outcome, error);
            span.end();
          },
        };
      },
    },

    upstream(exchange, upstream, method, params): UpstreamSpan {
      let parent = current.get(exchange) ?? ROOT_CONTEXT;
      if (trace.getSpan(parent) === undefined) {
        // An unsampled request has no context of its own: its SERVER span is the hop's parent.
        const server = serverSpans.get(exchange);
        if (server) parent = trace.setSpan(ROOT_CONTEXT, server);
      }
      let span: Span | undefined;
      let hop = parent;
      // An unsampled request still passes its (unsampled) context on, but records no span for the hop.
      if (trace.getSpan(parent)?.isRecording()) {
        const { name, attributes } = described(method, params);
        Object.assign(attributes, attributesOf(upstream, upstreamAttributes));
        span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, parent);
        hop = trace.setSpan(parent, span);
      }
      // The client's own trace context stops here (the upstream's parent is this hop); the rest is kept.
      const meta: Carrier & Record<string, unknown> = {};
      const given = params._meta as Record<string, unknown> | undefined;
      if (given && typeof given === 'object')
        for (const key of Object.keys(given))
          if (key !== 'traceparent' && key !== 'tracestate') meta[key] = given[key];
      propagator.inject(hop, meta, defaultTextMapSetter);
      return {
        params: { ...params, _meta: meta },
        end(error, value) {
          if (!span) return;
          if (error !== undefined) recordError(span, error);
          else if ((value as { isError?: unknown } | undefined)?.isError === true) toolError(span);
          span.end();
          span = undefined;
        },
      };
    },

    policy(policy: Policy): Policy {
      const around = policy.around?.bind(policy);
      if (!around) return policy;
      const name = `policy ${policy.name}`;
      const attributes = { 'switchboard.policy': policy.name };
      // Everything else (visible, viewKey, methods) is the policy's own, through the prototype.
      const traced: Policy = Object.create(policy);
      return Object.assign(traced, {
        around: ((call, next) => {
          const exchange = (call as { exchange?: Exchange }).exchange;
          const parent = exchange && current.get(exchange);
          if (!parent || !trace.getSpan(parent)?.isRecording()) return around(call, next);
          const span = tracer.startSpan(name, { attributes }, parent);
          // The stages of one call run nested, one at a time: this stage is the context of the ones inside it.
          current.set(exchange!, trace.setSpan(parent, span));
          const done = () => current.set(exchange!, parent);
          return Promise.resolve(around(call, next)).then(
            (result) => {
              done();
              span.end();
              return result;
            },
            (error: unknown) => {
              done();
              recordError(span, error);
              span.end();
              throw error;
            },
          );
        }) as Policy['around'],
      });
    },

    decision(event, where) {
      const exchange = where.exchange as Exchange | undefined;
      const at = exchange && current.get(exchange);
      const span = at && trace.getSpan(at);
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
      if (typeof traceparent === 'string') fromHeaders.set(message, { traceparent, tracestate });
      const auth = (headers as Noted)[AUTH];
      if (auth) (message as Noted)[AUTH] = auth;
    },

    authenticated(headers, timing) {
      (headers as Noted)[AUTH] = timing;
    },

    refused(request, timing, error) {
      refusedSpan(tracer, propagator, request, timing, error);
    },

    traceId: (exchange) => serverSpans.get(exchange)?.spanContext().traceId,

    spanRef(exchange) {
      const span = serverSpans.get(exchange);
      if (!span) return undefined;
      const { traceId, spanId } = span.spanContext();
      return { traceId, spanId };
    },

    flush,
  };
}

/** The span name and attributes of an MCP request: `{method} {target}` where the target is a tool or prompt
 * name; a resource URI is an attribute only (it would make span names unbounded). */
function described(method: string, params: Record<string, any> | undefined) {
  const attributes: Attributes = { 'mcp.method.name': method };
  const name = typeof params?.name === 'string' ? bounded(params.name) : undefined;
  if (method === 'tools/call' && name !== undefined) {
    attributes['gen_ai.tool.name'] = name;
    attributes['gen_ai.operation.name'] = 'execute_tool';
    return { name: `${method} ${name}`, attributes };
  }
  if (method === 'prompts/get' && name !== undefined) {
    attributes['gen_ai.prompt.name'] = name;
    return { name: `${method} ${name}`, attributes };
  }
  if (typeof params?.uri === 'string') attributes['mcp.resource.uri'] = bounded(params.uri);
  return { name: method, attributes };
}

function attributesOf(upstream: Upstream, cache: WeakMap<Upstream, Attributes>): Attributes {
  let attributes = cache.get(upstream);
  if (attributes) return attributes;
  attributes = { 'switchboard.upstream': upstream.name };
  const { spec } = upstream.options;
  if (spec.kind === 'http') {
    const url = new URL(spec.url);
    attributes['network.transport'] = 'tcp';
    attributes['server.address'] = url.hostname;
    attributes['server.port'] = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
  } else if (spec.kind === 'stdio') {
    attributes['network.transport'] = 'pipe';
  }
  cache.set(upstream, attributes);
  return attributes;
}

function recordOutcome(span: Span, outcome: Outcome, error?: GatewayError): void {
  if (outcome === 'ok') return;
  if (outcome === 'isError') return toolError(span);
  if (outcome === 'cancelled') {
    span.setAttribute('error.type', 'cancelled');
    return;
  }
  span.setAttributes({ 'error.type': String(outcome), 'rpc.jsonrpc.error_code': outcome });
  // The kind, not the message: a message may quote what the client sent.
  span.setStatus({ code: SpanStatusCode.ERROR, message: error?.kind });
}

function toolError(span: Span): void {
  span.setAttribute('error.type', 'tool_error');
  span.setStatus({ code: SpanStatusCode.ERROR, message: 'tool_error' });
}

function recordError(span: Span, error: unknown): void {
  const code = (error as { code?: unknown } | undefined)?.code;
  const type = error instanceof GatewayError ? error.kind : typeof code === 'number' ? String(code) : 'error';
  span.setAttribute('error.type', type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
}
