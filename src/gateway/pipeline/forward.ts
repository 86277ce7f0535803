// The terminal stage of the pipeline: one request to one upstream on behalf of a client exchange, with
// progress mapped back to the client's token, cancellation and timeout carried, errors kept precise, and the
// upstream's own bytes for a large result returned beside the value (Result.raw).
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { GatewayError, toGatewayError } from '../../errors.js';
import type { Principal, Result } from '../../policy/types.js';
import { passthroughResult } from '../../upstreams/catalog.js';
import type { Caller } from '../../upstreams/credentials.js';
import type { Upstream } from '../../upstreams/pool.js';
import { takeRawResult } from '../../upstreams/raw-results.js';
import type { Router } from '../catalog/router.js';
import { rewriteUris } from '../catalog/uri-rewrite.js';
import type { Inflight } from '../session/inflight.js';
import type { ScopedRelay } from '../session/scoped-relay.js';
import type { Exchange } from '../session/sessions.js';
import type { UpstreamTracer } from '../telemetry/tracing-hooks.js';
import { notificationOf } from '../wire/jsonrpc.js';
import type { AbortLike } from '../../policy/types.js';

/** The largest delay a Node timer takes; the gateway's own timer governs calls that report progress. */
const MAX_TIMER_MS = 2 ** 31 - 1;
let nextProgressToken = 1;

export class Forwarder {
  /** With replicas (`redis:`): a `scope: session` connection another replica holds is reached through it. */
  relay?: ScopedRelay;

  constructor(
    private readonly inflight: Inflight,
    private readonly router: Router,
    /** A CLIENT span per upstream request, when tracing is on. */
    private readonly tracer?: UpstreamTracer,
  ) {}

  /** The value alone, for the gateway's own fan-out (tasks/list, logging/setLevel). */
  async value(exchange: Exchange, upstream: Upstream, method: string, params: Record<string, any>) {
    return (await this.send(exchange, upstream, method, params)).value;
  }

  /**
   * Sends a request to an upstream on behalf of the exchange: progress mapped back, cancellation and timeout
   * carried. Progress restarts the timeout, but never past the upstream's maximum total time (maxTimeout).
   */
  send(exchange: Exchange, upstream: Upstream, method: string, params: Record<string, any>): Promise<Result> {
    if (this.relay && upstream.options.scope === 'session')
      return this.viaOwner(exchange, upstream, method, params);
    return send(this.inflight, this.router, exchange, upstream, method, params, this.tracer);
  }

  /** A per-session connection is used where it lives: here, or on the replica that opened it. */
  private async viaOwner(
    exchange: Exchange,
    upstream: Upstream,
    method: string,
    params: Record<string, any>,
  ) {
    const relay = this.relay!;
    if (!upstream.holdsSession(exchange.session.id)) {
      const owner = await relay.ownerElsewhere(exchange.session, upstream);
      if (owner) return relay.forward(owner, exchange, upstream, method, params);
    }
    relay.keepClaim(exchange.session, upstream);
    return send(this.inflight, this.router, exchange, upstream, method, params, this.tracer);
  }
}

