// The secrets prefilter against its reference: the rules' anchors joined into one regex (what it replaced). Over
// random texts built from anchor matches, their fragments, ASCII, JSON escapes and multibyte characters, as text
// and as UTF-8 bytes split at random points, it says "maybe" exactly where that regex matches: never "no" where
// a rule could match, and no more "maybe"s than before.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesMayHoldSecret, mayHoldSecret } from '../../src/policy/secrets/detect.js';
import { probesMatch, UNCOVERED } from '../../src/policy/secrets/prefilter.js';
import { SECRET_RULES } from '../../src/policy/secrets/rules.js';

/** Each rule's anchor, and the `\u00XX` escape of printable ASCII that could hide one from the raw bytes. */
const ANCHORS = [...new Set(SECRET_RULES.map((rule) => rule.anchor)), '\\\\u00[2-7][0-9A-Fa-f]'];
const ORACLE = new RegExp(ANCHORS.join('|'));

const anchorMatch = (anchor: string) => fc.stringMatching(new RegExp(`^(?:${anchor})$`));
const anyAnchorMatch = fc.constantFrom(...ANCHORS).chain(anchorMatch);
/** A piece of an anchor match: near misses that pass a probe's first checks but not the whole anchor. */
const fragment = fc
  .tuple(anyAnchorMatch, fc.nat(), fc.nat())
  .map(([match, a, b]) =>
    match.slice(Math.min(a, b) % (match.length + 1), Math.max(a, b) % (match.length + 1)),
  );
const escape = fc.constantFrom(
  '\\n',
  '\\"',
  '\\\\',
  '\\/',
  '\\u0041',
  '\\u00e9',
  '\\u2028',
  '\\u001b',
  '\\t',
);
const multibyte = fc.constantFrom(
  'é',
  'ß',
  'Ā',
  '中',
  '😀',
  '\u00a0',
  '\u2028',
  '\u3000',
  '\ufeff',
  '\u0085',
);
/** The characters the probes look for and check around them, alone. */
const pivot = fc.constantFrom(...'AJGkK_-/:\\u0 "@eyFSsTtR.', '://', ':\\/\\/', 'u00', 'ke', 'KE');
const piece = fc.oneof(
  { arbitrary: anyAnchorMatch, weight: 2 },
  { arbitrary: fragment, weight: 4 },
  { arbitrary: fc.string({ maxLength: 12 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 4 }), weight: 1 },
  { arbitrary: escape, weight: 2 },
  { arbitrary: multibyte, weight: 2 },
  { arbitrary: pivot, weight: 4 },
);
const text = fc.array(piece, { maxLength: 14 }).map((parts) => parts.join(''));

/** Below this length the prefilter runs the combined regex itself: the bytes tests pad past it to test the probes. */
const PAD = ' '.repeat(128);

/** `bytes` cut at the given points (any of them, in any order, repeated or not): pieces a pipe could deliver. */
function split(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const at = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  return [0, ...at].map((start, i) => bytes.subarray(start, i < at.length ? at[i] : bytes.length));
}

