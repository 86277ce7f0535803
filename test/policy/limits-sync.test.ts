// The limits stage without a promise of its own: with windows counted in memory the call reaches `next` before
// `around` returns, refusals read exactly as before, and counters that answer with a promise (Redis) give the
// same outcomes, counted in the same order, with every slot given back.
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { windowCounters } from '../../src/gateway/stores/limiter.js';
import { MemoryWindows } from '../../src/gateway/stores/memory-window.js';
import { compileChain } from '../../src/policy/compose.js';
import { createLimitsPolicy, type RateCounterFactory } from '../../src/policy/limits.js';
import { policySchema } from '../../src/policy/rules-schema.js';
import type { Call, CallLog, Next, Policy, Principal, Result, Target } from '../../src/policy/types.js';
import { alice, bob, target } from './rules-fixtures.js';

const RESULT: Result = { value: 'ok' };
const quiet: CallLog = { debug() {}, info() {}, warn() {}, error() {} };
const sqlQuery = target('tool', 'sql', 'sql__query');
const sqlDrop = target('tool', 'sql', 'sql__drop');
const guide = target('resource', 'docs', 'docs://guide');

function callOf(principal: Principal, to: Target, params?: Record<string, unknown>): Call {
  const method = to.kind === 'resource' ? 'resources/read' : 'tools/call';
  return {
    method,
    params: params ?? (to.kind === 'resource' ? { uri: to.original } : { name: to.original }),
    target: to,
    principal,
    signal: new AbortController().signal,
    log: quiet,
    askClient: async () => ({}),
  };
}

function limitsOf(
  rules: unknown[],
  counters: RateCounterFactory,
  upstreams: Record<string, number> = {},
): Policy {
  const policy = createLimitsPolicy({
    rules: policySchema.parse({ default: 'allow', rules }).rules,
    upstreams: new Map(Object.entries(upstreams)),
    counters,
  });
  if (!policy) throw new Error('expected a limits policy');
  return policy;
}

/** In-memory windows whose answers come as promises, a tick later: how a counter in Redis answers. */
const promised: RateCounterFactory = ({ points, perMs }) => {
  const windows = new MemoryWindows(Math.max(1, Math.ceil(perMs / 1000)) * 1000);
  return {
    consume: async (key) => {
      await new Promise((resolve) => setImmediate(resolve));
      const use = windows.take(key);
      return use.consumed > points ? use.msBeforeNext : 0;
    },
  };
};

/** How a call ended: 'ok', or the refusal's message and data. */
async function outcome(policy: Policy, call: Call, next: Next = async () => RESULT): Promise<unknown> {
  try {
    await policy.around!(call, next);
    return 'ok';
  } catch (error) {
    return error instanceof GatewayError ? { message: error.message, data: error.data } : String(error);
  }
}

describe('windows counted in memory', () => {
  const rules = [
    { name: 'wide', allow: { tools: ['*'] }, limits: { calls: 100, per: '1m' } },
    { name: 'each', allow: { tools: ['*'] }, limits: { calls: 100, per: '1m', perTool: true } },
  ];

  it('the call reaches next before around returns; without slots the answer of next is passed on as it is', async () => {
    const policy = limitsOf(rules, windowCounters(undefined, 'limit:'));
    let reached = false;
    const answer = Promise.resolve(RESULT);
    const returned = policy.around!(callOf(alice, sqlQuery), () => ((reached = true), answer));
    expect(reached).toBe(true);
    expect(returned).toBe(answer);
  });

  it('through the chain too: the terminal runs within the call of the chain', async () => {
    const policy = limitsOf(rules, windowCounters(undefined, 'limit:'), { sql: 4 });
    let reached = false;
    const chain = compileChain([policy], 'tools/call', async () => ((reached = true), RESULT));
    const answer = chain(callOf(alice, sqlQuery));
    expect(reached).toBe(true);
    expect(await answer).toEqual(RESULT);
  });

  it('a refusal is a rejection, never a synchronous throw, and the refused call never reaches next', async () => {
    const policy = limitsOf(
      [{ name: 'one', allow: { tools: ['*'] }, limits: { calls: 1, per: '1m' } }],
      windowCounters(undefined, 'limit:'),
    );
    await policy.around!(callOf(alice, sqlQuery), async () => RESULT);
    let reached = false;
    let answer: Promise<Result> | undefined;
    expect(
      () => (answer = policy.around!(callOf(alice, sqlQuery), async () => ((reached = true), RESULT))),
    ).not.toThrow();
    await expect(answer).rejects.toBeInstanceOf(GatewayError);
    expect(reached).toBe(false);
  });
});

