// The per-call fast paths of the policy stages give the answers of the slow ones: the chain turns a stage's
// synchronous throw into a rejection, guard patterns answer as RE2 does, cheap guards answer without a promise,
// and the rules' answers remembered per target object stay per view.
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { describe, expect, it } from 'vitest';
import { compileChain } from '../../src/policy/compose.js';
import { compileArgumentCheck, compileGuardPattern } from '../../src/policy/guards/check.js';
import { argumentGuardSchema } from '../../src/policy/guards/schema.js';
import type { Call, CallLog, Next, Policy, Result } from '../../src/policy/types.js';
import { alice, bob, eve, policyOf, sqlQuery, target } from './rules-fixtures.js';

const quiet: CallLog = { debug() {}, info() {}, warn() {}, error() {} };
const call: Call = {
  method: 'tools/call',
  params: { name: 'query', arguments: {} },
  target: sqlQuery,
  principal: alice,
  signal: new AbortController().signal,
  log: quiet,
  askClient: async () => ({}),
};

describe('the chain with stages that are not async functions', () => {
  it('a stage that throws synchronously rejects the chain with that error; the terminal never runs', async () => {
    const thrown = new Error('a bug before any await');
    let ran = false;
    const terminal: Next = async () => ((ran = true), { value: 1 });
    const sync: Policy = {
      name: 'sync',
      around: () => {
        throw thrown;
      },
    };
    const chain = compileChain([sync], 'tools/call', terminal);
    let answer: Promise<Result> | undefined;
    expect(() => (answer = chain(call))).not.toThrow();
    await expect(answer).rejects.toBe(thrown);
    expect(ran).toBe(false);
  });

  it('a terminal that throws synchronously reaches the stage as a rejection', async () => {
    const thrown = new Error('terminal');
    const seen: unknown[] = [];
    const stage: Policy = {
      name: 'catcher',
      around: (c, next) => next(c).catch((error: unknown) => (seen.push(error), { value: 'caught' })),
    };
    const chain = compileChain([stage], 'tools/call', () => {
      throw thrown;
    });
    expect(await chain(call)).toEqual({ value: 'caught' });
    expect(seen).toEqual([thrown]);
  });

  it('a stage outside a pass-through stage still gets the raw bytes dropped when it changes the value', async () => {
    const raw = [Buffer.from('{"n":1}')];
    const terminal: Next = async () => ({ value: { n: 1 }, raw });
    const passOn: Policy = { name: 'pass', around: (c, next) => next(c) };
    const change: Policy = { name: 'change', around: async (c, next) => ({ ...(await next(c)), value: 2 }) };
    expect(await compileChain([change, passOn, passOn], 'tools/call', terminal)(call)).toEqual({ value: 2 });
    const kept = await compileChain([passOn, passOn], 'tools/call', terminal)(call);
    expect(kept.raw).toBe(raw);
    expect(Object.isFrozen(kept.value)).toBe(true);
  });
});

describe('guard patterns', () => {
  const patterns = [
    '^[^\\x00]*$',
    '^[a-z]{2}-[0-9]+$',
    'abc',
    '^abc',
    'abc$',
    '(?m)^b$',
    '(?s)a.c',
    'a.c',
    'x|^y',
    '',
    '\\bword\\b',
    '^\\p{Greek}+$',
    '^$',
  ];
  const values = [
    '',
    'abc',
    'xabc',
    'abcx',
    'a\nb\nc',
    'a\nc',
    'y',
    'zy',
    'ab-12',
    'a word here',
    'αβγ',
    '😀a',
    'a\0b',
  ];

  it.each(patterns)('%j answers as RE2 does for every value', (pattern) => {
    const plain = RE2JS.compile(pattern);
    const fast = compileGuardPattern(pattern);
    for (const value of values) expect([value, fast.test(value)]).toEqual([value, plain.test(value)]);
  });

  it('answers as RE2 does for random text', () => {
    const text = fc.stringMatching(/^[abc\n\0xy😀-]{0,12}$/u);
    fc.assert(
      fc.property(fc.constantFrom(...patterns), text, (pattern, value) => {
        expect(compileGuardPattern(pattern).test(value)).toBe(RE2JS.compile(pattern).test(value));
      }),
    );
  });

  it('a pattern RE2 cannot compile fails with its own text, not the wrapped one', () => {
    expect(() => compileGuardPattern('(?<=a)b')).toThrow(/\(\?<=a\)b/);
    expect(() => compileGuardPattern('(?<=a)b')).not.toThrow(/\.\*\?/);
  });
});

describe('cheap guards', () => {
  const check = (raw: unknown) =>
    compileArgumentCheck(argumentGuardSchema.parse(raw), 'test.guard', { baseDir: '/' });

  it.each([
    [{ maxLength: 3, pattern: '^[a-z]*$' }, 'abc', undefined],
    [{ maxLength: 3 }, 'abcd', 'maxLength'],
    [{ pattern: '^[a-z]*$' }, 'A', 'pattern'],
    [{ enum: ['a'] }, 'b', 'enum'],
    [{ maxItems: 1, pattern: '^a$' }, ['a', 'b'], 'maxItems'],
    [{ maxItems: 2, pattern: '^a$' }, ['a', 'b'], 'pattern'],
  ])('%j on %j answers at once, not with a promise', (guard, value, kind) => {
    const answer = check(guard)(value);
    expect(answer).not.toBeInstanceOf(Promise);
    expect((answer as { kind: string } | undefined)?.kind).toBe(kind);
  });

  it('a guard that asks the file system answers with a promise', async () => {
    const answer = check({ path: { roots: ['/'] } })('relative/path');
    expect(answer).toBeInstanceOf(Promise);
    expect((await answer)?.kind).toBe('path');
  });
});

describe('rules answers remembered per target', () => {
  const policy = policyOf({
    default: 'deny',
    rules: [
      { name: 'analysts', principals: { groups: ['analysts'] }, allow: { tools: ['sql__*'] } },
      { name: 'big', deny: { tools: ['sql__*'] }, when: 'has(args.rows) && args.rows > 10' },
    ],
  });

  it('the same target object gets each principal its own answer, and a copy of it the same answers', () => {
    const copy = target('tool', 'sql', 'sql__query');
    for (const item of [sqlQuery, copy, sqlQuery]) {
      expect(policy.visible(alice, item)).toBe(true);
      expect(policy.visible(bob, item)).toBe(false);
      expect(policy.visible(eve, item)).toBe(false);
    }
  });

  it('the args of each call are judged afresh on the same target object', async () => {
    const forwarded: Next = async () => ({ value: 'forwarded' });
    const withRows = (rows: number): Call => ({ ...call, params: { name: 'query', arguments: { rows } } });
    expect(await policy.around!(withRows(1), forwarded)).toEqual({ value: 'forwarded' });
    await expect(policy.around!(withRows(11), forwarded)).rejects.toMatchObject({ kind: 'forbidden' });
    expect(await policy.around!(withRows(2), forwarded)).toEqual({ value: 'forwarded' });
  });
});
