// Properties of the redaction over random JSON values (fast-check): a secret planted anywhere (a new array item,
// a new field, inside an existing string) is always redacted and always seen by the raw-bytes prefilter,
// redaction never breaks JSON, and a value without secrets comes back as the very same, deep-equal value.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bytesMayHoldSecret } from '../../src/policy/secrets/detect.js';
import { redactValue } from '../../src/policy/secrets/redact-value.js';
import { SAMPLES, type Sample } from '../fixtures/secrets/samples.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A copy of `value` with `text` put at the `pick`-th place there is: a container's new entry or inside a string. */
function plant(value: Json, text: string, pick: number, at: number): Json {
  const root: Json[] = [structuredClone(value)];
  const places: (() => void)[] = [];
  const visit = (holder: Json[] | Record<string, Json>, key: string | number) => {
    const item = (holder as Record<string, Json>)[key];
    if (typeof item === 'string') {
      const cut = at % (item.length + 1);
      places.push(() => {
        (holder as Record<string, Json>)[key] = `${item.slice(0, cut)} ${text} ${item.slice(cut)}`;
      });
    } else if (Array.isArray(item)) {
      places.push(() => item.splice(at % (item.length + 1), 0, text));
      item.forEach((_, i) => visit(item, i));
    } else if (item !== null && typeof item === 'object') {
      places.push(() => Object.defineProperty(item, `planted${pick}`, { value: text, enumerable: true }));
      for (const name of Object.keys(item)) visit(item, name);
    }
  };
  visit(root, 0);
  // A number, boolean or null has no place inside it: the secret goes beside it.
  if (places.length === 0) return [value, text];
  places[pick % places.length]();
  return root[0];
}

const sample = fc.constantFrom(...SAMPLES);
const json = fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>;

describe('redaction over random JSON values', () => {
  it('a planted secret is always redacted, seen in the raw bytes, and the result is still JSON', () => {
    fc.assert(
      fc.property(json, sample, fc.nat(), fc.nat(), (value, s: Sample, pick, at) => {
        const planted = plant(value, s.text, pick, at);
        const text = JSON.stringify(planted);
        // The container was a string at the top: the secret is inside it.
        expect(bytesMayHoldSecret([Buffer.from(text)])).toBe(true);
        const { value: out, kinds } = redactValue(planted);
        expect(kinds).toContain(s.kind);
        const serialised = JSON.stringify(out);
        expect(serialised).not.toContain(JSON.stringify(s.secret).slice(1, -1));
        expect(serialised).toContain(`[REDACTED:${s.kind}]`);
        expect(JSON.stringify(JSON.parse(serialised))).toBe(serialised);
        // The input itself is never changed (a value that has raw bytes is frozen while stages see it).
        expect(JSON.stringify(planted)).toBe(text);
      }),
      { numRuns: 300 },
    );
  });

  it('a value without secrets comes back as the same, deep-equal value', () => {
    fc.assert(
      fc.property(json, (value) => {
        const before = JSON.stringify(value);
        const { value: out, kinds } = redactValue(value);
        expect(kinds).toEqual([]);
        expect(out).toBe(value);
        expect(JSON.stringify(out)).toBe(before);
      }),
      { numRuns: 300 },
    );
  });
});
