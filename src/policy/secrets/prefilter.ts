// The secrets prefilter: whether a text (or raw JSON bytes read as latin1) may hold a secret, answered by a few
// indexOf passes over characters that are rare in ordinary text instead of one regex alternation (which tries
// every alternative at every position: ~2-7 ns a character). Says "maybe" exactly where the rules' anchors match.
import { SECRET_RULES } from './rules.js';

/** A serialiser that escapes printable ASCII as `\u00XX` could hide an anchor from the raw bytes: such an escape counts. */
export const ESCAPE_ANCHOR = '\\\\u00[2-7][0-9A-Fa-f]';

/**
 * One indexOf pass. Every match of each anchor in `covers` holds `needle` at a place where `confirm`, sticky there,
 * matches (lookbehind for the part before it), and `confirm` matches nowhere else: so the probes say exactly what
 * the anchors' regex says. (Two probes share an anchor whose letters may be either case, or that has two forms.)
 * `near` and `plausible` are cheap necessary conditions checked first, so the regex runs rarely: each `near`
 * [offset, characters] has the character at `at + offset` among them.
 */
interface Probe {
  readonly needle: string;
  readonly near: readonly (readonly [offset: number, chars: string])[];
  readonly plausible?: (text: string, at: number) => boolean;
  /** A needle that holds `needle` `before` characters into it wherever an anchor does: see DENSE. */
  readonly dense?: { readonly needle: string; readonly before: number };
  readonly confirm: RegExp;
  readonly covers: readonly string[];
}

const SECRET = '[Ss][Ee][Cc][Rr][Ee][Tt]_?[Aa][Cc][Cc][Ee][Ss][Ss]_?';
const GITLAB = 'gl(?:pat|dt|ptt|rt|cbt|ft|soat|oas|imt|agent)';

// Anchors exactly as rules.ts spells them: a rule whose anchor is not listed here falls back to the regex below.
const PRIVATE_KEY = 'PRIVATE KEY';
const AWS_ID = 'A(?:KIA|SIA|BIA|CCA|3T)';
const AWS_SECRET = `${SECRET}[Kk][Ee][Yy]`;
const AZURE = 'AccountKey=|SharedAccessKey=';
const GITLAB_ANCHOR = `${GITLAB}-|GR1348941`;
const URL_ANCHOR = ':\\\\?/\\\\?/[^\\s/@"]{0,256}:';

/** Where a URL's userinfo stops in the anchor (ASCII whitespace, `/`, `@`, `"`) or counts (`:`, non-ASCII). */
const USERINFO = new Uint8Array(128);
for (const char of '\t\n\v\f\r /@"') USERINFO[char.charCodeAt(0)] = 1;
USERINFO[0x3a] = 2;

/** Whether `:` follows within 256 characters of `from`, before a character that ends the anchor's userinfo. */
function colonAhead(text: string, from: number): boolean {
  const end = Math.min(text.length, from + 257);
  for (let i = from; i < end; i++) {
    const code = text.charCodeAt(i);
    // Past ASCII, `\s` has more members (U+00A0, U+2028...): the regex decides.
    if (code > 127) return true;
    const kind = USERINFO[code];
    if (kind !== 0) return kind === 2;
  }
  return false;
}

