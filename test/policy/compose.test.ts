// The chain runner and the visibility composition, pure: literal Calls, a `next` that returns literal Results,
// tables of principals and targets. No gateway, no upstream: what compose.ts promises, one behaviour per test.
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { compileChain, composeVisibility } from '../../src/policy/compose.js';
import type { Call, CallLog, Next, Policy, Principal, Result, Target } from '../../src/policy/types.js';

const silent: CallLog = { debug() {}, info() {}, warn() {}, error() {} };
const ada: Principal = { subject: 'ada', groups: ['eng'], scopes: ['mcp:tools'], via: 'jwt' };
const crmTool: Target = { kind: 'tool', upstream: 'crm', name: 'crm__lookup', original: 'find_customer' };

/** A literal call, with one extra own field standing for what the gateway carries beside the policy fields. */
function literalCall(method = 'tools/call'): Call & { exchange: { tag: string } } {
  return {
    method,
    params: { name: 'find_customer', arguments: { id: 7 } },
    target: crmTool,
    principal: ada,
    session: { id: 'session-1' },
    signal: new AbortController().signal,
    log: silent,
    askClient: async () => ({ action: 'accept' }),
    exchange: { tag: 'the exchange' },
  };
}

/** A terminal that notes each call it receives and answers with `result`. */
function terminalOf(result: Result = { value: { content: [] } }) {
  const calls: Call[] = [];
  const terminal: Next = async (call) => {
    calls.push(call);
    return result;
  };
  return { terminal, calls };
}

/** A stage that notes when it sees the call and the result, and passes both through untouched. */
function tracer(name: string, trace: string[], methods?: string[]): Policy {
  return {
    name,
    methods,
    async around(call, next) {
      trace.push(`${name}>`);
      const result = await next(call);
      trace.push(`${name}<`);
      return result;
    },
  };
}

describe('compileChain: order', () => {
  it('runs stages in list order: the first listed sees the call first and the result last', async () => {
    const trace: string[] = [];
    const stamp = (name: string): Policy => ({
      name,
      async around(call, next) {
        trace.push(`${name}>`);
        const inner = await next(call);
        trace.push(`${name}<`);
        return { value: [...(inner.value as string[]), name] };
      },
    });
    const terminal: Next = async () => {
      trace.push('terminal');
      return { value: ['terminal'] };
    };
    const chain = compileChain([stamp('a'), stamp('b'), stamp('c')], 'tools/call', terminal);
    const result = await chain(literalCall());
    expect(trace).toEqual(['a>', 'b>', 'c>', 'terminal', 'c<', 'b<', 'a<']);
    expect(result.value).toEqual(['terminal', 'c', 'b', 'a']);
  });
});

describe('compileChain: which stages a method gets', () => {
  it.each([
    ['no policies at all', []],
    ['policies with a visible face only', [{ name: 'v', visible: () => true }]],
    [
      'stages scoped to other methods',
      [{ name: 'p', methods: ['prompts/get'], around: async () => ({ value: 1 }) }],
    ],
    ['a stage scoped to no method', [{ name: 'none', methods: [], around: async () => ({ value: 1 }) }]],
  ] as [string, Policy[]][])('a method no stage names gets the terminal itself: %s', (_label, policies) => {
    const { terminal } = terminalOf();
    expect(compileChain(policies, 'tools/call', terminal)).toBe(terminal);
  });

  it('a method some stage names gets a chain, not the terminal', () => {
    const { terminal } = terminalOf();
    expect(compileChain([tracer('t', [])], 'tools/call', terminal)).not.toBe(terminal);
  });

  const trace: string[] = [];
  const scoped = [
    tracer('all', trace),
    tracer('calls', trace, ['tools/call']),
    tracer('calls+prompts', trace, ['prompts/get', 'tools/call']),
    tracer('reads', trace, ['resources/read']),
  ];
  it.each([
    ['tools/call', ['all', 'calls', 'calls+prompts']],
    ['prompts/get', ['all', 'calls+prompts']],
    ['resources/read', ['all', 'reads']],
    ['completion/complete', ['all']],
  ])(
    '%s runs exactly the stages that name it or name no methods, in list order',
    async (method, expected) => {
      trace.length = 0;
      const { terminal, calls } = terminalOf();
      await compileChain(scoped, method, terminal)(literalCall(method));
      expect(trace).toEqual([
        ...expected.map((n) => `${n}>`),
        ...[...expected].reverse().map((n) => `${n}<`),
      ]);
      expect(calls).toHaveLength(1);
    },
  );
});

