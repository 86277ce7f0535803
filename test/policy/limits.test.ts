// The limits policy, pure: literal Calls, a `next` that returns a literal Result (or waits), the in-memory window
// counters. Which calls count against which rule, the keys they count under, what a refusal says, and that every
// slot taken is given back exactly once.
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { createLimitsPolicy, LIMITED_METHODS } from '../../src/policy/limits.js';
import { principalKey } from '../../src/policy/limits-keys.js';
import { policySchema } from '../../src/policy/rules-schema.js';
import type { Call, CallLog, Next, Policy, Principal, Result, Target } from '../../src/policy/types.js';
import { windowCounters } from '../../src/gateway/stores/limiter.js';
import { alice, bob, eve, target } from './rules-fixtures.js';

const RESULT: Result = { value: { content: [{ type: 'text', text: 'ok' }] } };
const answer: Next = async () => RESULT;
const sqlQuery = target('tool', 'sql', 'sql__query');
const sqlDrop = target('tool', 'sql', 'sql__drop');
const docsSearch = target('tool', 'docs', 'docs__search');
const docsPrompt = target('prompt', 'docs', 'docs__summary');
const guide = target('resource', 'docs', 'docs://guide');

interface Logged {
  fields: any;
  message?: string;
}

function callOf(
  principal: Principal,
  to: Target,
  options: { args?: object; signal?: AbortSignal; log?: Logged[] } = {},
): Call {
  const method = to.kind === 'tool' ? 'tools/call' : to.kind === 'prompt' ? 'prompts/get' : 'resources/read';
  const lines = options.log ?? [];
  const log: CallLog = {
    debug() {},
    info: (fields, message) => void lines.push({ fields, message }),
    warn() {},
    error() {},
  };
  return {
    method,
    params: to.kind === 'resource' ? { uri: to.original } : { name: to.original, arguments: options.args },
    target: to,
    principal,
    signal: options.signal ?? new AbortController().signal,
    log,
    askClient: async () => ({}),
  };
}

/** The limits policy of these rules (through the schema, as the config builds them). */
function limitsOf(rules: unknown[], upstreams: Record<string, number> = {}): Policy {
  const policy = createLimitsPolicy({
    rules: policySchema.parse({ default: 'allow', rules }).rules,
    upstreams: new Map(Object.entries(upstreams)),
    counters: windowCounters(undefined, 'limit:'),
  });
  if (!policy) throw new Error('expected a limits policy');
  return policy;
}

/** The error a call ends with, or undefined when it was answered. */
async function failure(policy: Policy, call: Call, next: Next = answer): Promise<GatewayError | undefined> {
  try {
    await policy.around!(call, next);
    return undefined;
  } catch (error) {
    return error as GatewayError;
  }
}

/** A `next` that answers only when told to, and fails when the call is aborted (as forward does). */
function pending() {
  const waiting: (() => void)[] = [];
  const next: Next = (call) =>
    new Promise<Result>((resolve, reject) => {
      waiting.push(() => resolve(RESULT));
      call.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
    });
  return { next, finishOne: () => waiting.shift()!(), count: () => waiting.length };
}