export const PROBES: readonly Probe[] = [
  {
    needle: 'A',
    near: [
      [1, 'KSBC3IcT'],
      [2, 'ICTzcE'],
    ],
    confirm: /A(?:KIA|SIA|BIA|CCA|3T|Iza|ccountKey=)|(?<=PRIV)ATE KEY|(?<=Shared)AccessKey=/y,
    covers: [PRIVATE_KEY, AWS_ID, 'AIza', AZURE],
  },
  {
    needle: 'J',
    near: [
      [-1, 'yF'],
      [-2, 'ek'],
    ],
    confirm: /(?<=ey|T3BlbkF)J/y,
    covers: ['eyJ', 'T3BlbkFJ'],
  },
  { needle: 'G', near: [[1, 'R.']], confirm: /GR1348941|(?<=S)G\./y, covers: ['SG\\.', GITLAB_ANCHOR] },
  {
    needle: 'k',
    near: [
      [-1, 'sS_or'],
      [1, 'eEs-_'],
    ],
    confirm: new RegExp(
      `(?<=${SECRET})k[Ee][Yy]|(?<=hoo)ks\\.slack\\.com|(?<=s)k-ant-|(?<=[rs])k_(?:live|test|prod)_|(?<=_authTo)ken`,
      'y',
    ),
    covers: [AWS_SECRET, 'hooks\\.slack\\.com', 'sk-ant-', '[rs]k_(?:live|test|prod)_', '_authToken'],
  },
  {
    needle: 'K',
    near: [
      [-1, 'sS_'],
      [1, 'eE'],
    ],
    confirm: new RegExp(`(?<=${SECRET})K[Ee][Yy]`, 'y'),
    covers: [AWS_SECRET],
  },
  {
    needle: '_',
    near: [[-1, 'pousrbm']],
    confirm: /(?<=gh[pousr]|npm)_|(?<=github)_pat_/y,
    covers: ['gh[pousr]_|github_pat_', 'npm_'],
  },
  {
    needle: '-',
    near: [
      [-1, 'tsabpore'],
      [-2, 'adtrbfmnxp'],
    ],
    confirm: new RegExp(`(?<=${GITLAB}|xox[abposre]|xapp)-`, 'y'),
    covers: [GITLAB_ANCHOR, 'xox[abposre]-|xapp-'],
  },
  {
    // `scheme://user:password@`, its slashes maybe escaped (`:\/\/`): the first slash is the needle.
    needle: '/',
    near: [
      [-1, ':\\'],
      [1, '/\\'],
    ],
    plausible: (text, at) => colonAhead(text, text.charCodeAt(at + 1) === 0x2f ? at + 2 : at + 3),
    confirm: /(?<=:\\?)\/\\?\/[^\s/@"]{0,256}:/y,
    covers: [URL_ANCHOR],
  },
  {
    // '0' is rarer than 'u' in prose and code (indexOf stops on a needle's first character, then compares), and
    // far rarer than the backslash of every escaped quote and newline; in numbers and hex, `u00` takes over.
    needle: '00',
    dense: { needle: 'u00', before: 1 },
    near: [
      [-1, 'u'],
      [2, '234567'],
    ],
    confirm: /(?<=\\u)00[2-7][0-9A-Fa-f]/y,
    covers: [ESCAPE_ANCHOR],
  },
];

/** A probe's `near` as lookup tables over character codes (all ASCII), two of them (the one repeated if alone). */
const CHECKS = PROBES.map((probe) => {
  const tables = probe.near.map(([offset, chars]) => {
    const table = new Uint8Array(128);
    for (const char of chars) table[char.charCodeAt(0)] = 1;
    return { offset, table };
  });
  return { first: tables[0], second: tables[tables.length - 1] };
});

const covered = new Set(PROBES.flatMap((probe) => probe.covers));
/** Anchors no probe covers (a rule added or changed without one): still seen, by a regex over the whole text. */
export const UNCOVERED = SECRET_RULES.map((rule) => rule.anchor).filter((anchor) => !covered.has(anchor));
const RESIDUAL = UNCOVERED.length ? new RegExp(UNCOVERED.join('|')) : undefined;

/** What the probes replace: every anchor in one regex. Faster below this length, where the passes' calls dominate. */
const COMBINED = new RegExp([...SECRET_RULES.map((rule) => rule.anchor), ESCAPE_ANCHOR].join('|'));
const SHORT = 128;

/** Whether any anchor matches in `text` (a JSON string's value, a log line, raw JSON bytes read as latin1). */
export function anchorsMatch(text: string): boolean {
  return text.length < SHORT ? COMBINED.test(text) : probesMatch(text);
}

/** Raw bytes are read in windows this long (as latin1 strings, small enough for V8's young generation)... */
const WINDOW = 64 * 1024;
/** ...each overlapping the next by this much: more than any anchor match can span (a URL's is at most 262). */
const OVERLAP = 512;

/**
 * `anchorsMatch` of the bytes as one latin1 string, without making that string: over 128 KB it would be a large
 * object, and a 150 KB result measured twice as slow to convert and scan whole as in windows.
 */
export function bytesMatch(pieces: readonly Buffer[]): boolean {
  let total = 0;
  for (const piece of pieces) total += piece.length;
  for (let start = 0; ; start += WINDOW) {
    const end = Math.min(total, start + WINDOW + OVERLAP);
    if (anchorsMatch(latin1(pieces, start, end))) return true;
    if (end === total) break;
  }
  // An anchor no probe covers may not be bounded: it reads the whole text.
  return RESIDUAL !== undefined && RESIDUAL.test(latin1(pieces, 0, total));
}

/** Bytes `start` to `end` of the pieces as though joined, as a latin1 string. */
function latin1(pieces: readonly Buffer[], start: number, end: number): string {
  if (pieces.length === 1) return pieces[0].toString('latin1', start, end);
  let text = '';
  let offset = 0;
  for (const piece of pieces) {
    const from = Math.max(start - offset, 0);
    const to = Math.min(end - offset, piece.length);
    if (from < to) text += piece.toString('latin1', from, to);
    offset += piece.length;
    if (offset >= end) break;
  }
  return text;
}

/**
 * A probe whose needle is found this many times in the first DENSE * SPACING characters searches the rest of the
 * text for its `dense` needle instead (each indexOf stop costs ~5 ns, each hit handed back to JS ~10-15 ns).
 */
const DENSE = 16;
const SPACING = 512;
/**
 * Past one needle hit per this many characters (a text that is mostly `-`, `/` or one letter: ~15 ns a hit), the
 * combined regex answers instead: at worst the old cost and this budget's, never several times the old cost.
 * (A short text has room for 1,024 hits: its probes cost little whatever it holds.)
 */
const HITS_PER = 8;

/** `anchorsMatch` by the probes alone: the same answer as the combined regex, in a fraction of its time. */
export function probesMatch(text: string): boolean {
  let budget = Math.max(text.length / HITS_PER, 1024);
  for (let p = 0; p < PROBES.length; p++) {
    const { dense, plausible, confirm } = PROBES[p];
    const { first, second } = CHECKS[p];
    let needle = PROBES[p].needle;
    let before = 0;
    let hits = 0;
    for (let found = text.indexOf(needle); found !== -1; found = text.indexOf(needle, found + 1)) {
      if (--budget < 0) return COMBINED.test(text);
      const at = found + before;
      if (dense && before === 0 && ++hits === DENSE && at < DENSE * SPACING) {
        // Every place past `at` is still seen: the next search starts where a dense needle holding it could.
        ({ needle, before } = dense);
        found = at - before;
      }
      // A character code past the table (or NaN, off either end) reads undefined: not near.
      if (first.table[text.charCodeAt(at + first.offset)] !== 1) continue;
      if (second.table[text.charCodeAt(at + second.offset)] !== 1) continue;
      // Past the tables a hit costs several times more: it spends more of the budget.
      budget -= 4;
      if (plausible && !plausible(text, at)) continue;
      confirm.lastIndex = at;
      if (confirm.test(text)) return true;
    }
  }
  return RESIDUAL !== undefined && RESIDUAL.test(text);
}
