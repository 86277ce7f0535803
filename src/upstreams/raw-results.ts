// Large upstream results are passed on as the bytes the upstream sent, not re-serialised. The SDK Client sits
// between the transport that reads the bytes and `forward`, which asks for them: the transport notes them here
// against the parsed object, and `forward` takes them out at once into its Result ({ value, raw }), from where
// the pipeline carries them explicitly. The bytes stay the pieces they arrived in: never copied into one buffer.

/** Below this size re-serialising is cheaper than the bookkeeping. */
const MIN_RAW_BYTES = 4096;
const PREFIX = Buffer.from('{"result":');
const rawTexts = new WeakMap<object, Buffer[]>();

/**
 * Remembers the raw `result` bytes of a response line (one buffer, or the pieces it arrived in, `length` bytes
 * in all) when the line has the shape SDK servers write, `{"result":R,"jsonrpc":"2.0","id":N}`, and parsed
 * to exactly those three keys. Whatever R holds, the gateway's envelope puts its own `jsonrpc` and `id` last,
 * so they win over anything R might repeat.
 */
export function rememberRawResult(
  line: Buffer | Buffer[],
  length: number,
  message: Record<string, unknown>,
): void {
  if (length < MIN_RAW_BYTES || typeof message.id !== 'number') return;
  const result = message.result;
  if (!result || typeof result !== 'object') return;
  let keys = 0;
  for (const _ in message) keys++;
  if (keys !== 3 || message.jsonrpc !== '2.0') return;
  const suffix = `,"jsonrpc":"2.0","id":${message.id}}`;
  const pieces = Array.isArray(line) ? line : [line];
  if (!head(pieces, PREFIX.length).equals(PREFIX)) return;
  if (tail(pieces, suffix.length).toString('latin1') !== suffix) return;
  rawTexts.set(result, trim(pieces, PREFIX.length, suffix.length));
}

/** Takes the upstream's own bytes for this result object, as pieces, if they were kept (once: they are
 * forgotten here, so nothing but the Result that carries them can put them on the wire). */
export function takeRawResult(result: unknown): Buffer[] | undefined {
  if (!result || typeof result !== 'object') return undefined;
  const raw = rawTexts.get(result);
  if (raw) rawTexts.delete(result);
  return raw;
}

/** The first `n` bytes across the pieces (a small copy, only of those bytes). */
function head(pieces: Buffer[], n: number): Buffer {
  if (pieces[0].length >= n) return pieces[0].subarray(0, n);
  const parts: Buffer[] = [];
  for (let i = 0, left = n; i < pieces.length && left > 0; i++) {
    parts.push(pieces[i].subarray(0, left));
    left -= parts[parts.length - 1].length;
  }
  return Buffer.concat(parts);
}

/** The last `n` bytes across the pieces (a small copy, only of those bytes). */
function tail(pieces: Buffer[], n: number): Buffer {
  const last = pieces[pieces.length - 1];
  if (last.length >= n) return last.subarray(last.length - n);
  const parts: Buffer[] = [];
  for (let i = pieces.length - 1, left = n; i >= 0 && left > 0; i--) {
    const piece = pieces[i];
    parts.unshift(piece.subarray(Math.max(0, piece.length - left)));
    left -= parts[0].length;
  }
  return Buffer.concat(parts);
}

/** The pieces without their first `start` and last `end` bytes: views into the same memory, never copies. */
function trim(pieces: Buffer[], start: number, end: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = start;
  for (const piece of pieces) {
    if (skip >= piece.length) {
      skip -= piece.length;
      continue;
    }
    out.push(skip ? piece.subarray(skip) : piece);
    skip = 0;
  }
  for (let drop = end; drop > 0 && out.length;) {
    const last = out[out.length - 1];
    if (last.length <= drop) {
      out.pop();
      drop -= last.length;
    } else {
      out[out.length - 1] = last.subarray(0, last.length - drop);
      drop = 0;
    }
  }
  return out;
}
