// Resuming a cut POST stream: an SSE answer opens with a priming event whose id names the replica and the
// request (protocol 2025-11-25 on), so a client whose stream broke (its replica died, a proxy cut it) reconnects
// with GET + Last-Event-ID to any replica and hears at once that this answer is lost, instead of waiting out its
// timeout. The gateway keeps no event history: nothing is replayed.
import type { RequestId } from '@modelcontextprotocol/sdk/types.js';
import { ERROR_KINDS } from '../../errors.js';
import { errorOf } from '../wire/jsonrpc.js';

/** Priming events exist from this protocol revision on (older clients may not expect an event with no data). */
const FIRST_RESUMABLE_VERSION = '2025-11-25';
const TAG = 'sb1';

/** Whether a session's POST streams start with a priming event (dated revisions compare as strings). */
export function resumable(protocolVersion: string): boolean {
  return protocolVersion >= FIRST_RESUMABLE_VERSION;
}

/** The priming event of a POST stream: an id and no data. */
export function primingEvent(replica: string, requestId: RequestId): string {
  const request = Buffer.from(JSON.stringify(requestId)).toString('base64url');
  return `id: ${TAG}.${replica}.${request}\ndata: \n\n`;
}

/** The request a Last-Event-ID names, when it is one of this gateway's priming ids. */
export function resumedRequest(lastEventId: unknown): RequestId | undefined {
  if (typeof lastEventId !== 'string' || lastEventId.length > 512) return undefined;
  const [tag, replica, request, extra] = lastEventId.split('.');
  if (tag !== TAG || !replica || !request || extra !== undefined) return undefined;
  try {
    const id: unknown = JSON.parse(Buffer.from(request, 'base64url').toString('utf8'));
    return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** What the client hears for a request whose stream was cut: its outcome is unknown. */
export function lostAnswer(requestId: RequestId) {
  return errorOf(
    requestId,
    ERROR_KINDS.internal.code,
    'The stream of this request was cut before its answer was sent (the gateway replica answering it stopped, or ' +
      'the connection broke); the call may have run: check its effect before retrying',
  );
}
