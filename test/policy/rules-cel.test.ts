// Rules with a `when:`: without args it decides lists and calls alike (an error decides closed); with args it
// leaves lists alone and refuses the call in `around`, with a decision event and a clear forbidden error.
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import type { Call, CallLog, Next, Principal, Target } from '../../src/policy/types.js';
import {
  alice,
  bob,
  docsPrompt,
  docsSearch,
  eve,
  guide,
  policyOf,
  sqlQuery,
  target,
} from './rules-fixtures.js';

/** A log that keeps what it is given at info. */
function recordingLog() {
  const lines: { fields: any; message?: string }[] = [];
  const log: CallLog = {
    debug() {},
    info: (fields, message) => void lines.push({ fields, message }),
    warn() {},
    error() {},
  };
  return { log, lines };
}

function callOf(principal: Principal, t: Target, args: unknown, log: CallLog, method = 'tools/call'): Call {
  return {
    method,
    params: { name: t.original, arguments: args },
    target: t,
    principal,
    signal: new AbortController().signal,
    log,
    askClient: async () => ({}),
  };
}

const forwarded: Next = async () => ({ value: { content: [{ type: 'text', text: 'done' }] } });

describe('a when: without args decides lists and calls alike', () => {
  it('applies a rule only where its condition holds', () => {
    const policy = policyOf({
      default: 'deny',
      rules: [
        {
          name: 'own-name',
          allow: { tools: ['*'] },
          when: "name.startsWith(principal.subject) || upstream == 'docs'",
        },
      ],
    });
    const aliceTool = target('tool', 'x', 'alice__notes');
    expect([aliceTool, docsSearch, sqlQuery].map((t) => policy.visible(alice, t))).toEqual([
      true,
      true,
      false,
    ]);
    expect([aliceTool, docsSearch, sqlQuery].map((t) => policy.visible(bob, t))).toEqual([
      false,
      true,
      false,
    ]);
  });

  it('reads method as the method the item stands for', () => {
    const policy = policyOf({
      default: 'allow',
      rules: [
        { name: 'no-prompts', deny: { prompts: ['*'], tools: ['*'] }, when: "method == 'prompts/get'" },
      ],
    });
    expect([policy.visible(eve, docsPrompt), policy.visible(eve, docsSearch)]).toEqual([false, true]);
  });

  it('a condition that fails to evaluate makes a deny apply and an allow not (fail closed)', () => {
    const policy = policyOf({
      default: 'allow',
      rules: [{ name: 'by-client', deny: { tools: ['sql__*'] }, when: "principal.clientId != 'ci-runner'" }],
    });
    // alice has no client id: the condition errors, so the deny applies; bob's client is excluded.
    expect([policy.visible(alice, sqlQuery), policy.visible(bob, sqlQuery)]).toEqual([false, true]);
    expect(policy.decide(alice, sqlQuery)).toMatchObject({
      allowed: false,
      rule: 'by-client',
      reason: expect.stringContaining('when: error: No such key: clientId'),
    });
    const allowing = policyOf({
      default: 'deny',
      rules: [{ name: 'by-client', allow: { tools: ['sql__*'] }, when: "principal.clientId == 'ci-runner'" }],
    });
    expect([allowing.visible(alice, sqlQuery), allowing.visible(bob, sqlQuery)]).toEqual([false, true]);
  });

  it('has no around face when no rule reads args (calls cost nothing extra)', () => {
    expect(
      policyOf({ default: 'allow', rules: [{ name: 'r', deny: { tools: ['*'] }, when: "upstream == 'x'" }] })
        .around,
    ).toBeUndefined();
  });
});

describe('a when: on args affects calls only, never lists', () => {
  const policy = policyOf({
    default: 'deny',
    rules: [
      { name: 'docs-tools', allow: { tools: ['docs__*'], prompts: ['docs__*'], resources: ['docs://*'] } },
      {
        name: 'no-deep-search',
        deny: { tools: ['docs__search'], prompts: ['docs__*'] },
        when: 'has(args.depth) && int(args.depth) > 2',
      },
      {
        name: 'sql-for-own-rows',
        allow: { tools: ['sql__query'] },
        when: 'has(args.owner) && args.owner == principal.subject',
      },
    ],
  });

  it('lists show the items whatever args would be', () => {
    for (const principal of [alice, bob, eve]) {
      expect(policy.visible(principal, docsSearch)).toBe(true);
      expect(policy.visible(principal, sqlQuery)).toBe(true);
      expect(policy.decide(principal, sqlQuery).dependsOnArgs).toBe(true);
    }
  });

  it('applies only to tools/call and prompts/get', () => {
    expect(policy.methods).toEqual(['tools/call', 'prompts/get']);
  });

  it('refuses the call with bad args and lets the same tool through with other args', async () => {
    const { log, lines } = recordingLog();
    await expect(
      policy.around!(callOf(alice, docsSearch, { q: 'x', depth: 5 }, log), forwarded),
    ).rejects.toMatchObject({
      kind: 'forbidden',
      message: 'Forbidden: the policy does not allow this call of docs__search with these arguments',
    });
    await expect(
      policy.around!(callOf(alice, docsSearch, { q: 'x', depth: 1 }, log), forwarded),
    ).resolves.toMatchObject({ value: { content: [{ text: 'done' }] } });
    await expect(
      policy.around!(callOf(alice, docsSearch, { q: 'x' }, log), forwarded),
    ).resolves.toBeDefined();
    expect(lines).toEqual([
      {
        message: 'policy decision',
        fields: {
          decision: {
            subject: 'alice',
            via: 'apiKey',
            method: 'tools/call',
            kind: 'tool',
            item: 'docs__search',
            upstream: 'docs',
            rule: 'no-deep-search',
            effect: 'deny',
            reason: 'denied by rule "no-deep-search" (tools: "docs__search", when: true)',
          },
        },
      },
    ]);
  });

  it('an allow on args allows only the calls whose args satisfy it', async () => {
    const { log } = recordingLog();
    await expect(
      policy.around!(callOf(bob, sqlQuery, { owner: 'bob' }, log), forwarded),
    ).resolves.toBeDefined();
    await expect(
      policy.around!(callOf(bob, sqlQuery, { owner: 'alice' }, log), forwarded),
    ).rejects.toBeInstanceOf(GatewayError);
    // No arguments at all: the allow's condition is false, the default (deny) decides.
    await expect(policy.around!(callOf(bob, sqlQuery, undefined, log), forwarded)).rejects.toMatchObject({
      kind: 'forbidden',
    });
  });

  it('applies to prompts/get arguments the same way', async () => {
    const { log } = recordingLog();
    const get = (depth: string) =>
      policy.around!(callOf(eve, docsPrompt, { depth }, log, 'prompts/get'), forwarded);
    await expect(get('3')).rejects.toMatchObject({ kind: 'forbidden' });
    await expect(get('1')).resolves.toBeDefined();
  });

  it('passes calls no args rule names straight on, resources included', async () => {
    const { log, lines } = recordingLog();
    const passed: Target[] = [];
    const next: Next = async (call) => (passed.push(call.target), { value: {} });
    await policy.around!(callOf(alice, target('tool', 'docs', 'docs__fetch'), { depth: 9 }, log), next);
    await policy.around!(callOf(alice, guide, undefined, log, 'resources/read'), next);
    expect(passed.map((t) => t.name)).toEqual(['docs__fetch', 'docs://guide']);
    expect(lines).toEqual([]);
  });
});
