// observe: the outermost, fixed stage of every request. Observers (the debug request line; spans, metrics and
// audit records when configured) are told when a request begins and how it ended; one may hold the answer back
// until it has done its part (the audit log's `flush`), or run the request inside its own context (a span).
// With no observer the handler pays nothing for this stage.
import type { JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { GatewayError } from '../../errors.js';
import type { Exchange } from '../session/sessions.js';
import { bounded } from '../wire/jsonrpc.js';

/** How a request ended: 'ok', 'isError' (a tool result saying it failed), 'cancelled', or a JSON-RPC error code. */
export type Outcome = 'ok' | 'isError' | 'cancelled' | number;

/** One request as an observer follows it. */
export interface Observation {
  /** Runs the request inside the observer's context (a span made current); absent: run as it is. */
  run?<T>(work: () => Promise<T>): Promise<T>;
  /** The request ended; `error` when it failed. A promise holds the answer back until it settles; a rejection
   * turns the answer into that error (the audit log failing closed). */
  end(outcome: Outcome, error?: GatewayError): void | Promise<void>;
}

export interface RequestObserver {
  /** Called as a request begins (after classification); undefined: not interested in this one. */
  begin(exchange: Exchange, request: JSONRPCRequest, started: number): Observation | undefined;
}

/** The debug `request` line: what was called, where, how long, how it ended; never the arguments. */
export function debugRequestObserver(log: Logger): RequestObserver {
  return {
    begin(exchange, request, started) {
      if (!log.isLevelEnabled('debug')) return undefined;
      return { end: (outcome) => logRequest(log, exchange, request, started, outcome) };
    },
  };
}

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
      // Hashed by the logger, as everywhere: lines of one session can be followed without the id itself.
      sessionId: exchange.session.id,
      ...(typeof name === 'string' ? { name: bounded(name) } : {}),
      ...(exchange.connection ? { upstream: exchange.connection.upstream.name } : {}),
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      outcome,
    },
    'request',
  );
}
