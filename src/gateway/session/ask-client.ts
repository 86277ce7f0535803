// Asking the client: a server-to-client request (sampling, elicitation, roots) sent on a channel of its
// session, and the client's answer matched back by the id the gateway gave it. Malformed answers become
// well-formed errors, so whoever asked (an upstream, a stage) never hangs on them.
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { ERROR_KINDS, GatewayError } from '../../errors.js';
import { errorOf, notificationOf, requestOf } from '../wire/jsonrpc.js';
import type { Outlet, Session } from './sessions.js';
import type { AbortLike } from '../../policy/types.js';

/** Sends `method` to the client and resolves with its result; `signal` withdraws the question. */
export async function askClient(
  session: Session,
  channel: Outlet | undefined,
  method: string,
  params: unknown,
  signal?: AbortLike,
): Promise<Record<string, unknown>> {
  if (!channel) throw noStream(method);
  const n = session.nextOutgoingId++;
  const id = session.idPrefix === undefined ? n : session.idPrefix + n;
  const awaiting = (session.awaiting ??= new Map());
  const answer = new Promise<JSONRPCMessage>((resolve) => awaiting.set(id, resolve));
  const cancel = () => {
    awaiting.get(id)?.(errorOf(id, ERROR_KINDS.cancelled.code, 'cancelled by the upstream'));
    channel.send(notificationOf('notifications/cancelled', { requestId: id, reason: 'upstream cancelled' }));
  };
  signal?.addEventListener('abort', cancel, { once: true });
  if (!channel.send(requestOf(id, method, params))) {
    awaiting.delete(id);
    signal?.removeEventListener('abort', cancel);
    throw noStream(method);
  }
  try {
    const message = (await answer) as { result?: unknown; error?: unknown };
    if (message.error !== undefined) {
      const error = message.error as { code?: unknown; message?: unknown; data?: unknown } | null;
      if (
        !error ||
        typeof error !== 'object' ||
        !Number.isInteger(error.code) ||
        typeof error.message !== 'string'
      )
        throw new GatewayError('internal', `the client answered ${method} with a malformed error`);
      // The client's own error goes back with its code, message and data.
      throw new GatewayError('internal', error.message, {
        upstreamCode: error.code as number,
        data: error.data,
      });
    }
    const result = message.result;
    if (!result || typeof result !== 'object' || Array.isArray(result))
      throw new GatewayError('internal', `the client answered ${method} with a malformed result`);
    return result as Record<string, unknown>;
  } finally {
    awaiting.delete(id);
    signal?.removeEventListener('abort', cancel);
  }
}

/** A client's answer to a server-to-client request. */
export function handleResponse(session: Session, message: JSONRPCMessage): void {
  session.lastSeen = Date.now();
  const id = (message as { id?: unknown }).id;
  if (typeof id !== 'number' && typeof id !== 'string') return;
  session.awaiting?.get(id)?.(message);
}

function noStream(method: string): GatewayError {
  return new GatewayError('internal', `client session has no open stream to receive ${method}`);
}
