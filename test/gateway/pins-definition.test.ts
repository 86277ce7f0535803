// The canonical form a pin hashes: the same definition hashes the same whatever the order of its keys, and any
// change to a field that counts (a description, a schema leaf, an annotation) changes the hash; fields that do not
// count (`_meta`, `icons`) do not. Properties over generated definitions (fast-check).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson,
  definitionHash,
  definitionOf,
  mergePins,
  pinsFromJson,
  pinsToJson,
  type PinRecord,
} from '../../src/gateway/stores/pins-definition.js';

/** The same value with every object's keys in a shuffled order (a seed per object). */
function shuffled(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v, i) => shuffled(v, seed + i));
  if (value && typeof value === 'object') {
    const entries = Object.entries(value);
    // A deterministic shuffle: sort by a hash of key and seed.
    const order = (key: string) =>
      [...key].reduce((h, c) => (h * 31 + c.charCodeAt(0) + seed) % 1_000_003, seed);
    entries.sort(([a], [b]) => order(a) - order(b));
    return Object.fromEntries(entries.map(([k, v]) => [k, shuffled(v, seed + 1)]));
  }
  return value;
}

const json = fc.jsonValue({ maxDepth: 4 }).filter((v) => v !== null);
const definition = fc.record(
  {
    name: fc.string({ minLength: 1 }),
    title: fc.string(),
    description: fc.string(),
    inputSchema: fc.dictionary(fc.string(), json),
    outputSchema: fc.dictionary(fc.string(), json),
    annotations: fc.dictionary(fc.string(), fc.oneof(fc.boolean(), fc.string())),
  },
  { requiredKeys: ['name', 'inputSchema'] },
);

/** Every path to a leaf (a string, number or boolean), so a property can change exactly one. */
function leafPaths(value: unknown, at: string[] = []): string[][] {
  if (value && typeof value === 'object')
    return Object.entries(value).flatMap(([k, v]) => leafPaths(v, [...at, k]));
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? [at] : [];
}

function changedAt(value: any, path: string[]): any {
  const copy = structuredClone(value);
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key];
  const last = path.at(-1)!;
  const old = node[last];
  node[last] = typeof old === 'string' ? `${old}!` : typeof old === 'number' ? (old === 1 ? 2 : 1) : !old;
  return copy;
}

describe('the canonical definition hash', () => {
  it('is stable under key order at every depth', () => {
    fc.assert(
      fc.property(definition, fc.integer({ min: 0, max: 1000 }), (def, seed) => {
        const item = { ...def, name: def.name } as never;
        const reordered = shuffled(def, seed) as never;
        expect(definitionHash(definitionOf(reordered))).toBe(definitionHash(definitionOf(item)));
        expect(canonicalJson(reordered)).toBe(canonicalJson(def));
      }),
    );
  });

  it('changes with any change to a field that counts', () => {
    fc.assert(
      fc.property(
        definition.chain((def) => fc.tuple(fc.constant(def), fc.constantFrom(...leafPaths(def)))),
        ([def, path]) => {
          const before = definitionHash(definitionOf(def as never));
          expect(definitionHash(definitionOf(changedAt(def, path)))).not.toBe(before);
        },
      ),
    );
  });

  it('changes when a counted field appears or goes, and ignores fields that do not count', () => {
    fc.assert(
      fc.property(definition, fc.string(), (def, text) => {
        const before = definitionHash(definitionOf(def as never));
        const { description: _d, ...without } = def;
        const withDescription = { ...without, description: text };
        expect(definitionHash(definitionOf(without as never))).not.toBe(
          definitionHash(definitionOf(withDescription as never)),
        );
        const decorated = { ...def, _meta: { x: text }, icons: [{ src: text }] };
        expect(definitionHash(definitionOf(decorated as never))).toBe(before);
      }),
    );
  });
});

describe('the pins file shape', () => {
  const record = (updated: string, state: PinRecord['state'] = 'pinned'): PinRecord => ({
    state,
    hash: 'a'.repeat(64),
    definition: { name: 'x' },
    firstSeen: '2026-01-01T00:00:00.000Z',
    updated,
  });

  it('round-trips, and a tool named __proto__ stays an ordinary entry', () => {
    const data = new Map([['up', { firstSeen: 't', tools: new Map([['__proto__', record('1')]]) }]]);
    const back = pinsFromJson(pinsToJson(data));
    expect(back.get('up')?.tools.get('__proto__')).toEqual(record('1'));
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });

  it('a merge keeps the record updated later (an approval is not undone by an older quarantine)', () => {
    const stored = new Map([
      ['up', { firstSeen: 't', tools: new Map([['x', record('2026-02-01', 'pinned')]]) }],
    ]);
    const older = new Map([
      ['up', { firstSeen: 't', tools: new Map([['x', record('2026-01-01', 'quarantined')]]) }],
    ]);
    expect(mergePins(stored, older).get('up')?.tools.get('x')?.state).toBe('pinned');
    const newer = new Map([
      ['up', { firstSeen: 't', tools: new Map([['x', record('2026-03-01', 'quarantined')]]) }],
    ]);
    expect(mergePins(stored, newer).get('up')?.tools.get('x')?.state).toBe('quarantined');
  });
});
