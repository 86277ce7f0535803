// What CEL's values mean to cel-js, for the fast path of cel-fast.ts: which JS values it takes as maps, lists and
// scalars, how it reads a field, counts a size, compares and tests membership. Each answers UNSURE where cel-js
// would raise an error or where the answer depends on more than these rules cover.
import { UNSURE, type Unsure } from './cel-fast-unsure.js';

type CelMap = Record<string, unknown>;

/** cel-js's test for a map: an object whose constructor is Object or none (Map is left to cel-js). */
export function isMap(value: unknown): value is CelMap {
  if (typeof value !== 'object' || value === null) return false;
  const made: unknown = (value as { constructor?: unknown }).constructor;
  return made === Object || made === undefined;
}

export const isList = (value: unknown): value is unknown[] =>
  Array.isArray(value) && value.constructor === Array;

export const isScalar = (value: unknown): boolean =>
  value === null ||
  typeof value === 'string' ||
  typeof value === 'number' ||
  typeof value === 'bigint' ||
  typeof value === 'boolean';

/** A value this path knows how cel-js treats; anything else (undefined, a function, a Date) is cel-js's to judge. */
export const isValue = (value: unknown): boolean => isScalar(value) || isList(value) || isMap(value);

/**
 * Would cel-js's deep typing of a list or map get through? It types a value by its first element, all the way
 * down, and throws on an element it does not know; a cycle would recurse for ever, so a long chain is UNSURE.
 */
function deepTyped(value: unknown): boolean {
  for (let depth = 0; depth < 64; depth++) {
    let first: unknown;
    if (isList(value)) {
      first = value[0];
      if (first === undefined) return true;
    } else if (isMap(value)) {
      let key: string | undefined;
      for (key in value) break;
      if (key === undefined) return true;
      first = value[key];
    } else return true;
    if (!isValue(first)) return false;
    value = first;
  }
  return false;
}

/** `a.b` and `a['b']` on a map: the own field, or UNSURE where cel-js says "No such key" or rejects the value. */
export function field(map: unknown, key: unknown): unknown {
  if (typeof key !== 'string' || !isMap(map) || !Object.hasOwn(map, key)) return UNSURE;
  const value = map[key];
  return isValue(value) ? value : UNSURE;
}

const SURROGATE = /[\ud800-\udfff]/;

/** cel-js's size of a string: code points, a lone surrogate counting as one. */
function codePoints(text: string): number {
  if (!SURROGATE.test(text)) return text.length;
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/** `size(x)` and `x.size()`: an int (a BigInt, as cel-js's). */
export function sizeOf(value: unknown): unknown {
  const count = sizeCount(value);
  return count === UNSURE ? UNSURE : BigInt(count);
}

/** The size as a plain number (for a comparison with an int literal, which needs no BigInt), or UNSURE. */
export function sizeCount(value: unknown): number | Unsure {
  if (typeof value === 'string') return codePoints(value);
  if (!deepTyped(value)) return UNSURE;
  if (isList(value)) return value.length;
  if (isMap(value)) return Object.keys(value).length;
  return UNSURE;
}

const isNumber = (a: unknown, b: unknown): boolean =>
  (typeof a === 'bigint' && typeof b === 'number') || (typeof a === 'number' && typeof b === 'bigint');

/** CEL `==`: same-typed scalars by identity, int and double by value, other scalars never equal. */
export function equals(a: unknown, b: unknown): boolean | Unsure {
  if (isScalar(a) && isScalar(b)) {
    if (typeof a === typeof b) return a === b;
    // A BigInt against a double by value (loose ==), as cel-js's `dyn<int> == double` does.
    return isNumber(a, b) ? a == b : false;
  }
  // A scalar is never equal to a list or map; two lists or maps compare deeply: cel-js's to do.
  if (
    isScalar(a)
      ? (isList(b) || isMap(b)) && deepTyped(b)
      : isScalar(b) && (isList(a) || isMap(a)) && deepTyped(a)
  )
    return false;
  return UNSURE;
}

/** The pairs cel-js orders: same-typed bool, int, double, string, and int against double. */
export function ordered(a: unknown, b: unknown): boolean {
  const type = typeof a;
  if (type !== typeof b) return isNumber(a, b);
  return type === 'string' || type === 'number' || type === 'bigint' || type === 'boolean';
}

/** CEL `in`: a scalar in a list (equal as `==` says), a string key in a map (present and not undefined). */
export function within(item: unknown, collection: unknown): boolean | Unsure {
  const type = typeof item;
  if (isList(collection)) {
    if (type !== 'string' && type !== 'boolean' && type !== 'number' && type !== 'bigint') return UNSURE;
    if (!deepTyped(collection)) return UNSURE;
    for (const element of collection) if (equals(item, element) === true) return true;
    return false;
  }
  if (type !== 'string' || !isMap(collection) || !deepTyped(collection)) return UNSURE;
  return Object.hasOwn(collection, item as string) && collection[item as string] !== undefined;
}

type Compare = (a: never, b: never) => boolean;
export const ORDER: Record<string, Compare> = {
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
};
export const TEXT: Record<string, (a: string, b: string) => boolean> = {
  startsWith: (a, b) => a.startsWith(b),
  endsWith: (a, b) => a.endsWith(b),
  contains: (a, b) => a.includes(b),
};
