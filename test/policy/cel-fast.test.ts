// The `when:` fast path against cel-js itself as the oracle: random expressions in (and out of) the compiled
// subset over random contexts give the same boolean or the same error message as cel-js alone, the closure
// never answers where cel-js would not give that very answer, and the bench's expressions take the fast path.
import { Environment } from '@marcbachmann/cel-js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileFast, UNSURE } from '../../src/policy/cel-fast.js';
import { compileWhen, type CompiledWhen, type WhenContext } from '../../src/policy/cel.js';

/** What an evaluation ends in: a value or an error message. */
function outcome(when: CompiledWhen, context: WhenContext): { value: boolean } | { error: string } {
  try {
    return { value: when.evaluate(context) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

// The same declarations as cel.ts, to get at the syntax tree and run the closure on its own.
const env = new Environment({ limits: { maxAstNodes: 2000, maxDepth: 64 } });
for (const name of ['principal', 'args']) env.registerVariable(name, 'map');
for (const name of ['method', 'name', 'upstream']) env.registerVariable(name, 'string');

// --- Expressions: a grammar over the subset, with some of what lies outside it ---
// Few keys and few, dense values on both sides, so that lookups hit and comparisons meet their edge cases
// (an int against an equal double, a surrogate pair's size, a key whose value is undefined).
// An own `constructor` makes an object no map to cel-js: seldom, or few contexts would be maps at all.
const key = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('a', 'b', 'text', 'groups') },
  { weight: 1, arbitrary: fc.constant('constructor') },
);
const literal = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom('0', '1', '2', '3', '-1', '1.5', '3.0', "'a'", "'😀'", "''", 'true', 'null'),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '9007199254740993',
      '-9223372036854775808',
      '1e300',
      "'\\U0001F600'",
      "'é'",
      'false',
    ),
  },
);
const path = fc.oneof(
  key.map((k) => `args.${k}`),
  fc.tuple(key, key).map(([k, j]) => `args.${k}.${j}`),
  key.map((k) => `args['${k}']`),
  key.map((k) => `principal.${k}`),
  fc.constantFrom('principal.groups', 'name', 'method', 'upstream', 'args', 'principal'),
);
const presence = fc.oneof(
  key.map((k) => `has(args.${k})`),
  fc.tuple(key, key).map(([k, j]) => `has(args.${k}.${j})`),
  key.map((k) => `has(principal.${k})`),
);
const comparison = fc.constantFrom('==', '!=', '<', '<=', '>', '>=', 'in');
const textTest = fc.constantFrom('startsWith', 'endsWith', 'contains');

// Comparisons weigh most; at the depth limit each rule takes its first, plainest choice.
const depth = { maxDepth: 4, depthIdentifier: 'cel' } as const;
const { bool } = fc.letrec<{ value: string; bool: string }>((tie) => ({
  value: fc.oneof(
    depth,
    { weight: 4, arbitrary: fc.oneof(literal, path) },
    { weight: 3, arbitrary: tie('value').map((v) => `size(${v})`) },
    { weight: 1, arbitrary: tie('value').map((v) => `${v}.size()`) },
    { weight: 1, arbitrary: tie('value').map((v) => `-${v}`) },
    {
      weight: 2,
      arbitrary: fc.array(tie('value'), { maxLength: 3 }).map((items) => `[${items.join(', ')}]`),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(tie('bool'), tie('value'), tie('value')).map(([c, a, b]) => `(${c} ? ${a} : ${b})`),
    },
    // Outside the subset: no closure, cel-js alone.
    {
      weight: 1,
      arbitrary: fc.oneof(
        tie('value').map((v) => `int(${v})`),
        tie('value').map((v) => `{'a': ${v}}.a`),
        tie('value').map((v) => `(${v} + 1)`),
      ),
    },
  ),
  bool: fc.oneof(
    depth,
    {
      weight: 8,
      arbitrary: fc.tuple(tie('value'), comparison, tie('value')).map(([a, op, b]) => `${a} ${op} ${b}`),
    },
    { weight: 2, arbitrary: presence },
    { weight: 1, arbitrary: tie('bool').map((b) => `!${b}`) },
    { weight: 2, arbitrary: fc.tuple(tie('bool'), tie('bool')).map(([a, b]) => `(${a} && ${b})`) },
    { weight: 2, arbitrary: fc.tuple(tie('bool'), tie('bool')).map(([a, b]) => `(${a} || ${b})`) },
    {
      weight: 1,
      arbitrary: fc.tuple(tie('bool'), tie('bool'), tie('bool')).map(([c, a, b]) => `(${c} ? ${a} : ${b})`),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(tie('value'), textTest, tie('value')).map(([a, fn, b]) => `${a}.${fn}(${b})`),
    },
    { weight: 1, arbitrary: path },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        "name.matches('^a')",
        'args.groups.exists(g, g == 1)',
        'type(args.a) == double',
      ),
    },
  ),
}));