describe('compileChain: short-circuit and failure', () => {
  /** `middle` between two tracing stages, over a terminal that notes its calls. */
  function around(middle: Policy, trace: string[]) {
    const { terminal, calls } = terminalOf();
    const chain = compileChain(
      [tracer('outer', trace), middle, tracer('inner', trace)],
      'tools/call',
      terminal,
    );
    return { chain, calls };
  }

  it('a stage that answers without calling next: later stages and the terminal never run', async () => {
    const trace: string[] = [];
    const answer: Policy = {
      name: 'answer',
      around: async () => ({ value: { content: [], isError: true } }),
    };
    const { chain, calls } = around(answer, trace);
    const result = await chain(literalCall());
    expect(result).toEqual({ value: { content: [], isError: true } });
    expect(trace).toEqual(['outer>', 'outer<']);
    expect(calls).toHaveLength(0);
  });

  it.each([
    ['a GatewayError (its kind kept)', new GatewayError('forbidden', 'not for you')],
    ['a plain Error', new Error('a bug in a stage')],
  ])(
    'a stage that throws %s: it propagates as-is, later stages and the terminal do not run',
    async (_l, thrown) => {
      const trace: string[] = [];
      const thrower: Policy = {
        name: 'thrower',
        around: async () => {
          throw thrown;
        },
      };
      const { chain, calls } = around(thrower, trace);
      const failure = await chain(literalCall()).catch((error: unknown) => error);
      expect(failure).toBe(thrown);
      if (thrown instanceof GatewayError) expect((failure as GatewayError).kind).toBe('forbidden');
      // The outer stage saw the call, then the rejection of its `next`: it never reached its after-code.
      expect(trace).toEqual(['outer>']);
      expect(calls).toHaveLength(0);
    },
  );

  it("the terminal's error reaches the first stage as the same object", async () => {
    const upstreamError = Object.assign(new Error('MCP error -32602: bad arguments'), { code: -32602 });
    const seen: unknown[] = [];
    const catcher: Policy = {
      name: 'catcher',
      async around(call, next) {
        try {
          return await next(call);
        } catch (error) {
          seen.push(error);
          throw error;
        }
      },
    };
    const terminal: Next = async () => {
      throw upstreamError;
    };
    const chain = compileChain([catcher, tracer('inner', [])], 'tools/call', terminal);
    await expect(chain(literalCall())).rejects.toBe(upstreamError);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBe(upstreamError);
  });
});

describe('compileChain: a stage that changes the call', () => {
  it('the terminal sees the new params, and every other field survives {...call, params}', async () => {
    const rewrite: Policy = {
      name: 'rewrite',
      around: (call, next) => next({ ...call, params: { ...call.params, arguments: { id: 8 } } }),
    };
    const seenByLater: unknown[] = [];
    const later: Policy = {
      name: 'later',
      around: (call, next) => {
        seenByLater.push(call.params);
        return next(call);
      },
    };
    const { terminal, calls } = terminalOf();
    const call = literalCall();
    await compileChain([rewrite, later], 'tools/call', terminal)(call);
    expect(seenByLater).toEqual([{ name: 'find_customer', arguments: { id: 8 } }]);
    expect(calls).toHaveLength(1);
    const seen = calls[0] as typeof call;
    expect(seen.params).toEqual({ name: 'find_customer', arguments: { id: 8 } });
    // The caller's own params are untouched.
    expect(call.params).toEqual({ name: 'find_customer', arguments: { id: 7 } });
    const others = Object.keys(call).filter((key) => key !== 'params') as (keyof typeof call)[];
    expect(others).toContain('exchange');
    for (const key of others) expect(seen[key], key).toBe(call[key]);
  });
});

describe('compileChain: raw bytes follow the value', () => {
  const raw = [Buffer.from('{"content":[{"type":"text",'), Buffer.from('"text":"secret 42"}]}')];
  const upstream: Result = { value: { content: [{ type: 'text', text: 'secret 42' }] }, raw };
  const redacted = { content: [{ type: 'text', text: 'secret [redacted]' }] };

  it.each([
    ['returns {...inner, value}', (inner: Result): Result => ({ ...inner, value: redacted })],
    ['returns {value, raw: inner.raw}', (inner: Result): Result => ({ value: redacted, raw: inner.raw })],
  ])('a stage that changes the value but %s gets the raw bytes dropped', async (_label, change) => {
    const redact: Policy = { name: 'redact', around: async (call, next) => change(await next(call)) };
    const { terminal } = terminalOf(upstream);
    const result = await compileChain([redact], 'tools/call', terminal)(literalCall());
    expect(result.value).toBe(redacted);
    expect(result.raw).toBeUndefined();
  });

  it('a change deep in the chain drops the raw bytes for every stage outside it', async () => {
    const redact: Policy = {
      name: 'redact',
      around: async (call, next) => ({ ...(await next(call)), value: redacted }),
    };
    const outerSaw: Result[] = [];
    const outer: Policy = {
      name: 'outer',
      async around(call, next) {
        const result = await next(call);
        outerSaw.push(result);
        return result;
      },
    };
    const { terminal } = terminalOf(upstream);
    const result = await compileChain(
      [outer, redact, tracer('inner', [])],
      'tools/call',
      terminal,
    )(literalCall());
    expect(outerSaw[0].raw).toBeUndefined();
    expect(result).toEqual({ value: redacted });
  });

  it.each([
    ['returns what next returned', { name: 'same', around: async (call, next) => next(call) }],
    ['returns a copy of it', { name: 'copy', around: async (call, next) => ({ ...(await next(call)) }) }],
  ] as [string, Policy][])(
    'stages that pass the result through keep the raw bytes (the same array): a stage %s',
    async (_l, stage) => {
      const { terminal } = terminalOf(upstream);
      const result = await compileChain([stage, stage], 'tools/call', terminal)(literalCall());
      expect(result.value).toBe(upstream.value);
      expect(result.raw).toBe(raw);
    },
  );

  it('a stage that brings raw bytes of its own for its own value keeps them', async () => {
    const ownRaw = [Buffer.from(JSON.stringify(redacted))];
    const stage: Policy = {
      name: 'own',
      around: async (call, next) => {
        await next(call);
        return { value: redacted, raw: ownRaw };
      },
    };
    const { terminal } = terminalOf(upstream);
    const result = await compileChain([stage], 'tools/call', terminal)(literalCall());
    expect(result.raw).toBe(ownRaw);
  });
});