describe('the refusal of call N+1', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(Date.UTC(2025, 0, 1));
  });
  afterEach(() => vi.useRealTimers());

  it('a limit of 2 per minute refuses the third call with the message, retry and data as before', async () => {
    const policy = limitsOf(
      [{ name: 'q', allow: { tools: ['*'] }, limits: { calls: 2, per: '1m' } }],
      windowCounters(undefined, 'limit:'),
    );
    expect(await outcome(policy, callOf(alice, sqlQuery))).toBe('ok');
    vi.advanceTimersByTime(15_000);
    expect(await outcome(policy, callOf(alice, sqlDrop))).toBe('ok');
    expect(await outcome(policy, callOf(alice, sqlQuery))).toEqual({
      message: 'Rate limit: rule "q" allows 2 calls per 1m per principal; retry in 45 s',
      data: { retryAfterMs: 45_000, rule: 'q', limit: 'calls' },
    });
    // Another principal has a window of its own; the window's end frees the points.
    expect(await outcome(policy, callOf(bob, sqlQuery))).toBe('ok');
    vi.advanceTimersByTime(45_000);
    expect(await outcome(policy, callOf(alice, sqlQuery))).toBe('ok');
  });
});

describe('counters that answer with a promise', () => {
  // Only the clock stands still (both sides must read the same ms); setImmediate stays real for the promises.
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.UTC(2025, 0, 1));
  });
  afterEach(() => vi.useRealTimers());

  const principals = [alice, bob];
  const targets = [sqlQuery, sqlDrop, guide];
  const rules = [
    { name: 'wide', allow: { tools: ['*'], resources: ['*'] }, limits: { calls: 4, per: '1m' } },
    { name: 'each', allow: { tools: ['*'] }, limits: { calls: 2, per: '1m', perTool: true, concurrent: 2 } },
    { name: 'drops', allow: { tools: ['sql__drop'] }, limits: { calls: 1, per: '1h' } },
  ];

  it('give the outcomes of counters that answer at once, for any sequence of calls (mixed counters too)', async () => {
    const call = fc.record({
      who: fc.integer({ min: 0, max: principals.length - 1 }),
      to: fc.integer({ min: 0, max: targets.length - 1 }),
      // A read tried again with the same params object (the probe of an unlisted URI) counts once.
      again: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(call, { maxLength: 30 }),
        fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
        async (calls, which) => {
          const sync = windowCounters(undefined, 'limit:');
          let made = 0;
          const mixed: RateCounterFactory = (window) => (which[made++] ? promised(window) : sync(window));
          const policies = [
            limitsOf(rules, windowCounters(undefined, 'limit:'), { sql: 3 }),
            limitsOf(rules, mixed, { sql: 3 }),
          ];
          const seen: unknown[][] = [[], []];
          let last: Call | undefined;
          for (const { who, to, again } of calls) {
            const fresh = callOf(principals[who], targets[to]);
            const c =
              again && last?.method === 'resources/read' && fresh.method === 'resources/read'
                ? { ...fresh, params: last.params }
                : fresh;
            last = c;
            for (const i of [0, 1]) seen[i].push(await outcome(policies[i], c));
          }
          expect(seen[1]).toEqual(seen[0]);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('are asked one after another in rule order, and the first that refuses is the one named', async () => {
    const asked: string[] = [];
    const counters: RateCounterFactory = ({ points }) => ({
      consume: async (key) => (asked.push(key.slice(0, 3)), points === 1 ? 5000 : 0),
    });
    const policy = limitsOf(
      [
        { name: 'aa', allow: { tools: ['*'] }, limits: { calls: 9, per: '1m' } },
        { name: 'bb', allow: { tools: ['*'] }, limits: { calls: 1, per: '1m' } },
        { name: 'cc', allow: { tools: ['*'] }, limits: { calls: 1, per: '1m' } },
      ],
      counters,
    );
    expect(await outcome(policy, callOf(alice, sqlQuery))).toEqual({
      message: 'Rate limit: rule "bb" allows 1 call per 1m per principal; retry in 5 s',
      data: { retryAfterMs: 5000, rule: 'bb', limit: 'calls' },
    });
    expect(asked).toEqual(['2:a', '2:b']);
  });

  it('give every slot back when one refuses or cannot count, and after the call when it goes ahead', async () => {
    let answer: (key: string) => Promise<number> = async () => 0;
    const counters: RateCounterFactory = () => ({ consume: (key) => answer(key) });
    const policy = limitsOf(
      [{ name: 'q', allow: { tools: ['*'] }, limits: { calls: 5, per: '1m', concurrent: 1 } }],
      counters,
      { sql: 1 },
    );
    answer = async () => 1000;
    expect(await outcome(policy, callOf(alice, sqlQuery))).toMatchObject({ data: { limit: 'calls' } });
    answer = async () => {
      throw new Error('redis down and no insurance');
    };
    expect(await outcome(policy, callOf(alice, sqlQuery))).toBe('Error: redis down and no insurance');
    answer = async () => 0;
    let finish!: () => void;
    const running = policy.around!(
      callOf(alice, sqlQuery),
      () => new Promise((resolve) => (finish = () => resolve(RESULT))),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(await outcome(policy, callOf(alice, sqlQuery))).toMatchObject({ data: { limit: 'upstream' } });
    finish();
    expect(await running).toEqual(RESULT);
    expect(await outcome(policy, callOf(alice, sqlQuery))).toBe('ok');
  });
});
