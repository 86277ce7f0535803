// The `auth` span. Authentication runs in the HTTP edge's onRequest hook, before the request's SERVER span
// exists, so the hook only notes when it started and ended (two performance.now() readings); the span is made
// later with those times, and only when its parent records. A refused request (401/403) never reaches the
// pipeline: it gets a SERVER span of its own here, so refusals show in traces too. Never the credential.
import type { IncomingHttpHeaders } from 'node:http';
import {
  defaultTextMapGetter,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Span,
  type TextMapPropagator,
} from '@opentelemetry/api';
import { ERROR_KINDS, GatewayError } from '../../errors.js';
import type { SpanRecorder } from './recorded-span.js';

/** What the auth hook noted of one request: performance.now() times, how the caller was identified. */
export interface AuthTiming {
  readonly start: number;
  readonly end: number;
  /** The principal's `via` (apiKey, jwt, introspection, anonymous); absent when the request was refused. */
  readonly via?: string;
}

/** A refused request as the auth hook saw it: only what a span may carry (no header value, no query). */
export interface RefusedRequest {
  readonly method: string;
  /** The matched route pattern (`/mcp`), never the raw path: bounded, and a query may hold a token. */
  readonly route?: string;
  readonly headers: IncomingHttpHeaders;
}

/** The `auth` child of `parent` (a recording span), with the hook's own times. */
export function authSpan(spans: SpanRecorder, parent: Span, timing: AuthTiming, error?: unknown): void {
  const attributes = {
    'switchboard.auth.method': timing.via ?? 'none',
    'switchboard.auth.outcome': error === undefined ? 'ok' : refusalKind(error),
  };
  const span = spans.child('auth', SpanKind.INTERNAL, parent, attributes, timing.start);
  if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: refusalKind(error) });
  span.end(timing.end);
}

/** A SERVER span for a request the auth hook refused (sampled as any request: the client's flag wins). */
export function refusedSpan(
  spans: SpanRecorder,
  propagator: TextMapPropagator,
  request: RefusedRequest,
  timing: AuthTiming,
  error: unknown,
): void {
  const { traceparent, tracestate } = request.headers;
  const parent =
    typeof traceparent === 'string'
      ? trace.getSpanContext(
          propagator.extract(ROOT_CONTEXT, { traceparent, tracestate }, defaultTextMapGetter),
        )
      : undefined;
  const name = request.route ? `${request.method} ${request.route}` : request.method;
  const span = spans.first(name, SpanKind.SERVER, parent, timing.start);
  if (!span.isRecording()) return;
  const kind = refusalKind(error);
  span.setAttributes({
    'http.request.method': request.method,
    ...(request.route ? { 'http.route': request.route } : {}),
    'http.response.status_code': statusOf(error),
    'error.type': kind,
  });
  // The kind only: a refusal's message may quote what the client sent.
  span.setStatus({ code: SpanStatusCode.ERROR, message: kind });
  authSpan(spans, span, timing, error);
  span.end(timing.end);
}

function refusalKind(error: unknown): string {
  return error instanceof GatewayError ? error.kind : 'error';
}

function statusOf(error: unknown): number {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  if (typeof status === 'number') return status;
  return error instanceof GatewayError ? ERROR_KINDS[error.kind].status : 500;
}
