// The per-call check of rules that read args evaluates only those rules (the rest were decided per view when
// the item resolved); it must give exactly the answer `decide` gives with the call, for any args and rules.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Call, CallLog, Next, Principal, Target } from '../../src/policy/types.js';
import { docsSearch, PRINCIPALS, policyOf, sqlQuery } from './rules-fixtures.js';

const quiet: CallLog = { debug() {}, info() {}, warn() {}, error() {} };
const forwarded: Next = async () => ({ value: {} });

function callOf(principal: Principal, t: Target, args: unknown): Call {
  return {
    method: 'tools/call',
    params: { name: t.original, arguments: args },
    target: t,
    principal,
    signal: new AbortController().signal,
    log: quiet,
    askClient: async () => ({}),
  };
}

/** Rules mixing unconditional, per-view and args conditions, allows and denies, on the two tools. */
const ruleArb = fc.record({
  effect: fc.constantFrom('allow', 'deny'),
  tools: fc.subarray(['sql__*', 'docs__*', 'sql__query', '*'], { minLength: 1 }),
  groups: fc.option(fc.subarray(['analysts', 'ops'], { minLength: 1 }), { nil: undefined }),
  when: fc.option(
    fc.constantFrom(
      'has(args.depth) && int(args.depth) > 2',
      'has(args.owner) && args.owner == principal.subject',
      "principal.subject == 'alice'",
      'args.depth > 1',
    ),
    { nil: undefined },
  ),
});

describe('the per-call check of args rules', () => {
  it('agrees with decide for every principal, tool, args and rule set', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('allow', 'deny'),
        fc.array(ruleArb, { minLength: 1, maxLength: 6 }),
        fc.record({
          depth: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }),
          owner: fc.option(fc.constantFrom('alice', 'bob', 'eve'), { nil: undefined }),
        }),
        async (defaultEffect, rawRules, rawArgs) => {
          const rules = rawRules.map((r, i) => ({
            name: `r${i}`,
            [r.effect]: { tools: r.tools },
            ...(r.groups ? { principals: { groups: r.groups } } : {}),
            ...(r.when ? { when: r.when } : {}),
          }));
          const policy = policyOf({ default: defaultEffect, rules });
          const args = Object.fromEntries(Object.entries(rawArgs).filter(([, v]) => v !== undefined));
          for (const principal of PRINCIPALS) {
            for (const tool of [sqlQuery, docsSearch]) {
              // Only a visible item reaches a call.
              if (!policy.visible(principal, tool)) continue;
              const expected = policy.decide(principal, tool, { method: 'tools/call', args }).allowed;
              const call = callOf(principal, tool, args);
              const run = policy.around ? policy.around(call, forwarded) : forwarded(call);
              const allowed = await run.then(
                () => true,
                () => false,
              );
              expect(allowed, JSON.stringify({ defaultEffect, rules, args, who: principal.subject })).toBe(
                expected,
              );
            }
          }
        },
      ),
      { numRuns: 300, seed: 10 },
    );
  });
});
