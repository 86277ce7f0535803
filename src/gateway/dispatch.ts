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

/** Sends a request to an upstream on behalf of the exchange: progress mapped back, cancellation and timeout carried. */
export async function forward(
  runtime: Runtime,
  exchange: Exchange,
  upstream: Upstream,
  method: string,
  params: Record<string, any>,
): Promise<unknown> {
  let connection;
  try {
    connection = upstream.connectionFor(exchange.session.id, exchange.session.clientCapabilities);
    if (connection instanceof Promise) connection = await connection;
  } catch (error) {
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
  if (token !== undefined) {
    // The upstream sees a token of the gateway's own, unique on its connection; the client's comes back on the
    // way out, so two clients using the same token never see each other's progress.
    upstreamToken = `sb-${nextProgressToken++}`;
    params = { ...params, _meta: { ...params._meta, progressToken: upstreamToken } };
    // Progress keeps a long call alive: the timeout restarts with each notification.
    const timeout = new AbortController();
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () =>
          timeout.abort(new McpError(-32001, 'Request timed out', { timeout: upstream.options.timeoutMs })),
        upstream.options.timeoutMs,
      );
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
      timeout: upstreamToken === undefined ? upstream.options.timeoutMs : MAX_TIMER_MS,
    });
    return rewriteUris(runtime.router, upstream, result);
  } finally {
    tracked.delete(exchange);
    if (upstreamToken !== undefined) {
      clearTimeout(timer);
      connection.progress.delete(upstreamToken);
    }
  }
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
