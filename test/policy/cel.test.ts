// The `when:` compiler: what an expression reads (which decides views and whether calls are checked), the
// CEL language cases rules rely on, and errors that stop start-up with the rule's name and a column.
import { describe, expect, it } from 'vitest';
import { compileWhen } from '../../src/policy/cel.js';
import { policySchema } from '../../src/policy/rules-schema.js';

const context = {
  principal: { subject: 'alice', groups: ['analysts', 'ops'], scopes: ['mcp:tools'], via: 'apiKey' },
  method: 'tools/call',
  name: 'files__read',
  upstream: 'files',
  args: { path: '/srv/docs/a.md', count: 10, opts: { recursive: true }, tags: ['x'] },
};

describe('what a when: reads', () => {
  const rows: [string, Record<string, unknown>][] = [
    ["principal.subject == 'a'", { args: false, name: false, principal: ['subject'] }],
    ["'ops' in principal.groups && principal.via == 'jwt'", { principal: ['groups', 'via'] }],
    ["principal['subject'] == 'a'", { principal: 'all' }],
    ["principal.groups.exists(g, g == 'a')", { principal: ['groups'] }],
    ["has(args.path) && args.path.startsWith('/srv/')", { args: true, principal: [] }],
    ["name.startsWith('sql__') || upstream == 'docs'", { name: true, upstream: true, method: false }],
    ["method == 'prompts/get'", { method: true, name: false }],
    ["'args' == name", { args: false, name: true }],
  ];
  it.each(rows)('%s', (source, expected) => {
    const { reads } = compileWhen(source);
    const seen = { ...reads, principal: reads.principal === 'all' ? 'all' : [...reads.principal].sort() };
    expect(seen).toMatchObject(expected);
  });
});

describe('the CEL a rule uses', () => {
  const rows: [string, boolean][] = [
    ["name.startsWith('files__') && name.endsWith('__read')", true],
    ["name.matches('^files__[a-z]+$')", true],
    ["'analysts' in principal.groups", true],
    ["'admins' in principal.groups", false],
    ['has(args.path)', true],
    ['has(args.missing)', false],
    ["'path' in args", true],
    ['args.count > 5 && args.count == 10', true],
    ['args.opts.recursive', true],
    ["'x' in args.tags", true],
    ["!has(args.missing) || args.missing == 'y'", true],
    ["principal.subject + '@' + upstream == 'alice@files'", true],
  ];
  it.each(rows)('%s is %s', (source, value) => {
    expect(compileWhen(source).evaluate(context)).toBe(value);
  });

  it('a missing key is an error, not false (the rule then decides closed)', () => {
    expect(() => compileWhen("args.missing == 'x'").evaluate(context)).toThrow(/No such key: missing/);
    expect(() => compileWhen("principal.clientId == 'x'").evaluate(context)).toThrow(/No such key/);
  });

  it('an object key from the prototype is not a field', () => {
    expect(compileWhen('has(args.constructor)').evaluate(context)).toBe(false);
  });
});

describe('a bad when: stops the config with the rule name and the CEL error', () => {
  const rows: [string, string][] = [
    ["name.startsWith('x'", 'CEL syntax error: Expected RPAREN, got EOF (column 20)'],
    ["princpal.subject == 'a'", 'CEL error: Unknown variable: princpal (column 1)'],
    ["name.startWith('x')", "CEL error: found no matching overload for 'string.startWith(string)'"],
    ['name > 5', 'CEL error: no such overload: string > int'],
    ['1 + 2', 'CEL error: the expression must be true or false, it is int'],
  ];
  it.each(rows)('%s', (when, message) => {
    const parsed = policySchema.safeParse({
      default: 'deny',
      rules: [{ name: 'bad-one', allow: { tools: ['*'] }, when }],
    });
    expect(parsed.success).toBe(false);
    const issue = parsed.error!.issues[0];
    expect(issue.path).toEqual(['rules', 0, 'when']);
    expect(issue.message.startsWith(`rule "bad-one": ${message}`)).toBe(true);
  });

  it('refuses a when that reads args on a rule about resources (arguments exist on calls only)', () => {
    const parsed = policySchema.safeParse({
      default: 'deny',
      rules: [{ name: 'r', allow: { resources: ['*'] }, when: 'has(args.x)' }],
    });
    expect(parsed.error?.issues[0].message).toMatch(/applies to tools and prompts only/);
  });

  it('refuses a rule with neither allow nor deny, a name used twice, and an empty principal list', () => {
    const parsed = policySchema.safeParse({
      default: 'allow',
      rules: [
        { name: 'a', principals: { groups: [] }, deny: { tools: ['*'] } },
        { name: 'a', allow: { tools: ['*'] } },
        { name: 'b' },
      ],
    });
    expect(parsed.error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`)).toEqual([
      'rules.0.principals.groups: an empty list matches nothing; leave the key out to match everyone',
      'rules.1.name: rule name "a" is used twice',
      'rules.2: rule "b" needs allow, deny, approve, guards or secrets',
    ]);
  });
});