async function send(
  inflight: Inflight,
  router: Router,
  exchange: Exchange,
  upstream: Upstream,
  method: string,
  params: Record<string, any>,
  tracer: UpstreamTracer | undefined,
): Promise<Result> {
  let connection;
  const { session } = exchange;
  try {
    // The source (client address, or principal) keys the cap on per-session processes; the caller picks a
    // per-caller connection (token exchange) and fills ${principal.*} in a per-session process's env.
    connection = upstream.connectionFor(
      session.id,
      session.clientCapabilities,
      session.source?.key,
      upstream.needsCaller ? callerOf(exchange) : undefined,
    );
    if (connection instanceof Promise)
      connection = await untilAborted(connection, exchange.controller.signal);
    // A token near expiry is renewed first (a per-caller one from the caller's current token); a fresh one
    // costs no promise.
    const renewing = upstream.freshToken(connection.token, exchange.bearer);
    if (renewing) await untilAborted(renewing, exchange.controller.signal);
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    throw new GatewayError('upstream_unavailable', (error as Error).message);
  }
  if (connection.sessionKey !== undefined || connection.callerKey !== undefined)
    (exchange.session.scopedUpstreams ??= new Set()).add(upstream.name);
  exchange.connection = connection;
  const slot = inflight.add(connection, exchange);
  // Traced: a CLIENT span for this hop, whose W3C trace context the upstream receives in `_meta`.
  const span = tracer?.(exchange, upstream, method, params);
  if (span) params = span.params;
  const token = params._meta?.progressToken;
  let upstreamToken: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let signal: AbortLike = exchange.controller.signal;
  const { timeoutMs, maxTimeoutMs = MAX_TIMER_MS } = upstream.options;
  if (token !== undefined) {
    // The upstream sees a token of the gateway's own, unique on its connection; the client's comes back on the
    // way out, so two clients using the same token never see each other's progress.
    upstreamToken = `sb-${nextProgressToken++}`;
    params = { ...params, _meta: { ...params._meta, progressToken: upstreamToken } };
    // Progress keeps a long call alive: the timeout restarts with each notification, up to the deadline.
    const timeout = new AbortController();
    const deadline = Date.now() + maxTimeoutMs;
    const arm = () => {
      clearTimeout(timer);
      const left = deadline - Date.now();
      timer =
        left > timeoutMs
          ? setTimeout(
              () =>
                timeout.abort(
                  new McpError(ErrorCode.RequestTimeout, 'Request timed out', { timeout: timeoutMs }),
                ),
              timeoutMs,
            )
          : setTimeout(() => timeout.abort(totalTimeout(upstream.name, maxTimeoutMs)), Math.max(0, left));
    };
    arm();
    signal = AbortSignal.any([exchange.controller.nodeSignal(), timeout.signal]);
    connection.progress.set(upstreamToken, (progress) => {
      arm();
      exchange.related.send(notificationOf('notifications/progress', { ...progress, progressToken: token }));
    });
  }
  try {
    // Frozen: the SDK sends `{ ...request, jsonrpc, id }`, and on Node 20 optimised code gives each such object
    // a hidden class of its own when the spread source is a plain literal (~1.7 µs a call, and every inline cache
    // that later sees the message goes megamorphic). From a frozen source V8 copies into a shared class. Node 22
    // has no such cost; the freeze costs it ~0.05 µs.
    const request = Object.freeze({ method, params });
    const result = await connection.client.request(request as any, passthroughResult, {
      // The SDK's request reads only `aborted`, `reason`, `throwIfAborted` and an 'abort' listener of it (1.x's
      // Protocol.request), which the exchange's CallAbort has: no AbortSignal is made per call for it.
      signal: signal as AbortSignal,
      timeout: upstreamToken === undefined ? Math.min(timeoutMs, maxTimeoutMs) : MAX_TIMER_MS,
    });
    span?.end(undefined, result);
    const value = rewriteUris(router, upstream, result);
    // The upstream's bytes stand for the result only while it is the very object they were parsed into.
    const raw = takeRawResult(result);
    return raw && value === result ? { value, raw } : { value };
  } catch (error) {
    span?.end(error);
    // A connection the gateway reset (an overlong line) says why, not just "Connection closed".
    const failure = connection.failure;
    if (failure) throw new GatewayError('upstream_unavailable', failure);
    // The SDK fails every pending call with ConnectionClosed when the connection drops (and then has no
    // transport); the same code in an upstream's own error answer passes through as that upstream's error.
    if ((error as { code?: unknown }).code === ErrorCode.ConnectionClosed && !connection.client.transport)
      throw new GatewayError('upstream_unavailable', 'Upstream connection closed before it answered');
    throw error;
  } finally {
    inflight.delete(connection, slot);
    if (upstreamToken !== undefined) {
      clearTimeout(timer);
      connection.progress.delete(upstreamToken);
    }
  }
}

/** Whom a call is for, as the upstream side needs it; the bearer is the exchange's subject token, never sent on. */
function callerOf(exchange: Exchange): Caller {
  const { subject, groups, via } = exchange.principal;
  return { key: callerKey(exchange.principal), subject, groups, via, bearer: exchange.bearer };
}

/** The identity a per-caller upstream connection belongs to (the same fields sameIdentity compares). */
export function callerKey(principal: Principal): string {
  return `${principal.via}\n${principal.clientId ?? ''}\n${principal.subject}`;
}

/** A per-session connection still starting must not hold a cancelled call (and its POST) until it is up. */
function untilAborted<T>(pending: Promise<T>, signal: AbortLike): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** An abort reason must be an McpError: the SDK passes one through as the rejection and rewraps anything else
 * (its RequestTimeout code, -32001, is how a timeout is told apart below). */
function totalTimeout(upstream: string, maxTimeoutMs: number): McpError {
  return new McpError(
    ErrorCode.RequestTimeout,
    `the call to upstream "${upstream}" ran for its maximum total time of ${maxTimeoutMs} ms (maxTimeout); progress does not extend a call past it`,
    { maxTimeout: maxTimeoutMs },
  );
}

/** Upstream protocol errors keep their code and message; outages and timeouts get the gateway's kinds. */
export function fromUpstreamError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message.replace(/^MCP error -?\d+: /, '') : String(error);
  if (code === ErrorCode.RequestTimeout)
    return new GatewayError('timeout', `Upstream request timed out: ${message}`);
  if (typeof code === 'number' && Number.isInteger(code)) {
    return new GatewayError('internal', message, {
      upstreamCode: code,
      data: (error as { data?: unknown }).data,
    });
  }
  return toGatewayError(error);
}
