// The terminal stage of the pipeline: one request to one upstream on behalf of a client exchange, with
// progress mapped back to the client's token, cancellation and timeout carried, and errors kept precise.
import { McpError, type JSONRPCNotification } from '@modelcontextprotocol/sdk/types.js';
import { GatewayError, toGatewayError } from '../errors.js';
import { passthroughResult } from '../upstreams/catalog.js';
import type { Upstream } from '../upstreams/pool.js';
import type { Runtime } from './runtime.js';
import type { Exchange } from './sessions.js';
import { rewriteUris } from './uri-rewrite.js';

/** The largest delay a Node timer takes; the gateway's own timer governs calls that report progress. */
const MAX_TIMER_MS = 2 ** 31 - 1;
let nextProgressToken = 1;

/**
 * Sends a request to an upstream on behalf of the exchange: progress mapped back, cancellation and timeout
 * carried. Progress restarts the timeout, but never past the upstream's maximum total time (maxTimeout).
 */
export async function forward(
  runtime: Runtime,
  exchange: Exchange,
  upstream: Upstream,
  method: string,
  params: Record<string, any>,
): Promise<unknown> {
  let connection;
  const { session } = exchange;
  try {
    // The source (client address, or principal) keys the cap on per-session processes.
    connection = upstream.connectionFor(session.id, session.clientCapabilities, session.source?.key);
    if (connection instanceof Promise)
      connection = await untilAborted(connection, exchange.controller.signal);
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    throw new GatewayError('upstream_unavailable', (error as Error).message);
  }
  if (connection.sessionKey !== undefined)
    (exchange.session.scopedUpstreams ??= new Set()).add(upstream.name);
  exchange.connection = connection;
  let tracked = runtime.inflight.get(connection);
  if (!tracked) runtime.inflight.set(connection, (tracked = new Set()));
  tracked.add(exchange);
  const token = params._meta?.progressToken;
  let upstreamToken: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let signal = exchange.controller.signal;
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
              () => timeout.abort(new McpError(-32001, 'Request timed out', { timeout: timeoutMs })),
              timeoutMs,
            )
          : setTimeout(() => timeout.abort(totalTimeout(upstream.name, maxTimeoutMs)), Math.max(0, left));
    };
    arm();
    signal = AbortSignal.any([signal, timeout.signal]);
    connection.progress.set(upstreamToken, (progress) => {
      arm();
      exchange.related.send({
        jsonrpc: '2.0',
        method: 'notifications/progress',
        params: { ...progress, progressToken: token },
      } as JSONRPCNotification);
    });
  }
  try {
    const result = await connection.client.request({ method, params } as any, passthroughResult, {
      signal,
      timeout: upstreamToken === undefined ? Math.min(timeoutMs, maxTimeoutMs) : MAX_TIMER_MS,
    });
    return rewriteUris(runtime.router, upstream, result);
  } catch (error) {
    // A connection the gateway reset (an overlong line) says why, not just "Connection closed".
    const failure = connection.failure;
    throw failure ? new GatewayError('upstream_unavailable', failure) : error;
  } finally {
    tracked.delete(exchange);
    if (upstreamToken !== undefined) {
      clearTimeout(timer);
      connection.progress.delete(upstreamToken);
    }
  }
}

/** A per-session connection still starting must not hold a cancelled call (and its POST) until it is up. */
function untilAborted<T>(pending: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The SDK passes an McpError through as the rejection (anything else it rewraps); -32001 is a timeout. */
function totalTimeout(upstream: string, maxTimeoutMs: number): McpError {
  return new McpError(
    -32001,
    `the call to upstream "${upstream}" ran for its maximum total time of ${maxTimeoutMs} ms (maxTimeout); progress does not extend a call past it`,
    { maxTimeout: maxTimeoutMs },
  );
}

/** Upstream protocol errors keep their code and message; outages and timeouts get the gateway's kinds. */
export function fromUpstreamError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message.replace(/^MCP error -?\d+: /, '') : String(error);
  if (code === -32001) return new GatewayError('timeout', `Upstream request timed out: ${message}`);
  if (code === -32000 && /Connection closed/.test(message)) {
    return new GatewayError('upstream_unavailable', 'Upstream connection closed before it answered');
  }
  if (typeof code === 'number' && Number.isInteger(code)) {
    return new GatewayError('internal', message, {
      upstreamCode: code,
      data: (error as { data?: unknown }).data,
    });
  }
  return toGatewayError(error);
}
