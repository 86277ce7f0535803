// The audit log's record format, shared by the writer and `audit verify`: one JSON line per record, starting
// with `seq` and `prev` (the previous record's hash) and ending with `hash`, the SHA-256 (or HMAC-SHA256 under
// `hashKey`) of the exact bytes of the line without its `hash` field. Hashing the bytes as written, not a
// re-serialisation, keeps the check independent of how a JSON parser orders keys.
import crypto, { createHash, createHmac } from 'node:crypto';

/** The `prev` of the first record of a chain. */
export const GENESIS = '0'.repeat(64);

/** What ends every sealed line: `,"hash":"<64 hex>"}`. */
const HASH_TAIL = /,"hash":"([0-9a-f]{64})"\}$/;

export type Hasher = (text: string) => string;

/** `crypto.hash` (Node >= 20.12): one call, no Hash object per record (~0.7 µs a record instead of ~2.3 µs). */
const oneShot = (crypto as { hash?: (algorithm: string, data: string, encoding: 'hex') => string }).hash;

export function hasher(key?: string): Hasher {
  if (key !== undefined) return (text) => createHmac('sha256', key).update(text).digest('hex');
  return oneShot
    ? (text) => oneShot('sha256', text, 'hex')
    : (text) => createHash('sha256').update(text).digest('hex');
}

/**
 * What a record's hash is taken of, from the text of its body (a JSON object) after the opening brace: the line
 * with `seq` and `prev` first and no `hash` field.
 */
export function unsealedLine(fields: string, seq: number, prev: string): string {
  return `{"seq":${seq},"prev":"${prev}",${fields}`;
}

/** The sealed line: the unsealed one with `"hash"` as its last field. */
export function sealedLine(unsealed: string, digest: string): string {
  return `${unsealed.slice(0, -1)},"hash":"${digest}"}`;
}

/** The hash a line claims and the one its bytes give; undefined when the line has no hash field at its end. */
export function unseal(line: string, hash: Hasher): { claimed: string; actual: string } | undefined {
  const tail = HASH_TAIL.exec(line);
  if (!tail) return undefined;
  return { claimed: tail[1], actual: hash(`${line.slice(0, tail.index)}}`) };
}
