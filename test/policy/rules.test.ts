// The rule engine, pure: tables of principals and targets against literal policies. Deny overrides allow in
// every order, the default decides the rest, each principal field matches, globs match whole names only.
import { describe, expect, it } from 'vitest';
import {
  alice,
  bob,
  docsPrompt,
  docsSearch,
  eve,
  getEnv,
  guide,
  pages,
  permutations,
  policyOf,
  PRINCIPALS,
  sqlDrop,
  sqlQuery,
  target,
  TARGETS,
} from './rules-fixtures.js';

const RULES = [
  { name: 'everyone-reads-docs', allow: { tools: ['docs__*'], prompts: ['*'], resources: ['docs://*'] } },
  { name: 'analysts-sql', principals: { groups: ['analysts'] }, allow: { tools: ['sql__*'] } },
  { name: 'nobody-drops', deny: { tools: ['*__drop_*'] } },
  { name: 'nobody-reads-env', deny: { tools: ['*__get-env'] } },
  { name: 'ci-everything', principals: { groups: ['ci'] }, allow: { tools: ['*'] } },
];

/** What RULES decide, principal by target, under `default: deny`. */
const EXPECTED: Record<string, Record<string, boolean>> = {
  alice: {
    sql__query: true,
    sql__drop_table: false,
    docs__search: true,
    'files__get-env': false,
    docs__summary: true,
    'docs://guide': true,
    'docs://page/{id}': true,
  },
  bob: {
    sql__query: true,
    sql__drop_table: false,
    docs__search: true,
    'files__get-env': false,
    docs__summary: true,
    'docs://guide': true,
    'docs://page/{id}': true,
  },
  eve: {
    sql__query: false,
    sql__drop_table: false,
    docs__search: true,
    'files__get-env': false,
    docs__summary: true,
    'docs://guide': true,
    'docs://page/{id}': true,
  },
};

describe('deny overrides allow, so rule order never changes a decision', () => {
  const orders = permutations(RULES);
  it(`gives the same decision for every principal and item in all ${orders.length} orders`, () => {
    expect(orders).toHaveLength(120);
    for (const rules of orders) {
      const policy = policyOf({ default: 'deny', rules });
      for (const principal of PRINCIPALS)
        for (const t of TARGETS) {
          const expected = EXPECTED[principal.subject][t.name];
          expect({
            order: rules.map((r) => r.name),
            who: principal.subject,
            item: t.name,
            seen: policy.visible(principal, t),
          }).toEqual({
            order: rules.map((r) => r.name),
            who: principal.subject,
            item: t.name,
            seen: expected,
          });
          expect(policy.decide(principal, t).allowed).toBe(expected);
        }
    }
  });

  it('names the deny that decided, even when an allow for the same item comes first', () => {
    const decision = policyOf({ default: 'deny', rules: RULES }).decide(bob, sqlDrop);
    expect(decision).toMatchObject({ allowed: false, rule: 'nobody-drops', effect: 'deny' });
    expect(decision.matches.map((m) => `${m.rule}:${m.effect}`).sort()).toEqual([
      'ci-everything:allow',
      'nobody-drops:deny',
    ]);
  });
});

describe('the default decides what no rule names', () => {
  it.each([
    ['allow', true],
    ['deny', false],
  ] as const)('default %s with no rules: every item is %s', (effect, seen) => {
    const policy = policyOf({ default: effect });
    for (const principal of PRINCIPALS)
      for (const t of TARGETS) expect(policy.visible(principal, t)).toBe(seen);
    expect(policy.decide(alice, sqlQuery)).toMatchObject({
      allowed: seen,
      effect,
      reason: expect.stringContaining(`the default is ${effect}`),
    });
  });

  it('default allow with one deny hides that item only', () => {
    const policy = policyOf({
      default: 'allow',
      rules: [{ name: 'no-env', deny: { tools: ['*__get-env'] } }],
    });
    expect(TARGETS.filter((t) => !policy.visible(eve, t))).toEqual([getEnv]);
  });

  it('default deny with one allow shows that item only', () => {
    const policy = policyOf({
      default: 'deny',
      rules: [{ name: 'search', allow: { tools: ['docs__search'] } }],
    });
    expect(TARGETS.filter((t) => policy.visible(eve, t))).toEqual([docsSearch]);
  });
});

describe('a rule is about the principals its lists match (any entry of a list, every list given)', () => {
  const rows: [string, Record<string, unknown>, string[]][] = [
    ['subjects', { subjects: ['alice'] }, ['alice']],
    ['subjects with a glob', { subjects: ['*e'] }, ['alice', 'eve']],
    ['groups (any of the principal’s)', { groups: ['builders'] }, ['bob']],
    ['groups, either of two', { groups: ['analysts', 'ci'] }, ['alice', 'bob']],
    ['scopes', { scopes: ['mcp:tools'] }, ['bob']],
    ['clients', { clients: ['ci-*'] }, ['bob']],
    ['via', { via: ['apiKey', 'anonymous'] }, ['alice', 'eve']],
    ['two lists: both must match', { groups: ['analysts', 'ci'], via: ['jwt'] }, ['bob']],
    ['no principals: everyone', {}, ['alice', 'bob', 'eve']],
  ];
  it.each(rows)('%s', (_label, principals, matched) => {
    const rule = {
      name: 'r',
      allow: { tools: ['sql__query'] },
      ...(Object.keys(principals).length ? { principals } : {}),
    };
    const policy = policyOf({ default: 'deny', rules: [rule] });
    expect(PRINCIPALS.filter((p) => policy.visible(p, sqlQuery)).map((p) => p.subject)).toEqual(matched);
  });

  it('a principal without a client id never matches a clients list', () => {
    const policy = policyOf({
      default: 'deny',
      rules: [{ name: 'r', principals: { clients: ['*'] }, allow: { tools: ['*'] } }],
    });
    expect(PRINCIPALS.filter((p) => policy.visible(p, sqlQuery)).map((p) => p.subject)).toEqual(['bob']);
  });
});

describe('globs match whole public names and URIs, `*` being any run of characters', () => {
  const rows: [string, string, boolean][] = [
    ['*', 'sql__query', true],
    ['sql__*', 'sql__query', true],
    ['sql__*', 'sqlx__query', false],
    ['*__query', 'sql__query', true],
    ['sql__q*y', 'sql__query', true],
    ['sql__query', 'sql__query', true],
    ['sql__quer', 'sql__query', false],
    ['sql.query', 'sqlXquery', false],
    ['docs://*', 'docs://guide', true],
    ['docs://page/*', 'docs://page/{id}', true],
    ['docs://page/{id}', 'docs://page/{id}', true],
    ['(a|b)', 'a', false],
  ];
  it.each(rows)('%s against %s: %s', (glob, name, matched) => {
    const policy = policyOf({
      default: 'deny',
      rules: [{ name: 'r', allow: { tools: [glob], resources: [glob] } }],
    });
    const kind = name.includes('://') ? (name.includes('{') ? 'template' : 'resource') : 'tool';
    expect(policy.visible(eve, target(kind, 'x', name))).toBe(matched);
  });

  it('a tools glob says nothing about prompts or resources', () => {
    const policy = policyOf({ default: 'deny', rules: [{ name: 'r', allow: { tools: ['*'] } }] });
    expect([docsPrompt, guide, pages].map((t) => policy.visible(alice, t))).toEqual([false, false, false]);
  });
});