describe('the secrets prefilter', () => {
  it('has a probe for every rule anchor (none falls back to the slow regex)', () => {
    expect(UNCOVERED).toEqual([]);
  });

  it('says "maybe" on text exactly where the combined anchor regex matches', () => {
    fc.assert(
      fc.property(text, (t) => {
        const expected = ORACLE.test(t);
        expect(probesMatch(t)).toBe(expected);
        expect(mayHoldSecret(t)).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it('says "maybe" on UTF-8 bytes split anywhere exactly where the regex matches them as latin1', () => {
    fc.assert(
      fc.property(text, fc.array(fc.nat(), { maxLength: 6 }), (t, cuts) => {
        const bytes = Buffer.from(PAD + t);
        expect(bytesMayHoldSecret(split(bytes, cuts))).toBe(ORACLE.test(bytes.toString('latin1')));
      }),
      { numRuns: 3000 },
    );
  });

  it.each(ANCHORS.map((anchor) => [anchor]))(
    'sees every match of %s, in any text and split anywhere',
    (anchor) => {
      fc.assert(
        fc.property(
          text,
          anchorMatch(anchor),
          text,
          fc.array(fc.nat(), { maxLength: 4 }),
          (a, m, b, cuts) => {
            const t = a + m + b;
            expect(probesMatch(t)).toBe(true);
            expect(mayHoldSecret(t)).toBe(true);
            // Inside a JSON string, as the raw bytes of a result carry it.
            const bytes = Buffer.from(JSON.stringify({ pad: PAD, text: t }));
            expect(bytesMayHoldSecret(split(bytes, cuts))).toBe(ORACLE.test(bytes.toString('latin1')));
          },
        ),
        { numRuns: 300 },
      );
    },
  );

  it('still sees every \\u00XX escape in number-heavy text, where it searches for "u00" instead of "00"', () => {
    const numbers = fc.array(fc.constantFrom('00', '100,', '2000', '\\u0000', '\\u001b', 'u00', '0'), {
      minLength: 14,
      maxLength: 40,
    });
    // The escape right after the hit that makes the search give way, or any other: each one is seen.
    for (const gap of ['', ',', ' ', '1'])
      for (let zeros = 0; zeros < 40; zeros++) {
        const t = `${`00${gap}`.repeat(zeros)}00\\u0041`;
        expect(probesMatch(t)).toBe(true);
      }
    fc.assert(
      fc.property(numbers, text, numbers, text, (a, b, c, d) => {
        const t = a.join('') + b + c.join('') + d;
        expect(probesMatch(t)).toBe(ORACLE.test(t));
      }),
      { numRuns: 2000 },
    );
  });

  it('sees an anchor across the 64 KB windows it reads large raw bytes in, whole or in pieces', () => {
    const longest = `"redis:\\/\\/${'u'.repeat(256)}:pw@cache"`;
    const filler = Buffer.alloc(200 * 1024, 'x');
    expect(bytesMayHoldSecret([filler])).toBe(false);
    for (const secret of [longest, 'ghp_', 'PRIVATE KEY'])
      for (const boundary of [64 * 1024, 128 * 1024])
        for (let shift = -secret.length - 2; shift <= 2; shift += 3) {
          const bytes = Buffer.from(filler);
          bytes.write(secret, boundary + shift, 'latin1');
          expect(bytesMayHoldSecret([bytes])).toBe(true);
          expect(bytesMayHoldSecret(split(bytes, [boundary + shift + 3, 1000, 150 * 1024]))).toBe(true);
        }
  });

  it('answers the same for text made of the characters it looks for, where the combined regex takes over', () => {
    for (const unit of ['A', '-', 'ke', 'sk', '/', ':/a', 'yJ', '_'])
      for (const tail of ['', ' ghp_', ' eyJ', ' "db://u:pw@h"', ' sk-ant-']) {
        const t = unit.repeat(Math.ceil(20_000 / unit.length)) + tail;
        expect(probesMatch(t)).toBe(ORACLE.test(t));
        expect(probesMatch(t)).toBe(tail !== '');
      }
  });

  it('sees a URL userinfo of up to 256 characters before its colon, and not one longer (as the regex)', () => {
    for (const slashes of ['//', '\\/\\/', '\\//', '/\\/'])
      for (const length of [0, 1, 255, 256, 257, 300]) {
        const t = `"postgres:${slashes}${'u'.repeat(length)}:pw@db"`;
        expect(probesMatch(t)).toBe(length <= 256);
        expect(ORACLE.test(t)).toBe(length <= 256);
      }
  });

  it('clears ordinary JSON without secrets: code, URLs without a password, uuids, base64', () => {
    const ordinary = JSON.stringify({
      code: 'const url = "https://api.example.com/v1/users"; // see http://localhost/docs\nexport {};',
      id: '3f2b8c1e-9a4d-4e1b-8f6a-2c7d9e0b1a3f',
      created: '2026-01-05T10:00:00.000Z',
      blob: Buffer.from('ordinary text without any credential in it').toString('base64'),
    });
    expect(ordinary.length).toBeGreaterThan(PAD.length);
    expect(mayHoldSecret(ordinary)).toBe(false);
    expect(bytesMayHoldSecret([Buffer.from(ordinary)])).toBe(false);
  });
});