describe('which calls count against a rule', () => {
  const rule = (extra: object) => ({
    name: 'quota',
    allow: { tools: ['sql__*'], prompts: ['docs__*'], resources: ['docs://*'] },
    limits: { calls: 1, per: '1m' },
    ...extra,
  });
  // [case, the rule's extra keys, principal, target, args, counted]
  const cases: [string, object, Principal, Target, object | undefined, boolean][] = [
    ['everyone, a tool its allow names', {}, alice, sqlQuery, undefined, true],
    ['a tool its allow does not name', {}, alice, docsSearch, undefined, false],
    ['a prompt its allow names', {}, alice, docsPrompt, undefined, true],
    ['a resource its allow names', {}, alice, guide, undefined, true],
    ['a principal in its groups', { principals: { groups: ['ci'] } }, bob, sqlQuery, undefined, true],
    ['a principal outside its groups', { principals: { groups: ['ci'] } }, alice, sqlQuery, undefined, false],
    ['a subject glob', { principals: { subjects: ['a*'] } }, alice, sqlQuery, undefined, true],
    ['via that does not match', { principals: { via: ['jwt'] } }, eve, sqlQuery, undefined, false],
    [
      'a when on args that holds',
      { when: 'args.rows > 10', allow: { tools: ['sql__*'] } },
      alice,
      sqlQuery,
      { rows: 50 },
      true,
    ],
    [
      'a when on args that does not',
      { when: 'args.rows > 10', allow: { tools: ['sql__*'] } },
      alice,
      sqlQuery,
      { rows: 5 },
      false,
    ],
    [
      'a when that cannot be evaluated (fails closed)',
      { when: 'args.rows > 10', allow: { tools: ['sql__*'] } },
      alice,
      sqlQuery,
      {},
      true,
    ],
    ['a when on the principal', { when: "principal.subject == 'bob'" }, alice, sqlQuery, undefined, false],
    ['a when on the upstream', { when: "upstream == 'sql'" }, alice, sqlQuery, undefined, true],
  ];
  for (const [name, extra, principal, to, args, counted] of cases) {
    it(`${name}: ${counted ? 'counted' : 'not counted'}`, async () => {
      const policy = limitsOf([rule(extra)]);
      expect(await failure(policy, callOf(principal, to, { args }))).toBeUndefined();
      const second = await failure(policy, callOf(principal, to, { args }));
      expect(second?.kind).toBe(counted ? 'rate_limited' : undefined);
    });
  }

  it('limits tools/call, prompts/get and resources/read, and nothing else', () => {
    expect(limitsOf([rule({})]).methods).toEqual(['tools/call', 'prompts/get', 'resources/read']);
    expect(LIMITED_METHODS).not.toContain('tasks/get');
  });

  it('nothing limited: no stage at all', () => {
    const rules = policySchema.parse({
      default: 'allow',
      rules: [{ name: 'r', allow: { tools: ['*'] } }],
    }).rules;
    const counters = windowCounters(undefined, 'limit:');
    expect(createLimitsPolicy({ rules, upstreams: new Map(), counters })).toBeUndefined();
    expect(createLimitsPolicy({ rules, upstreams: new Map([['sql', 2]]), counters })).toBeDefined();
  });
});

