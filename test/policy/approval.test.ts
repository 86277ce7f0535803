// The approval policy, pure: literal Calls whose askClient the test answers (accept, decline, cancel, never, or
// fails), a `next` that records it was reached. Which calls are asked about, what the question looks like, what
// each answer does to the call, and the one decision event each answer leaves.
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { APPROVAL_TIMEOUT_MS, createApprovalPolicy } from '../../src/policy/approval.js';
import { policySchema } from '../../src/policy/rules-schema.js';
import type {
  Call,
  CallLog,
  ClientQuestion,
  Policy,
  Principal,
  Result,
  Target,
} from '../../src/policy/types.js';
import { alice, bob, docsPrompt, policyOf, sqlDrop, sqlQuery, target } from './rules-fixtures.js';

const RESULT: Result = { value: { content: [{ type: 'text', text: 'dropped' }] } };
const filesDelete = target('tool', 'files', 'files__delete_file');
const breakGlass: Principal = { subject: 'break-glass', groups: ['ops'], scopes: [], via: 'apiKey' };

interface Run {
  result?: Result;
  error?: unknown;
  asked: ClientQuestion[];
  reachedUpstream: number;
  decisions: any[];
}

/** Runs one call through the policy; `answer` plays the client (its return value or rejection is the answer). */
async function run(
  policy: Policy,
  options: {
    principal?: Principal;
    to?: Target;
    args?: unknown;
    answer?: (question: ClientQuestion) => Promise<unknown>;
    signal?: AbortSignal;
  } = {},
): Promise<Run> {
  const out: Run = { asked: [], reachedUpstream: 0, decisions: [] };
  const log: CallLog = {
    debug() {},
    info: (fields: any) => void out.decisions.push(fields.decision),
    warn() {},
    error() {},
  };
  const to = options.to ?? sqlDrop;
  const call: Call = {
    method: to.kind === 'prompt' ? 'prompts/get' : 'tools/call',
    params: { name: to.original, arguments: options.args ?? { table: 'users' } },
    target: to,
    principal: options.principal ?? alice,
    signal: options.signal ?? new AbortController().signal,
    log,
    askClient: (question) => {
      out.asked.push(question);
      return (options.answer ?? accept)(question);
    },
  };
  try {
    out.result = await policy.around!(call, async () => {
      out.reachedUpstream++;
      return RESULT;
    });
  } catch (error) {
    out.error = error;
  }
  return out;
}

const accept = async () => ({ action: 'accept', content: { approve: true } });
const never = () => new Promise<never>(() => {});

function approvalOf(rules: unknown[]): Policy {
  const policy = createApprovalPolicy(policySchema.parse({ default: 'allow', rules }).rules);
  if (!policy) throw new Error('expected an approval policy');
  return policy;
}

const confirmDrops = (extra: Record<string, unknown> = {}) =>
  approvalOf([{ name: 'confirm-drops', approve: { tools: ['*__drop_*', '*__delete_*'] }, ...extra }]);

/** The text of an isError refusal (the test fails on anything else). */
function refusal(out: Run): string {
  const value = out.result?.value as { isError?: boolean; content?: { type: string; text: string }[] };
  expect(value?.isError).toBe(true);
  expect(out.reachedUpstream).toBe(0);
  return value.content![0].text;
}

describe('approve: in the policy schema', () => {
  it('takes a rule with only approve, with or without a timeout', () => {
    const parsed = policySchema.parse({
      default: 'deny',
      rules: [
        { name: 'a', approve: { tools: ['*__delete_*'] } },
        { name: 'b', approve: { tools: ['x__y'], timeout: '30s' }, when: "principal.subject != 'ops'" },
      ],
    });
    expect(parsed.rules.map((r) => r.approve)).toEqual([
      { tools: ['*__delete_*'] },
      { tools: ['x__y'], timeout: 30_000 },
    ]);
  });

  it.each([
    [{ tools: [] }, 'approve.tools: an empty list matches nothing; leave the key out to match everyone'],
    [{ tools: ['*'], timeout: '0s' }, 'approve.timeout: an approval timeout is more than 0 and at most 1h'],
    [{ tools: ['*'], timeout: '2h' }, 'approve.timeout: an approval timeout is more than 0 and at most 1h'],
    [{ tools: ['*'], timeout: 30 }, 'approve.timeout: a duration needs a unit: write 30s for seconds'],
    [{ prompts: ['*'] }, 'approve: Unrecognized key: "prompts"'],
  ])('refuses approve %j with a message naming the key', (approve, message) => {
    const parsed = policySchema.safeParse({ default: 'allow', rules: [{ name: 'r', approve }] });
    const issues = parsed.error?.issues.map((i) => `${i.path.slice(2).join('.')}: ${i.message}`) ?? [];
    expect(issues.some((issue) => issue.startsWith(message))).toBe(true);
  });

  it('allows nothing by itself: an approve-only rule leaves the access decision and the views alone', () => {
    const rules = [{ name: 'ops-confirm', principals: { groups: ['ops'] }, approve: { tools: ['*'] } }];
    const deny = policyOf({ default: 'deny', rules });
    expect(deny.visible(breakGlass, sqlDrop)).toBe(false);
    const allow = policyOf({ default: 'allow', rules });
    expect(allow.visible(breakGlass, sqlDrop)).toBe(true);
    // A rule that decides no access tells no principals apart: everyone shares one cached view.
    expect(allow.viewKey(breakGlass)).toBe(allow.viewKey(alice));
  });

  it('is no stage at all when no rule approves anything', () => {
    const rules = policySchema.parse({ default: 'allow', rules: [{ name: 'r', allow: { tools: ['*'] } }] });
    expect(createApprovalPolicy(rules.rules)).toBeUndefined();
  });
});

