// observe: the outermost, fixed stage of every request. Today it is the debug request log line (what was
// called, where, how long, how it ended; never the arguments); spans, metrics and audit records join it here.
// Absent when off: the handler only calls it when debug logging is enabled.
import type { JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { Exchange } from '../session/sessions.js';
import { bounded } from '../wire/jsonrpc.js';

export function logRequest(
  log: Logger,
  exchange: Exchange,
  request: JSONRPCRequest,
  started: number,
  outcome: string | number,
): void {
  const params = request.params as Record<string, unknown> | undefined;
  const ref = params?.ref as Record<string, unknown> | undefined;
  const name = params?.name ?? params?.uri ?? ref?.name ?? ref?.uri;
  log.debug(
    {
      method: bounded(request.method),
      ...(typeof name === 'string' ? { name: bounded(name) } : {}),
      ...(exchange.connection ? { upstream: exchange.connection.upstream.name } : {}),
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      outcome,
    },
    'request',
  );
}
