// Large upstream results are passed on as the bytes the upstream sent, not re-serialised: the JSON text of a
// result is remembered beside the parsed object, and the gateway splices it into its own response envelope.

/** Below this size re-serialising is cheaper than the bookkeeping. */
const MIN_RAW_BYTES = 4096;
const PREFIX = Buffer.from('{"result":');
const rawTexts = new WeakMap<object, Buffer>();

/**
 * Remembers the raw `result` bytes of a response line when the line has the shape SDK servers write,
 * `{"result":R,"jsonrpc":"2.0","id":N}`, and parsed to exactly those three keys. Whatever R holds, the
 * gateway's envelope puts its own `jsonrpc` and `id` last, so they win over anything R might repeat.
 */
export function rememberRawResult(line: Buffer, message: Record<string, unknown>): void {
  if (line.length < MIN_RAW_BYTES || typeof message.id !== 'number') return;
  const result = message.result;
  if (!result || typeof result !== 'object') return;
  let keys = 0;
  for (const _ in message) keys++;
  if (keys !== 3 || message.jsonrpc !== '2.0') return;
  const suffix = `,"jsonrpc":"2.0","id":${message.id}}`;
  if (!line.subarray(0, PREFIX.length).equals(PREFIX)) return;
  if (line.toString('latin1', line.length - suffix.length) !== suffix) return;
  rawTexts.set(result, line.subarray(PREFIX.length, line.length - suffix.length));
}

/** The upstream's own bytes for this result object, if they were kept and the object is unchanged. */
export function rawResult(result: unknown): Buffer | undefined {
  return result && typeof result === 'object' ? rawTexts.get(result) : undefined;
}