describe('the approval stage', () => {
  it('asks in form mode, naming the tool, its upstream and the arguments, and runs the call on a yes', async () => {
    const out = await run(confirmDrops(), { args: { table: 'users', cascade: true } });
    expect(out.result).toBe(RESULT);
    expect(out.reachedUpstream).toBe(1);
    expect(out.asked).toHaveLength(1);
    const { method, params } = out.asked[0] as { method: string; params: any };
    expect(method).toBe('elicitation/create');
    expect(params.mode).toBe('form');
    expect(params.message).toContain('Tool: sql__drop_table (upstream "sql")');
    expect(params.message).toContain('  table: "users"');
    expect(params.message).toContain('  cascade: true');
    expect(params.requestedSchema).toEqual({
      type: 'object',
      properties: {
        approve: {
          type: 'boolean',
          title: 'Approve',
          description: 'Run sql__drop_table with these arguments',
          default: false,
        },
      },
      required: ['approve'],
    });
    expect(out.decisions).toEqual([
      {
        subject: 'alice',
        via: 'apiKey',
        method: 'tools/call',
        kind: 'tool',
        item: 'sql__drop_table',
        upstream: 'sql',
        rule: 'confirm-drops',
        effect: 'approve',
        outcome: 'approved',
        reason: 'the user approved the call of sql__drop_table (approval required by rule "confirm-drops")',
      },
    ]);
  });

  it.each([
    ['decline', { action: 'decline' }, 'declined', 'the user declined the call of sql__drop_table'],
    [
      'accept without the box ticked',
      { action: 'accept', content: { approve: false } },
      'declined',
      'the user declined the call of sql__drop_table (the form came back without "approve" ticked)',
    ],
    ['accept with no content', { action: 'accept' }, 'declined', 'the user declined'],
    [
      'cancel',
      { action: 'cancel' },
      'cancelled',
      'the user dismissed the approval request for sql__drop_table without a choice',
    ],
    [
      'an unknown action',
      { action: 'maybe' },
      'failed',
      'asking the user to approve sql__drop_table failed (the client answered without a valid action)',
    ],
  ])(
    'refuses on %s, with an isError result that says so; the upstream is not called',
    async (_, answer, outcome, text) => {
      const out = await run(confirmDrops(), { answer: async () => answer });
      expect(refusal(out)).toContain(`Not run: ${text}`);
      expect(out.decisions).toHaveLength(1);
      expect(out.decisions[0]).toMatchObject({ rule: 'confirm-drops', effect: 'approve', outcome });
    },
  );

  it('refuses when no answer comes within the rule timeout', async () => {
    const out = await run(confirmDrops({ approve: { tools: ['*__drop_*'], timeout: '50ms' } }), {
      answer: never,
    });
    expect(refusal(out)).toBe(
      'Not run: no answer to the approval request for sql__drop_table within 50ms (approval required by rule "confirm-drops").',
    );
    expect(out.decisions[0].outcome).toBe('timeout');
  });

  it('waits two minutes when the rule names no timeout', () => {
    expect(APPROVAL_TIMEOUT_MS).toBe(120_000);
  });

  it('refuses, never allows, when the client cannot be asked', async () => {
    const missing = new GatewayError(
      'capability_missing',
      'the client did not declare the elicitation capability',
    );
    const out = await run(confirmDrops(), { answer: () => Promise.reject(missing) });
    expect(refusal(out)).toContain(
      "sql__drop_table needs a user's approval and this client cannot be asked: it does not support form elicitation (the client did not declare the elicitation capability)",
    );
    expect(out.decisions[0].outcome).toBe('unsupported');
    // A client with no handler for elicitation/create answers "method not found": the same refusal.
    const noHandler = new GatewayError('internal', 'Method not found', { upstreamCode: -32601 });
    const again = await run(confirmDrops(), { answer: () => Promise.reject(noHandler) });
    expect(again.decisions[0].outcome).toBe('unsupported');
    expect(again.reachedUpstream).toBe(0);
  });

  it('refuses when the client answers with an error, quoting it bounded', async () => {
    const long = new GatewayError('internal', `broken ${'x'.repeat(500)}`, { upstreamCode: -32603 });
    const out = await run(confirmDrops(), { answer: () => Promise.reject(long) });
    const text = refusal(out);
    expect(text).toContain('asking the user to approve sql__drop_table failed (broken xxx');
    expect(text.length).toBeLessThan(400);
    expect(out.decisions[0].outcome).toBe('failed');
  });

  it('ends the wait when the call is cancelled, with the cancellation, never reaching the upstream', async () => {
    const controller = new AbortController();
    const reason = new GatewayError('cancelled', 'cancelled by the client');
    const running = run(confirmDrops(), { answer: never, signal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 10));
    controller.abort(reason);
    const out = await running;
    expect(out.error).toBe(reason);
    expect(out.reachedUpstream).toBe(0);
    expect(out.decisions[0].outcome).toBe('withdrawn');
  });

  it('asks nothing about a call that was cancelled before it got here', async () => {
    const controller = new AbortController();
    controller.abort(new GatewayError('cancelled', 'cancelled by the client'));
    const out = await run(confirmDrops(), { signal: controller.signal });
    expect((out.error as GatewayError).kind).toBe('cancelled');
    expect(out.asked).toHaveLength(0);
    expect(out.reachedUpstream).toBe(0);
  });

  it('passes calls no approve rule names straight on, asking nothing', async () => {
    const policy = confirmDrops();
    expect(policy.methods).toEqual(['tools/call']);
    for (const to of [sqlQuery, docsPrompt, target('tool', 'sql', 'sql__dropped')]) {
      const out = await run(policy, { to, answer: never });
      expect(out.asked).toHaveLength(0);
      expect(out.result).toBe(RESULT);
      expect(out.decisions).toEqual([]);
    }
  });

  it('asks only the principals the rule is about, and not where its when: is false', async () => {
    const policy = approvalOf([
      {
        name: 'confirm-deletes',
        principals: { groups: ['analysts', 'ops'] },
        approve: { tools: ['*__delete_*'] },
        when: "principal.subject != 'break-glass'",
      },
    ]);
    const asked = await run(policy, { to: filesDelete, principal: alice });
    expect(asked.asked).toHaveLength(1);
    for (const principal of [breakGlass, bob]) {
      const out = await run(policy, { to: filesDelete, principal, answer: never });
      expect(out.asked).toHaveLength(0);
      expect(out.result).toBe(RESULT);
    }
  });

  it('reads arguments in when:, and asks when the condition cannot be evaluated', async () => {
    const policy = approvalOf([
      { name: 'prod-deletes', approve: { tools: ['files__*'] }, when: "args.path.startsWith('/prod/')" },
    ]);
    const prod = await run(policy, { to: filesDelete, args: { path: '/prod/db' } });
    expect(prod.asked).toHaveLength(1);
    const dev = await run(policy, { to: filesDelete, args: { path: '/dev/db' }, answer: never });
    expect(dev.asked).toHaveLength(0);
    expect(dev.reachedUpstream).toBe(1);
    // No `path` at all: the condition fails to evaluate, and a human decides rather than nobody.
    const unknown = await run(policy, {
      to: filesDelete,
      args: {},
      answer: async () => ({ action: 'decline' }),
    });
    expect(unknown.asked).toHaveLength(1);
    expect(refusal(unknown)).toContain('rule "prod-deletes"');
  });

  it('asks once, under the first rule in config order that applies', async () => {
    const policy = approvalOf([
      { name: 'not-alice', principals: { subjects: ['bob'] }, approve: { tools: ['*'], timeout: '1h' } },
      { name: 'first', approve: { tools: ['files__*'], timeout: '40ms' } },
      { name: 'second', approve: { tools: ['*__delete_*'] } },
    ]);
    const out = await run(policy, { to: filesDelete, answer: never });
    expect(out.asked).toHaveLength(1);
    expect(refusal(out)).toContain('within 40ms (approval required by rule "first")');
  });
});
