// Views and upstreams: the view key carries exactly what the rules tell principals apart by (so the same view
// is one cached list), an upstream as a whole is visible when something of it could be, and the cached fast
// path agrees with the explained decision on random policies.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Principal, Target } from '../../src/policy/types.js';
import { alice, bob, eve, NAMES, policyOf, PRINCIPALS, target, TARGETS } from './rules-fixtures.js';

const as = (subject: string, groups: string[] = [], extra: Partial<Principal> = {}): Principal => ({
  subject,
  groups,
  scopes: [],
  via: 'apiKey',
  ...extra,
});
const upstream = (name: string): Target => target('upstream', name, name);

describe('the view key', () => {
  it('is the same for principals no rule tells apart, and differs where a rule does', () => {
    const policy = policyOf({
      default: 'deny',
      rules: [
        { name: 'analysts', principals: { groups: ['analysts'] }, allow: { tools: ['sql__*'] } },
        { name: 'all-docs', allow: { tools: ['docs__*'] } },
      ],
    });
    const key = (p: Principal) => policy.viewKey(p);
    // Subjects and groups no rule names do not split views.
    expect(key(as('ann', ['analysts', 'x']))).toBe(key(as('zed', ['analysts', 'y'])));
    expect(key(as('ann'))).toBe(key(as('zed', ['ci'])));
    expect(key(as('ann', ['analysts']))).not.toBe(key(as('ann')));
  });

  it('names the subject only when a rule names subjects', () => {
    const bySubject = policyOf({
      default: 'deny',
      rules: [{ name: 'r', principals: { subjects: ['ann'] }, allow: { tools: ['*'] } }],
    });
    expect(bySubject.viewKey(as('ann'))).not.toBe(bySubject.viewKey(as('zed')));
    expect(bySubject.viewKey(as('zed'))).toBe(bySubject.viewKey(as('max')));
  });

  it('carries the principal fields a when: reads, sorted, but not those an args when: reads', () => {
    const policy = policyOf({
      default: 'deny',
      rules: [
        { name: 'own', allow: { tools: ['*'] }, when: 'name.startsWith(principal.subject)' },
        { name: 'by-args', allow: { prompts: ['*'] }, when: 'args.team in principal.groups' },
      ],
    });
    expect(policy.viewKey(as('ann', ['b', 'a']))).not.toBe(policy.viewKey(as('zed', ['b', 'a'])));
    expect(policy.viewKey(as('ann', ['b', 'a']))).toBe(policy.viewKey(as('ann', ['a', 'b', 'c'])));
  });

  it('is empty when nothing in the policy reads the principal', () => {
    const policy = policyOf({ default: 'allow', rules: [{ name: 'r', deny: { tools: ['*__get-env'] } }] });
    expect(PRINCIPALS.map((p) => policy.viewKey(p))).toEqual(['', '', '']);
  });
});

