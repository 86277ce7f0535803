// An upstream's plain result handed straight to the SDK request waiting for it. The SDK 1.x Protocol checks every
// response against its zod schema three times on the way (once in its onmessage, twice in _onresponse): ~11k
// instructions a call, 5 % of the bare gateway's (bench/instructions.ts). This does what _onresponse does for
// a result, after the same checks in plain code; anything else (an error, `_meta`, a task, an unknown id, an SDK
// whose Protocol is not the one this mirrors) takes the SDK's own way.
import { createHash } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { Protocol } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/** The SDK 1.x Protocol's fields this reads (young-maps.ts replaces the maps: they are read anew each time). */
interface ProtocolInternals {
  _responseHandlers: Map<number, (response: JSONRPCMessage) => void>;
  _progressHandlers: Map<number, unknown>;
  _requestResolvers: Map<number, unknown>;
  _cleanupTimeout(messageId: number): void;
}

/** SHA-256 of `Protocol.prototype.connect` and `_onresponse` as this mirrors them (SDK 1.32.2): another SDK whose
 * dispatch of responses differs gets no fast path, and test/upstreams/fast-results.test.ts says so. */
export const MIRRORED: Readonly<Record<string, string>> = {
  connect: 'fbc7d890dd79d714a9fe2f3129860b79ad0b9a259597bfc66a9e0f19a1dff531',
  _onresponse: '71acff36110a3e5b2df94c0b6e0e90266f13321a72c78448f8ec8b0e6e715c79',
};

/** Each mirrored method's SHA-256 in the installed SDK (what MIRRORED must say for the fast path to apply). */
export function fingerprint(): Record<string, string> {
  const methods = Protocol.prototype as unknown as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(MIRRORED).map((name) => [
      name,
      createHash('sha256').update(String(methods[name])).digest('hex'),
    ]),
  );
}

let mirrored: boolean | undefined;
/** Whether the installed SDK's Protocol is the one this mirrors (checked once). */
export function fastResultsApply(): boolean {
  if (mirrored === undefined) {
    const found = fingerprint();
    mirrored = Object.entries(MIRRORED).every(([name, sha]) => found[name] === sha);
  }
  return mirrored;
}

/**
 * Whether `message` is a result the SDK would hand over as it is: exactly `jsonrpc` ("2.0"), `id` and `result`
 * (its schema is strict), a safe integer or string id, and a result object without `_meta` (the SDK validates it)
 * or `task` (the SDK keeps a task's progress handler).
 */
export function isPlainResult(
  message: unknown,
): message is { jsonrpc: '2.0'; id: string | number; result: object } {
  if (typeof message !== 'object' || message === null) return false;
  const fields = message as { jsonrpc?: unknown; id?: unknown; result?: unknown };
  let count = 0;
  for (const key in fields) {
    if (key !== 'jsonrpc' && key !== 'id' && key !== 'result') return false;
    count++;
  }
  if (count !== 3 || fields.jsonrpc !== '2.0') return false;
  const { id, result } = fields;
  // zod's int() takes safe integers only (2 ** 53 is refused).
  if (typeof id !== 'string' && !Number.isSafeInteger(id)) return false;
  if (typeof result !== 'object' || result === null || Array.isArray(result)) return false;
  return !('_meta' in result) && !('task' in result);
}

/** Delivers `message` to its waiting request when it is a plain result (above) of a request the SDK is waiting
 * for; returns false, having done nothing, for anything else. */
export function deliverResult(client: Client, message: JSONRPCMessage): boolean {
  if (!fastResultsApply() || !isPlainResult(message)) return false;
  const protocol = client as unknown as ProtocolInternals;
  const messageId = Number(message.id);
  if (protocol._requestResolvers.has(messageId)) return false;
  const handler = protocol._responseHandlers.get(messageId);
  // Unknown: the SDK reports it as an error of the connection.
  if (handler === undefined) return false;
  protocol._responseHandlers.delete(messageId);
  protocol._cleanupTimeout(messageId);
  protocol._progressHandlers.delete(messageId);
  handler(message);
  return true;
}