describe('windows and keys', () => {
  it('a quota of N per window refuses call N+1, naming the rule, with retryAfterMs, and logs a decision', async () => {
    const policy = limitsOf([{ name: 'ci-quota', allow: { tools: ['*'] }, limits: { calls: 3, per: '1m' } }]);
    for (let i = 0; i < 3; i++) expect(await failure(policy, callOf(alice, sqlQuery))).toBeUndefined();
    const log: Logged[] = [];
    const error = await failure(policy, callOf(alice, sqlQuery, { log }));
    expect(error).toBeInstanceOf(GatewayError);
    expect(error!.kind).toBe('rate_limited');
    expect(error!.code).toBe(-32000);
    expect(error!.message).toMatch(
      /^Rate limit: rule "ci-quota" allows 3 calls per 1m per principal; retry in \d+ s$/,
    );
    const data = error!.data as { retryAfterMs: number; rule: string; limit: string };
    expect(data).toMatchObject({ rule: 'ci-quota', limit: 'calls' });
    expect(data.retryAfterMs).toBeGreaterThan(0);
    expect(data.retryAfterMs).toBeLessThanOrEqual(60_000);
    expect(log).toEqual([
      {
        message: 'policy decision',
        fields: {
          decision: {
            subject: 'alice',
            via: 'apiKey',
            method: 'tools/call',
            kind: 'tool',
            item: 'sql__query',
            upstream: 'sql',
            rule: 'ci-quota',
            effect: 'limit',
            reason: error!.message,
          },
        },
      },
    ]);
  });

  it('each principal has a window of its own', async () => {
    const policy = limitsOf([{ name: 'q', allow: { tools: ['*'] }, limits: { calls: 1, per: '1m' } }]);
    expect(await failure(policy, callOf(alice, sqlQuery))).toBeUndefined();
    expect((await failure(policy, callOf(alice, sqlQuery)))?.kind).toBe('rate_limited');
    expect(await failure(policy, callOf(bob, sqlQuery))).toBeUndefined();
  });

  it('perTool: each tool has a window of its own; without it the tools share one', async () => {
    const perTool = limitsOf([
      { name: 'q', allow: { tools: ['*'] }, limits: { calls: 1, per: '1m', perTool: true } },
    ]);
    expect(await failure(perTool, callOf(alice, sqlQuery))).toBeUndefined();
    expect(await failure(perTool, callOf(alice, sqlDrop))).toBeUndefined();
    const again = await failure(perTool, callOf(alice, sqlDrop));
    expect(again?.message).toMatch(/per 1m per principal and tool;/);
    const shared = limitsOf([{ name: 'q', allow: { tools: ['*'] }, limits: { calls: 1, per: '1m' } }]);
    expect(await failure(shared, callOf(alice, sqlQuery))).toBeUndefined();
    expect((await failure(shared, callOf(alice, sqlDrop)))?.kind).toBe('rate_limited');
  });

  it('every rule that applies counts the call', async () => {
    const policy = limitsOf([
      { name: 'wide', allow: { tools: ['*'] }, limits: { calls: 5, per: '1m' } },
      { name: 'narrow', allow: { tools: ['sql__drop'] }, limits: { calls: 1, per: '1h' } },
    ]);
    expect(await failure(policy, callOf(alice, sqlDrop))).toBeUndefined();
    const error = await failure(policy, callOf(alice, sqlDrop));
    expect(error?.data).toMatchObject({ rule: 'narrow', limit: 'calls' });
    expect(error?.message).toContain('per 1h');
  });

  it('fields that could run together never make two principals one key', () => {
    const principals: Principal[] = [
      { subject: 'a|b', groups: [], scopes: [], via: 'apiKey' },
      { subject: 'a', clientId: 'b', groups: [], scopes: [], via: 'apiKey' },
      { subject: 'a|b', clientId: 'c', groups: [], scopes: [], via: 'apiKey' },
      { subject: 'a', clientId: 'b|c', groups: [], scopes: [], via: 'apiKey' },
      { subject: 'a', clientId: '', groups: [], scopes: [], via: 'apiKey' },
      { subject: 'a', groups: [], scopes: [], via: 'apiKey' },
      { subject: '1:a', groups: [], scopes: [], via: 'apiKey' },
      { subject: 'a1:b', groups: [], scopes: [], via: 'apiKey' },
      { subject: 'a', clientId: '1:b', groups: [], scopes: [], via: 'apiKey' },
      { subject: 'a', groups: [], scopes: [], via: 'jwt' },
      { subject: '6:apiKey1:a', groups: [], scopes: [], via: 'jwt' },
      { subject: '', groups: [], scopes: [], via: 'apiKey' },
      { subject: '-', groups: [], scopes: [], via: 'apiKey' },
    ];
    const keys = principals.map(principalKey);
    expect(new Set(keys).size).toBe(principals.length);
    // The same identity in another object (another session, a re-verified token) is the same key.
    expect(principalKey({ ...principals[1], groups: ['x'] })).toBe(keys[1]);
  });

  it('subject "a|b" with client "c" and subject "a" with client "b|c" have windows of their own', async () => {
    const policy = limitsOf([{ name: 'q', allow: { tools: ['*'] }, limits: { calls: 1, per: '1m' } }]);
    const joined: Principal = { subject: 'a|b', clientId: 'c', groups: [], scopes: [], via: 'apiKey' };
    const split: Principal = { subject: 'a', clientId: 'b|c', groups: [], scopes: [], via: 'apiKey' };
    expect(await failure(policy, callOf(joined, sqlQuery))).toBeUndefined();
    expect(await failure(policy, callOf(split, sqlQuery))).toBeUndefined();
  });

  it('a burst of concurrent calls never passes more than the quota', async () => {
    const policy = limitsOf([{ name: 'q', allow: { tools: ['*'] }, limits: { calls: 10, per: '1m' } }]);
    const outcomes = await Promise.all(
      Array.from({ length: 60 }, () => failure(policy, callOf(alice, sqlQuery))),
    );
    expect(outcomes.filter((e) => e === undefined)).toHaveLength(10);
    expect(outcomes.filter((e) => e?.kind === 'rate_limited')).toHaveLength(50);
  });
});

