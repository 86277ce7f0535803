// The Authorization header parser: the RFC 6750 cases by name, then properties over arbitrary headers (it
// never throws, accepts exactly `bearer` in any case + 1*SP + b64token, and returns the token unchanged).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Malformed, parseAuthorization } from '../../src/gateway/front/auth.js';

const cases: [string, string | undefined, string | 'malformed' | undefined][] = [
  ['no header', undefined, undefined],
  ['an empty header', '', undefined],
  ['Bearer and a token', 'Bearer abc.def-ghi_jkl', 'abc.def-ghi_jkl'],
  ['lower-case bearer', 'bearer abc', 'abc'],
  ['upper-case BEARER', 'BEARER abc', 'abc'],
  ['two spaces before the token', 'Bearer  abc', 'abc'],
  ['padding = at the end', 'Bearer abc==', 'abc=='],
  ['Basic credentials', 'Basic dXNlcjpwYXNz', 'malformed'],
  ['Bearer alone', 'Bearer', 'malformed'],
  ['Bearer and a space', 'Bearer ', 'malformed'],
  ['a token with a space inside', 'Bearer abc def', 'malformed'],
  ['a tab instead of a space', 'Bearer\tabc', 'malformed'],
  ['a scheme glued to the token', 'Bearerabc', 'malformed'],
  ['= inside the token', 'Bearer ab=c', 'malformed'],
  ['a comma (two credentials)', 'Bearer abc, Bearer def', 'malformed'],
  ['a DPoP-bound token', 'DPoP abc', 'malformed'],
];

describe('parseAuthorization: named cases', () => {
  for (const [name, header, expected] of cases) {
    it(`${name} -> ${expected ?? 'no credentials'}`, () => {
      const result = parseAuthorization(header);
      if (expected === 'malformed') expect(result).toBeInstanceOf(Malformed);
      else expect(result).toBe(expected);
    });
  }
});

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/'.split('');
const b64token = fc
  .tuple(fc.array(fc.constantFrom(...B64), { minLength: 1, maxLength: 80 }), fc.nat(3))
  .map(([chars, pad]) => chars.join('') + '='.repeat(pad));
const scheme = fc
  .array(fc.boolean(), { minLength: 6, maxLength: 6 })
  .map((upper) => [...'bearer'].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join(''));

describe('parseAuthorization: properties', () => {
  it('returns the token of any well-formed bearer header, whatever the case of the scheme and number of spaces', () => {
    fc.assert(
      fc.property(scheme, fc.integer({ min: 1, max: 5 }), b64token, (s, spaces, token) => {
        expect(parseAuthorization(`${s}${' '.repeat(spaces)}${token}`)).toBe(token);
      }),
    );
  });

  it('never throws, and anything it accepts is a well-formed bearer header whose token it returns unchanged', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string().map((s) => `Bearer ${s}`),
        ),
        (header) => {
          const result = parseAuthorization(header);
          if (typeof result === 'string') {
            expect(header).toMatch(/^bearer +[A-Za-z0-9\-._~+/]+=*$/i);
            expect(header.endsWith(result)).toBe(true);
            expect(result).not.toMatch(/\s/);
          } else if (result === undefined) {
            expect(header).toBe('');
          } else {
            expect(result).toBeInstanceOf(Malformed);
            // The reason never quotes the header.
            if (header.length > 8) expect(result.reason).not.toContain(header);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
