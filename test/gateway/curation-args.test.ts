// Tool curation as pure functions: the published copy of a curated tool (the upstream's cached item is never
// touched) and the arguments a call sends upstream, with a property over random argument objects, keys such as
// `__proto__` and `constructor` included: hidden keys never pass, fixed values always do, the rest is unchanged,
// and the client's object is never changed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileCuration, curatedArgs, curatedItem } from '../../src/gateway/catalog/curation.js';
import type { CatalogItem } from '../../src/upstreams/catalog.js';

/** Freezes a value and everything in it: a function that tried to change it would throw (ESM is strict). */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as any)[key]);
  }
  return value;
}

/** An object built as JSON.parse builds it from the wire: `__proto__` becomes an own key, not the prototype. */
const fromEntries = (entries: readonly (readonly [string, unknown])[]) =>
  JSON.parse(`{${entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`);

const ITEM: CatalogItem = deepFreeze({
  name: 'find_customer',
  description: 'Finds a customer',
  annotations: { readOnlyHint: true },
  inputSchema: {
    type: 'object',
    properties: fromEntries([
      ['query', { type: 'string' }],
      ['tenant', { type: 'string' }],
      ['__proto__', { type: 'object' }],
      ['debug', { type: 'boolean' }],
    ]),
    required: ['query', 'tenant'],
    additionalProperties: false,
  },
});

const only = (tools: Parameters<typeof compileCuration>[0]) => compileCuration(tools)!.get('find_customer')!;

describe('curatedItem', () => {
  it('copies the item with the new name, description and schema, leaving the cached item as it was', () => {
    const before = JSON.stringify(ITEM);
    const item = curatedItem(
      ITEM,
      'crm__lookup',
      only({
        rename: { find_customer: 'lookup' },
        describe: { find_customer: 'Looks up' },
        hideArgs: { find_customer: ['debug', '__proto__'] },
        fixArgs: { find_customer: { tenant: 'acme' } },
      }),
    );
    expect(item).toEqual({
      name: 'crm__lookup',
      description: 'Looks up',
      annotations: { readOnlyHint: true },
      inputSchema: {
        type: 'object',
        properties: { query: { type: 'string' } },
        required: ['query'],
        additionalProperties: false,
      },
    });
    expect(Object.keys((item.inputSchema as any).properties)).toEqual(['query']);
    expect(JSON.stringify(ITEM)).toBe(before);
  });

  it('leaves out `required` when every required argument is hidden, and keeps an own `__proto__` argument', () => {
    const item = curatedItem(ITEM, 'x', only({ hideArgs: { find_customer: ['query', 'tenant'] } }));
    const schema = item.inputSchema as any;
    expect('required' in schema).toBe(false);
    expect(Object.keys(schema.properties)).toEqual(['__proto__', 'debug']);
    expect(Object.getPrototypeOf(schema.properties)).toBe(Object.prototype);
  });

  it('passes a schema it cannot read through, and an uncurated item as it is', () => {
    const odd = deepFreeze({ name: 'find_customer', inputSchema: 'not a schema' });
    expect(curatedItem(odd, 'x', only({ hideArgs: { find_customer: ['a'] } })).inputSchema).toBe(
      'not a schema',
    );
    expect(curatedItem(ITEM, 'find_customer', undefined)).toBe(ITEM);
    expect(curatedItem(ITEM, 'crm__find_customer', undefined)).toEqual({
      ...ITEM,
      name: 'crm__find_customer',
    });
  });
});

describe('compileCuration', () => {
  it('curates nothing for a block with allow/deny alone, and finds no curation for inherited names', () => {
    expect(compileCuration(undefined)).toBeUndefined();
    expect(compileCuration({ allow: ['*'] })).toBeUndefined();
    const compiled = compileCuration({ describe: { find_customer: 'x' } })!;
    expect(compiled.get('constructor')).toBeUndefined();
    expect(compiled.get('find_customer')).toEqual({ description: 'x', rename: undefined });
  });

  it('gives call-time work only to tools that hide or fix arguments', () => {
    const compiled = compileCuration({
      rename: { a: 'b' },
      hideArgs: { c: ['x'] },
      fixArgs: { d: { y: 1 } },
    })!;
    expect(compiled.get('a')!.args).toBeUndefined();
    expect([...compiled.get('c')!.args!.drop]).toEqual(['x']);
    expect(compiled.get('d')!.args).toEqual({ drop: new Set(['y']), fixed: [['y', 1]] });
  });
});

describe('curatedArgs', () => {
  const curation = only({
    hideArgs: { find_customer: ['debug'] },
    fixArgs: { find_customer: { tenant: 'acme' } },
  });

  it('drops hidden arguments and sets fixed ones over the client’s, in a new object', () => {
    const sent = deepFreeze({ query: 'q', debug: true, tenant: 'evil' });
    expect(curatedArgs(sent, curation.args!)).toEqual({ query: 'q', tenant: 'acme' });
  });

  it('sets fixed arguments when none were sent; with nothing fixed, none stay none', () => {
    expect(curatedArgs(undefined, curation.args!)).toEqual({ tenant: 'acme' });
    expect(curatedArgs(undefined, only({ hideArgs: { find_customer: ['debug'] } }).args!)).toBeUndefined();
  });

  const KEY = fc.oneof(
    fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'tenant', 'debug', 'query'),
    fc.string({ maxLength: 6 }),
  );
  const entries = fc.uniqueArray(fc.tuple(KEY, fc.jsonValue({ maxDepth: 3 })), { selector: ([key]) => key });

  it('never passes a hidden key, always the fixed values, every other key unchanged, the input untouched', () => {
    fc.assert(
      fc.property(
        fc.option(entries, { nil: undefined }),
        fc.uniqueArray(KEY),
        entries,
        (sentEntries, hidden, fixedEntries) => {
          const fixedObject = fromEntries(fixedEntries);
          const compiled = compileCuration({
            ...(hidden.length && { hideArgs: { t: hidden } }),
            fixArgs: { t: fixedObject },
          });
          const args = compiled?.get('t')?.args;
          fc.pre(args !== undefined);
          const sent = sentEntries && deepFreeze(fromEntries(sentEntries));
          const snapshot = sent && JSON.stringify(sent);
          const out = curatedArgs(sent, args!);
          if (sent) expect(JSON.stringify(sent)).toBe(snapshot);
          if (!out) {
            expect(sent === undefined && fixedEntries.length === 0).toBe(true);
            return;
          }
          expect(out).not.toBe(sent);
          expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
          const fixed = new Map(fixedEntries);
          const expectedKeys = new Set([
            ...(sentEntries ?? [])
              .map(([key]) => key)
              .filter((key) => !hidden.includes(key) && !fixed.has(key)),
            ...fixed.keys(),
          ]);
          expect(new Set(Object.keys(out))).toEqual(expectedKeys);
          for (const key of hidden) if (!fixed.has(key)) expect(Object.hasOwn(out, key)).toBe(false);
          for (const key of fixed.keys())
            expect(Object.getOwnPropertyDescriptor(out, key)?.value).toBe(fixedObject[key]);
          for (const key of expectedKeys)
            if (!fixed.has(key)) expect(Object.getOwnPropertyDescriptor(out, key)!.value).toBe(sent![key]);
          // What goes on the wire carries the same keys (an own `__proto__` survives JSON).
          expect(new Set(Object.keys(JSON.parse(JSON.stringify(out))))).toEqual(expectedKeys);
        },
      ),
      { numRuns: 500 },
    );
    expect(({} as any).tenant).toBeUndefined();
  });
});