describe('calls in flight', () => {
  it('a rule allows `concurrent` calls per principal and upstream, and refuses the next at once', async () => {
    const policy = limitsOf([{ name: 'ci', allow: { tools: ['*'] }, limits: { concurrent: 2 } }]);
    const slow = pending();
    const first = [
      policy.around!(callOf(alice, sqlQuery), slow.next),
      policy.around!(callOf(alice, sqlDrop), slow.next),
    ];
    const log: Logged[] = [];
    const error = await failure(policy, callOf(alice, sqlQuery, { log }), slow.next);
    expect(error?.kind).toBe('rate_limited');
    expect(error?.message).toBe(
      'Concurrency limit: rule "ci" allows 2 calls in flight per principal and upstream; retry when one of them ends',
    );
    expect(error?.data).toEqual({ retryAfterMs: 1000, rule: 'ci', limit: 'concurrent' });
    expect(log[0].fields.decision).toMatchObject({ rule: 'ci', effect: 'limit', item: 'sql__query' });
    // Another upstream, another principal: slots of their own.
    expect(await failure(policy, callOf(alice, docsSearch))).toBeUndefined();
    expect(await failure(policy, callOf(bob, sqlQuery))).toBeUndefined();
    // One ends: its slot is free again.
    slow.finishOne();
    await first[0];
    expect(await failure(policy, callOf(alice, sqlQuery))).toBeUndefined();
    slow.finishOne();
    await first[1];
  });

  it("an upstream's maxConcurrent holds across principals and rules", async () => {
    const policy = limitsOf([], { sql: 2 });
    const slow = pending();
    const first = [
      policy.around!(callOf(alice, sqlQuery), slow.next),
      policy.around!(callOf(bob, sqlDrop), slow.next),
    ];
    const error = await failure(policy, callOf(eve, sqlQuery), slow.next);
    expect(error?.message).toBe(
      'Concurrency limit: upstream "sql" allows 2 calls in flight; retry when one of them ends',
    );
    expect(error?.data).toEqual({ retryAfterMs: 1000, limit: 'upstream' });
    expect(await failure(policy, callOf(eve, docsSearch))).toBeUndefined();
    slow.finishOne();
    slow.finishOne();
    await Promise.all(first);
    expect(await failure(policy, callOf(eve, sqlQuery))).toBeUndefined();
  });

  it('a slot comes back when the call throws', async () => {
    const policy = limitsOf([{ name: 'one', allow: { tools: ['*'] }, limits: { concurrent: 1 } }], {
      sql: 1,
    });
    const boom: Next = async () => {
      throw new Error('upstream broke');
    };
    for (let i = 0; i < 3; i++)
      expect((await failure(policy, callOf(alice, sqlQuery), boom))?.message).toBe('upstream broke');
    expect(await failure(policy, callOf(alice, sqlQuery))).toBeUndefined();
  });

  it('a slot comes back when the call is cancelled', async () => {
    const policy = limitsOf([{ name: 'one', allow: { tools: ['*'] }, limits: { concurrent: 1 } }]);
    const slow = pending();
    const controller = new AbortController();
    const running = failure(policy, callOf(alice, sqlQuery, { signal: controller.signal }), slow.next);
    expect((await failure(policy, callOf(alice, sqlQuery), slow.next))?.kind).toBe('rate_limited');
    controller.abort();
    expect((await running)?.message).toBe('aborted');
    expect(await failure(policy, callOf(alice, sqlQuery))).toBeUndefined();
  });

  it('a call refused by its window gives its slots back, and one refused for concurrency spends no point', async () => {
    const policy = limitsOf([
      { name: 'q', allow: { tools: ['*'] }, limits: { calls: 2, per: '1m', concurrent: 1 } },
    ]);
    const slow = pending();
    const running = policy.around!(callOf(alice, sqlQuery), slow.next);
    // Refused for concurrency three times: no point spent.
    for (let i = 0; i < 3; i++)
      expect((await failure(policy, callOf(alice, sqlQuery)))?.data).toMatchObject({ limit: 'concurrent' });
    slow.finishOne();
    await running;
    expect(await failure(policy, callOf(alice, sqlQuery))).toBeUndefined();
    // The window is used up now; a refusal that kept its slot would turn the next refusal into 'concurrent'.
    for (let i = 0; i < 3; i++)
      expect((await failure(policy, callOf(alice, sqlQuery)))?.data).toMatchObject({ limit: 'calls' });
  });

  it('the slots of principals gone idle are swept, never the count of a call still in flight', async () => {
    // An idle principal's entry stays for its next call (no table churn per call) until over 1,024 are idle.
    const policy = limitsOf([{ name: 'two', allow: { tools: ['*'] }, limits: { concurrent: 2 } }]);
    const slow = pending();
    const held = [
      policy.around!(callOf(alice, sqlQuery), slow.next),
      policy.around!(callOf(alice, sqlQuery), slow.next),
    ];
    const visitor = (i: number): Principal => ({
      subject: `visitor-${i}`,
      groups: [],
      scopes: [],
      via: 'apiKey',
    });
    for (let round = 0; round < 2; round++)
      for (let i = 0; i < 1_500; i++)
        expect(await failure(policy, callOf(visitor(i), sqlQuery))).toBeUndefined();
    // Alice's two calls still count after the sweeps; bob, idle before them, has both of his slots.
    expect((await failure(policy, callOf(alice, sqlQuery)))?.data).toMatchObject({ limit: 'concurrent' });
    await failure(policy, callOf(bob, sqlQuery));
    const bobs = [
      policy.around!(callOf(bob, sqlQuery), slow.next),
      policy.around!(callOf(bob, sqlQuery), slow.next),
    ];
    expect((await failure(policy, callOf(bob, sqlQuery)))?.data).toMatchObject({ limit: 'concurrent' });
    while (slow.count()) slow.finishOne();
    await Promise.all([...held, ...bobs]);
    // A visitor swept while idle, and alice once her calls ended, get their full count again.
    for (const who of [visitor(7), alice]) {
      const two = [
        policy.around!(callOf(who, sqlQuery), slow.next),
        policy.around!(callOf(who, sqlQuery), slow.next),
      ];
      expect((await failure(policy, callOf(who, sqlQuery)))?.data).toMatchObject({ limit: 'concurrent' });
      while (slow.count()) slow.finishOne();
      await Promise.all(two);
    }
  });

  it('a burst of concurrent calls never holds more slots than allowed', async () => {
    const policy = limitsOf([{ name: 'ci', allow: { tools: ['*'] }, limits: { concurrent: 3 } }], { sql: 5 });
    const slow = pending();
    const outcomes = Array.from({ length: 40 }, () => failure(policy, callOf(alice, sqlQuery), slow.next));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(slow.count()).toBe(3);
    while (slow.count()) slow.finishOne();
    const settled = await Promise.all(outcomes);
    expect(settled.filter((e) => e === undefined)).toHaveLength(3);
    expect(settled.filter((e) => e?.kind === 'rate_limited')).toHaveLength(37);
  });
});