describe('composeVisibility', () => {
  const eng: Principal = ada;
  const ops: Principal = { subject: 'bob', groups: ['ops'], scopes: [], via: 'apiKey' };
  const hrTool: Target = { kind: 'tool', upstream: 'hr', name: 'hr__salaries', original: 'salaries' };
  const engOnly: Policy = {
    name: 'eng-only',
    visible: (principal) => principal.groups.includes('eng'),
    viewKey: (principal) => (principal.groups.includes('eng') ? 'eng' : '-'),
  };
  const noHr: Policy = {
    name: 'no-hr',
    visible: (_principal, target) => target.upstream !== 'hr',
    viewKey: () => '',
  };

  it.each([
    ['no policies', []],
    ['stages only', [{ name: 's', around: async () => ({ value: null }) }]],
  ] as [string, Policy[]][])('is undefined when no policy has a visible face: %s', (_label, policies) => {
    expect(composeVisibility(policies)).toBeUndefined();
  });

  it.each([
    [eng, crmTool, true],
    [eng, hrTool, false],
    [ops, crmTool, false],
    [ops, hrTool, false],
  ])('an item is visible only when every policy sees it (%#)', (principal, target, expected) => {
    const visibility = composeVisibility([
      engOnly,
      noHr,
      { name: 'stage', around: async () => ({ value: 1 }) },
    ])!;
    expect(visibility.visible(principal, target)).toBe(expected);
  });

  it('the view key is composed of every policy key: equal exactly when each policy key is equal', () => {
    const visibility = composeVisibility([engOnly, noHr])!;
    const otherEng: Principal = { subject: 'cy', groups: ['eng', 'x'], scopes: [], via: 'apiKey' };
    expect(visibility.viewKey(eng)).toBe(visibility.viewKey(otherEng));
    expect(visibility.viewKey(eng)).not.toBe(visibility.viewKey(ops));
    const byTeam: Policy = { name: 'team', visible: () => true, viewKey: (p) => p.groups.join(',') };
    const both = composeVisibility([engOnly, byTeam])!;
    expect(both.viewKey(eng)).not.toBe(both.viewKey(otherEng));
  });

  // A policy with `visible` but no `viewKey` may read anything of the principal: whatever the fallback key is,
  // two principals it could tell apart must never share one cached list.
  const base: Principal = {
    subject: 'ada',
    groups: ['eng'],
    scopes: ['mcp:tools'],
    via: 'jwt',
    clientId: 'app',
  };
  it.each([
    ['subject', { ...base, subject: 'bob' }],
    ['via', { ...base, via: 'apiKey' }],
    ['groups', { ...base, groups: ['eng', 'admins'] }],
    ['scopes', { ...base, scopes: ['mcp:tools', 'mcp:admin'] }],
    ['clientId', { ...base, clientId: 'other-app' }],
  ] as [string, Principal][])(
    'with a policy that names no view key, principals that differ in %s get different view keys',
    (_label, other) => {
      const unkeyed: Policy = { name: 'unkeyed', visible: () => true };
      const visibility = composeVisibility([engOnly, unkeyed])!;
      expect(visibility.viewKey(other)).not.toBe(visibility.viewKey(base));
    },
  );

  it('a policy that reads groups and names no view key: a principal who sees more never shares a key', () => {
    const admins: Policy = { name: 'admins', visible: (p) => p.groups.includes('admins') };
    const visibility = composeVisibility([admins])!;
    const admin: Principal = { ...base, groups: ['eng', 'admins'] };
    expect(visibility.visible(admin, crmTool)).toBe(true);
    expect(visibility.visible(base, crmTool)).toBe(false);
    // Lists are cached by this key: one key for both would show one of them the other's list.
    expect(visibility.viewKey(admin)).not.toBe(visibility.viewKey(base));
  });

  it('with a policy that names no view key, the same principal still gets one stable key', () => {
    const unkeyed: Policy = { name: 'unkeyed', visible: () => true };
    const visibility = composeVisibility([engOnly, unkeyed])!;
    expect(visibility.viewKey(base)).toBe(visibility.viewKey({ ...base, groups: [...base.groups] }));
  });
});
