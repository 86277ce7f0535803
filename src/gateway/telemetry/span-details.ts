// What the gateway's spans say, beside how they are made (tracing-spans.ts): span names and MCP attributes, an
// upstream's fixed attributes, outcomes and errors as status (kinds, never messages), and the `_meta` an upstream
// hop carries, including an unsampled one's `traceparent` written without the SDK.
import { SpanStatusCode, TraceFlags, type Attributes, type Span } from '@opentelemetry/api';
import { GatewayError } from '../../errors.js';
import type { Upstream } from '../../upstreams/pool.js';
import type { Outcome } from '../pipeline/observe.js';
import { bounded } from '../wire/jsonrpc.js';
import type { UpstreamSpan } from './tracing-hooks.js';

/** A trace context as W3C names it: what a client sends and what the gateway passes on. */
export type Carrier = { traceparent?: unknown; tracestate?: unknown };

/** The client's own trace context stops at the gateway (the upstream's parent is the gateway's hop); the rest of
 * `_meta` is kept. */
export function metaWithout(params: Record<string, any>): Carrier & Record<string, unknown> {
  const meta: Carrier & Record<string, unknown> = {};
  const given = params._meta as Record<string, unknown> | undefined;
  if (given && typeof given === 'object')
    for (const key of Object.keys(given))
      if (key !== 'traceparent' && key !== 'tracestate') meta[key] = given[key];
  return meta;
}

/**
 * The params with `_meta` set. Not `{ ...params, _meta }`: when the client sent no `_meta`, Node 20's optimised
 * spread gives every such copy a hidden class of its own (~0.7 µs in a loop, and the inline caches the message
 * meets later go megamorphic); Object.assign copies into a shared one. An own `__proto__` key (JSON.parse makes
 * one) would be assigned as the prototype there, so such params keep the spread, which copies it as a key.
 */
export function withMeta(params: Record<string, any>, meta: object): Record<string, any> {
  if (Object.hasOwn(params, '__proto__')) return { ...params, _meta: meta };
  const copy = Object.assign({}, params);
  copy._meta = meta;
  return copy;
}

const NOTHING_TO_END = () => {};

/** An unsampled request's hop: no span, and its SERVER span's context (if it has one) passed on as W3C writes
 * it (what the propagator would inject, without building a context for it). */
export function unsampledHop(server: Span | undefined, params: Record<string, any>): UpstreamSpan {
  const meta = metaWithout(params);
  if (server) {
    const { traceId, spanId, traceFlags, traceState } = server.spanContext();
    meta.traceparent = `00-${traceId}-${spanId}-0${Number(traceFlags & TraceFlags.SAMPLED).toString(16)}`;
    if (traceState) meta.tracestate = traceState.serialize();
  }
  return { params: withMeta(params, meta), end: NOTHING_TO_END };
}

/** The span name and attributes of an MCP request: `{method} {target}` where the target is a tool or prompt
 * name; a resource URI is an attribute only (it would make span names unbounded). */
export function described(method: string, params: Record<string, any> | undefined) {
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

export function attributesOf(upstream: Upstream, cache: WeakMap<Upstream, Attributes>): Attributes {
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

export function recordOutcome(span: Span, outcome: Outcome, error?: GatewayError): void {
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

export function toolError(span: Span): void {
  span.setAttribute('error.type', 'tool_error');
  span.setStatus({ code: SpanStatusCode.ERROR, message: 'tool_error' });
}

export function recordError(span: Span, error: unknown): void {
  const code = (error as { code?: unknown } | undefined)?.code;
  const type = error instanceof GatewayError ? error.kind : typeof code === 'number' ? String(code) : 'error';
  span.setAttribute('error.type', type);
  span.setStatus({ code: SpanStatusCode.ERROR, message: type });
}
