// What the gateway knows of tracing, without importing OpenTelemetry: the hooks tracing.ts installs when it starts
// (the CLI starts it before loading the gateway, only when `telemetry.otlp` is set). Nothing installed: nothing
// is traced and no OpenTelemetry module is ever loaded, so tracing costs nothing when it is off.
import type { IncomingHttpHeaders } from 'node:http';
import type { JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Policy } from '../../policy/types.js';
import type { Upstream } from '../../upstreams/pool.js';
import type { DecisionListener } from '../decisions.js';
import type { RequestObserver } from '../pipeline/observe.js';
import type { Exchange } from '../session/sessions.js';
import type { AuthTiming, RefusedRequest } from './tracing-auth.js';

/** The CLIENT span of one upstream request. */
export interface UpstreamSpan {
  /** The params to send: the caller's, with this span's W3C trace context in `_meta`. */
  readonly params: Record<string, any>;
  /** The upstream answered (`value`) or failed (`error`); later calls are ignored. */
  end(error?: unknown, value?: unknown): void;
}

/** Starts the CLIENT span of a request to an upstream, as a child of the request's current span. */
export type UpstreamTracer = (
  exchange: Exchange,
  upstream: Upstream,
  method: string,
  params: Record<string, any>,
) => UpstreamSpan;

export interface GatewayTracing {
  /** Starts a SERVER span per request; the request's exchange carries its context (no ambient context). */
  readonly observer: RequestObserver;
  readonly upstream: UpstreamTracer;
  /** The policies with a first stage that opens one `policy` span per sampled call, ended as the call leaves
   * for its upstream (or is refused): the stages' decisions become its events. */
  policies(list: readonly Policy[]): Policy[];
  /** Every policy decision, recorded as an event on the current span. */
  readonly decision: DecisionListener;
  /** Remembers the trace context an HTTP request carried in its headers (`traceparent`, `tracestate`), used
   * when the message itself carries none in `params._meta`. */
  fromHeaders(message: JSONRPCRequest, headers: IncomingHttpHeaders): void;
  /** The auth hook identified the sender of the HTTP request with these headers (the raw request's own
   * object, which `fromHeaders` receives too): the request's span gets an `auth` child with these times. */
  authenticated(headers: IncomingHttpHeaders, timing: AuthTiming): void;
  /** The auth hook refused a request (401/403): a SERVER span of its own, with its `auth` child. */
  refused(request: RefusedRequest, timing: AuthTiming, error: unknown): void;
  /** The trace id of a request's SERVER span (sampled or not), from the observer's `begin` on: for the audit
   * record. Undefined for a request the observer did not see. */
  traceId(exchange: Exchange): string | undefined;
  /** The trace and span ids of a request's SERVER span (an audit record names both). */
  spanRef(exchange: Exchange): { traceId: string; spanId: string } | undefined;
  /** Exports the spans still buffered (on shutdown). */
  flush(): Promise<void>;
}

let installed: GatewayTracing | undefined;

/** Called by tracing.ts once the OpenTelemetry SDK runs. */
export function installTracing(tracing: GatewayTracing): void {
  installed = tracing;
}

/** The tracing in force, when the process started one (only ever when `telemetry.otlp` is configured). */
export function installedTracing(): GatewayTracing | undefined {
  return installed;
}