describe('an upstream as a whole (instructions, logs, probes)', () => {
  const visibleUpstreams = (raw: unknown, principal: Principal) => {
    const policy = policyOf(raw);
    return ['sql', 'docs', 'files'].filter((name) => policy.visible(principal, upstream(name)));
  };

  it('is visible when a rule about the principal could allow something it publishes', () => {
    const raw = {
      default: 'deny',
      rules: [
        {
          name: 'analysts',
          principals: { groups: ['analysts'] },
          allow: { tools: ['sql__q*'], prompts: ['docs__*'] },
        },
        { name: 'ci', principals: { groups: ['ci'] }, allow: { tools: ['files__*'] } },
      ],
    };
    expect(visibleUpstreams(raw, alice)).toEqual(['sql', 'docs']);
    expect(visibleUpstreams(raw, bob)).toEqual(['files']);
    expect(visibleUpstreams(raw, eve)).toEqual([]);
  });

  it('is hidden by unconditional denies that name all of it, and not by one that names part of it', () => {
    const raw = (deny: Record<string, string[]>) => ({ default: 'allow', rules: [{ name: 'd', deny }] });
    expect(visibleUpstreams(raw({ tools: ['sql__*'], prompts: ['sql__*'], resources: ['*'] }), eve)).toEqual([
      'docs',
      'files',
    ]);
    expect(visibleUpstreams(raw({ tools: ['sql__*'], prompts: ['sql__*'] }), eve)).toEqual([
      'sql',
      'docs',
      'files',
    ]);
    expect(visibleUpstreams(raw({ tools: ['*'], prompts: ['*'], resources: ['*'] }), eve)).toEqual([]);
    expect(visibleUpstreams(raw({ tools: ['s*'], prompts: ['*'], resources: ['*'] }), eve)).toEqual([
      'docs',
      'files',
    ]);
  });

  it('decides a when: on upstream exactly, and counts one on name as possibly true', () => {
    const hideDocs = {
      default: 'allow',
      rules: [
        { name: 'd', deny: { tools: ['*'], prompts: ['*'], resources: ['*'] }, when: "upstream == 'docs'" },
      ],
    };
    expect(visibleUpstreams(hideDocs, eve)).toEqual(['sql', 'files']);
    const byName = {
      default: 'allow',
      rules: [{ name: 'd', deny: { tools: ['*'], prompts: ['*'], resources: ['*'] }, when: "name != ''" }],
    };
    expect(visibleUpstreams(byName, eve)).toEqual(['sql', 'docs', 'files']);
    const allowByName = {
      default: 'deny',
      rules: [{ name: 'a', allow: { tools: ['sql__*'] }, when: "name.endsWith('query')" }],
    };
    expect(visibleUpstreams(allowByName, eve)).toEqual(['sql']);
  });

  it('treats every upstream as possibly named when prefixes are unknown', () => {
    const policy = policyOf({ default: 'deny', rules: [{ name: 'a', allow: { tools: ['sql__*'] } }] }, null);
    expect(['sql', 'docs'].map((name) => policy.visible(eve, upstream(name)))).toEqual([true, true]);
  });

  it('is visible whenever one of its items is (random policies)', () => {
    fc.assert(
      fc.property(policyArbitrary, (raw) => {
        const policy = policyOf(raw, NAMES);
        for (const principal of PRINCIPALS)
          for (const t of TARGETS)
            if (policy.visible(principal, t))
              expect(policy.visible(principal, upstream(t.upstream))).toBe(true);
      }),
      { numRuns: 150 },
    );
  });
});

const glob = fc.constantFrom(
  '*',
  'sql__*',
  'docs__*',
  '*__get-env',
  'sql__query',
  'docs://*',
  'docs://page/*',
  '*e*',
);
const items = fc.record(
  {
    tools: fc.array(glob, { minLength: 1, maxLength: 3 }),
    resources: fc.array(glob, { minLength: 1, maxLength: 2 }),
    prompts: fc.array(glob, { minLength: 1, maxLength: 2 }),
  },
  { requiredKeys: [] },
);
const when = fc.constantFrom(
  undefined,
  "upstream == 'sql'",
  "name.contains('e')",
  "'analysts' in principal.groups",
  "principal.clientId == 'ci-runner'",
  'has(args.x) && args.x == 1',
);
const principals = fc.constantFrom(
  undefined,
  { groups: ['analysts'] },
  { subjects: ['b*'] },
  { via: ['anonymous' as const] },
);
const ruleArbitrary = fc.record({
  allow: fc.option(items, { nil: undefined }),
  deny: fc.option(items, { nil: undefined }),
  when,
  principals,
});
const policyArbitrary = fc.record({
  default: fc.constantFrom('allow', 'deny'),
  rules: fc.array(ruleArbitrary, { maxLength: 6 }).map((rules) =>
    rules
      .map((r, i) => ({
        name: `r${i}`,
        ...Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)),
      }))
      // A rule needs an effect, and a when on args does not go with resources.
      .filter(
        (r: any) =>
          (r.allow || r.deny) &&
          !(String(r.when).includes('args') && (r.allow?.resources || r.deny?.resources)),
      ),
  ),
});

describe('the cached fast path', () => {
  it('agrees with the explained decision on random policies, asked twice (the second time from memory)', () => {
    fc.assert(
      fc.property(policyArbitrary, (raw) => {
        const policy = policyOf(raw);
        for (let round = 0; round < 2; round++)
          for (const principal of PRINCIPALS)
            for (const t of TARGETS)
              expect(policy.visible(principal, t)).toBe(policy.decide(principal, t).allowed);
      }),
      { numRuns: 200 },
    );
  });

  it('gives every principal of one view the same answers', () => {
    fc.assert(
      fc.property(policyArbitrary, (raw) => {
        const policy = policyOf(raw);
        const others = [
          as('alice', ['analysts']),
          as('ann', ['analysts']),
          as('bert', ['ci'], { via: 'jwt' }),
          bob,
          eve,
        ];
        for (const a of [...PRINCIPALS, ...others])
          for (const b of others)
            if (policy.viewKey(a) === policy.viewKey(b))
              for (const t of TARGETS) expect(policy.visible(b, t)).toBe(policy.decide(a, t).allowed);
      }),
      { numRuns: 150 },
    );
  });
});
