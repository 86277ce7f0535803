// Finding credentials in text: one prefilter (the rules' anchors, see prefilter.ts) that clears ordinary text and
// raw JSON bytes in a few fast passes, then the precise rules, only where the prefilter hit. No imports beyond the
// rule table and the prefilter, so the log redaction can use it as well as the secrets stage.
import { anchorsMatch, bytesMatch } from './prefilter.js';
import { SECRET_RULES } from './rules.js';

/** One secret in a text: `text.slice(start, end)` is the credential itself. */
export interface Finding {
  readonly kind: string;
  readonly start: number;
  readonly end: number;
}

/**
 * Whether the text may hold a secret (false: it surely does not). It works on decoded text and on raw JSON bytes
 * read as latin1 alike: every anchor is ASCII, UTF-8 never encodes other characters with ASCII bytes, and a
 * `\u00XX` escape of printable ASCII (which could hide an anchor from the bytes) counts as a hit.
 */
export function mayHoldSecret(text: string): boolean {
  return anchorsMatch(text);
}

/**
 * Whether an upstream's raw JSON bytes may hold a secret in any string they encode: what `mayHoldSecret` says of
 * the bytes as one latin1 string (pieces are joined, so an anchor split across two of them is still seen).
 */
export function bytesMayHoldSecret(pieces: readonly Buffer[]): boolean {
  return bytesMatch(pieces);
}

/** The secrets in `text`, in order, overlapping findings merged (the first one's kind names the merge). */
export function findSecrets(text: string): Finding[] {
  if (!anchorsMatch(text)) return [];
  const found: Finding[] = [];
  for (const rule of SECRET_RULES) {
    const { pattern, group = 0 } = rule;
    pattern.lastIndex = 0;
    for (let match = pattern.exec(text); match; match = pattern.exec(text)) {
      const secret = match[group];
      if (secret === undefined || (rule.real && !rule.real(secret))) continue;
      const matchEnd = match.index + match[0].length;
      if (rule.extend) {
        const end = rule.extend(text, matchEnd);
        found.push({ kind: rule.kind, start: match.index, end });
        pattern.lastIndex = Math.max(pattern.lastIndex, end);
      } else {
        // A secret group is the last part of its pattern (only lookaheads follow), so it ends where the match does.
        found.push({ kind: rule.kind, start: matchEnd - secret.length, end: matchEnd });
      }
    }
  }
  if (found.length < 2) return found;
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Finding[] = [found[0]];
  for (let i = 1; i < found.length; i++) {
    const last = merged[merged.length - 1];
    const next = found[i];
    if (next.start < last.end) {
      if (next.end > last.end) merged[merged.length - 1] = { ...last, end: next.end };
    } else merged.push(next);
  }
  return merged;
}

/** `text` with each secret replaced by `label(kind)`, and the kinds found (in order, repeated per secret). */
export function replaceSecrets(
  text: string,
  label: (kind: string) => string,
): { readonly text: string; readonly kinds: readonly string[] } {
  const found = findSecrets(text);
  if (found.length === 0) return { text, kinds: [] };
  let out = '';
  let at = 0;
  for (const { kind, start, end } of found) {
    out += text.slice(at, start) + label(kind);
    at = end;
  }
  return { text: out + text.slice(at), kinds: found.map((f) => f.kind) };
}