// --- Contexts: JSON-like values with the odd ones cel-js rejects ---
const scalar = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.constantFrom(0, 1, 2, 3, -1, 1.5, 3n, 1n, 'a', '😀', '', 'é', '\ud83d', true, null),
  },
  { weight: 1, arbitrary: fc.constantFrom(-0, 10010, 10011, 2 ** 53 + 2, 2n ** 64n, 1e300, NaN, Infinity) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }) },
  { weight: 1, arbitrary: fc.oneof(fc.double(), fc.integer(), fc.boolean()) },
);
const odd = fc.constantFrom<unknown>(
  undefined,
  () => 1,
  new Map([['a', 1]]),
  new Set(['a']),
  new Date(0),
  new Uint8Array(1),
);
const { json: value } = fc.letrec<{ json: unknown }>((tie) => ({
  json: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    { arbitrary: scalar, weight: 8 },
    { arbitrary: odd, weight: 1 },
    { arbitrary: fc.array(tie('json'), { maxLength: 3 }), weight: 2 },
    { arbitrary: fc.dictionary(key, tie('json'), { maxKeys: 3 }), weight: 2 },
  ),
}));
const group = fc.oneof(fc.constantFrom('admins', 'ops', 'a', ''), value);
const principal = fc.oneof(
  { weight: 4, arbitrary: fc.record({ subject: fc.constantFrom('alice', 'a'), groups: fc.array(group) }) },
  { weight: 2, arbitrary: fc.dictionary(key, value, { maxKeys: 3 }) },
  { weight: 1, arbitrary: value },
);
const word = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom('a', 'abc', 'tools/call', 'crm-15', 'bench__echo', '😀') },
  { weight: 1, arbitrary: value },
);
const context = fc.record({
  principal,
  args: fc.oneof(
    { weight: 5, arbitrary: fc.dictionary(key, value, { minKeys: 2, maxKeys: 5 }) },
    { weight: 1, arbitrary: value },
  ),
  method: word,
  name: word,
  upstream: word,
}) as fc.Arbitrary<WhenContext>;

/** Both compiled, or both refused with the same error; undefined for a refused one. */
function compiledPair(source: string): [CompiledWhen, CompiledWhen] | undefined {
  let reference: CompiledWhen;
  try {
    reference = compileWhen(source, { fast: false });
  } catch (error) {
    expect(() => compileWhen(source)).toThrow((error as Error).message);
    return undefined;
  }
  return [compileWhen(source), reference];
}

describe('the fast path against cel-js', () => {
  it('gives the same boolean or the same error as cel-js alone', () => {
    fc.assert(
      fc.property(bool, fc.array(context, { minLength: 1, maxLength: 4 }), (source, contexts) => {
        const pair = compiledPair(source);
        if (!pair) return;
        for (const ctx of contexts) expect(outcome(pair[0], ctx)).toEqual(outcome(pair[1], ctx));
      }),
      { numRuns: 3000 },
    );
  });

  it('answers only with the value cel-js gives, and answers most of the time cel-js gives a boolean', () => {
    let booleans = 0;
    let answered = 0;
    fc.assert(
      fc.property(bool, context, (source, ctx) => {
        const parsed = env.parse(source);
        if (!parsed.check().valid) return;
        const fast = compileFast(parsed.ast);
        if (!fast) return;
        const vars = ctx as unknown as Record<string, unknown>;
        const answer = fast(vars);
        let expected: unknown;
        try {
          expected = parsed(vars);
        } catch (error) {
          expect({ answer, error }).toEqual({ answer: UNSURE, error });
          return;
        }
        if (typeof expected === 'boolean') booleans++;
        if (answer === UNSURE) return;
        answered++;
        expect(answer).toBe(expected);
      }),
      { numRuns: 3000 },
    );
    // The property above means little if the closure seldom answers: it must where cel-js gives a boolean.
    expect(booleans).toBeGreaterThan(150);
    expect(answered / booleans).toBeGreaterThan(0.8);
  });
});