describe('the schema', () => {
  const parse = (limits: object) =>
    policySchema.safeParse({ default: 'allow', rules: [{ name: 'r', allow: { tools: ['*'] }, limits }] });
  it('per counts whole seconds', () => {
    for (const per of ['500ms', '1500ms', '0s']) {
      const result = parse({ calls: 1, per });
      expect(result.success).toBe(false);
      expect(result.error!.issues[0].message).toMatch(/whole seconds/);
    }
    expect(parse({ calls: 1, per: '1s' }).success).toBe(true);
    expect(parse({ calls: 1, per: '2000ms' }).success).toBe(true);
  });
  it('limits need allow, and calls and per go together', () => {
    expect(
      policySchema.safeParse({
        default: 'allow',
        rules: [{ name: 'r', deny: { tools: ['*'] }, limits: { concurrent: 1 } }],
      }).error?.issues[0].message,
    ).toBe('rule "r": limits count the calls to what the rule allows; give it allow');
    expect(parse({ calls: 1 }).error?.issues[0].message).toBe(
      'calls and per go together: calls: 60, per: 1m',
    );
  });
});

describe('the probe of an unlisted URI', () => {
  it('counts one read once, however many upstreams it is asked of', async () => {
    const policy = limitsOf([
      { name: 'reads', allow: { resources: ['docs://*'] }, limits: { calls: 2, per: '1m' } },
    ]);
    const onDocs = target('resource', 'docs', 'docs://unlisted/1');
    const onWiki = target('resource', 'wiki', 'docs://unlisted/1');
    // One read, tried on two upstreams (the same params object, as the handler's probe passes it).
    const first = callOf(alice, onDocs);
    expect(await failure(policy, first)).toBeUndefined();
    expect(await failure(policy, { ...first, target: onWiki })).toBeUndefined();
    // A second read is the second point; a third read is over the limit.
    expect(await failure(policy, callOf(alice, onDocs))).toBeUndefined();
    expect((await failure(policy, callOf(alice, onDocs)))?.kind).toBe('rate_limited');
  });
});