describe('the expressions the secured bench evaluates on every call', () => {
  const bench = [
    'has(args.text) && size(args.text) > 10010',
    "upstream == 'crm-15' && !('admins' in principal.groups)",
  ];
  const base = {
    principal: { subject: 'bench', groups: ['bench'], scopes: [], via: 'apiKey' },
    method: 'tools/call',
  };
  const contexts: WhenContext[] = [
    { ...base, name: 'bench__echo', upstream: 'bench', args: { text: 'e'.repeat(100) } },
    { ...base, name: 'bench__echo', upstream: 'crm-15', args: { text: 'e'.repeat(10_011) } },
    { ...base, name: 'bench__echo', upstream: 'crm-15', args: {} },
    {
      ...base,
      principal: { ...base.principal, groups: ['admins'] },
      name: 'x',
      upstream: 'crm-15',
      args: {},
    },
  ];

  it.each(bench)('%s takes the fast path and answers as cel-js does', (source) => {
    const when = compileWhen(source);
    expect(when.fast).toBe(true);
    const reference = compileWhen(source, { fast: false });
    expect(reference.fast).toBe(false);
    for (const ctx of contexts) expect(outcome(when, ctx)).toEqual(outcome(reference, ctx));
    expect(contexts.map((ctx) => when.evaluate(ctx))).toEqual(
      source.startsWith('has') ? [false, true, false, false] : [false, true, true, false],
    );
  });

  it('leaves what is outside the subset to cel-js', () => {
    for (const source of [
      "name.matches('^files__')",
      "principal.groups.exists(g, g == 'a')",
      'has(args.depth) && int(args.depth) > 2',
      "principal.subject + '@' + upstream == 'alice@files'",
      "{'a': 1}.a == 1",
    ])
      expect(compileWhen(source).fast, source).toBe(false);
  });
});

describe('cases at the edge of the subset', () => {
  const fn = () => 1;
  const plain = {
    principal: { subject: 'alice', groups: ['ops'] },
    method: 'tools/call',
    name: 'n',
    upstream: 'u',
  };
  // Each: the source, its args, and cel-js's answer (a boolean or a piece of its error message).
  const rows: [string, Record<string, unknown>, boolean | RegExp][] = [
    ['size(args.a) == 1', { a: '😀' }, true],
    ['size(args.a) == 3', { a: 'x\ude00y' }, true],
    ['args.a == 3 && args.a < 3.5 && args.b > 2', { a: 3, b: 3n }, true],
    ['args.a != args.a', { a: NaN }, true],
    ["'a' in args.m", { m: { b: 1, a: undefined } }, false],
    ["'x' in [args.b, args.a]", { a: fn, b: 'x' }, /Unsupported type: function/],
    ['size([args.b, args.a]) == 2', { a: fn, b: 'x' }, /Unsupported type: function/],
    ['size([args.b, args.a]) == 2', { a: new Date(0), b: 'x' }, true],
    ['size(args.m) == 1', { m: { a: undefined } }, /Unsupported type: undefined/],
    ['args.missing && false', {}, false],
    ['args.missing && true', {}, /No such key: missing/],
    ["args.s || true && 'a' in args.l", { s: 'x', l: ['a'] }, true],
    ['false || args.s', { s: 'x' }, /Logical operator requires bool operands/],
    ['has(args.a.b)', { a: 'text' }, false],
    ['has(args.a.b)', { a: [1] }, false],
    ['has(args.x.b)', {}, /No such key: x/],
    ['has(args.a)', { constructor: 'x', a: 1 }, /Unsupported type: object/],
    ['1 in args.m', { m: { '1': 2 } }, true],
    ['-args.a < 0', { a: 3n }, true],
    ["args.a == 'x'", { a: [fn] }, /Unsupported type: function/],
    ["args['a'] == args.a", Object.assign(Object.create(null) as object, { a: 'x' }), true],
  ];

  it.each(rows)('%s with %o', (source, args, expected) => {
    const ctx = { ...plain, args };
    const got = outcome(compileWhen(source), ctx);
    expect(got).toEqual(outcome(compileWhen(source, { fast: false }), ctx));
    if (typeof expected === 'boolean') expect(got).toEqual({ value: expected });
    else expect('error' in got && got.error).toMatch(expected);
  });
});
