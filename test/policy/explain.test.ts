// `switchboard policy explain`: the principal from --as, the catalogue as one principal sees it with the rule
// behind each line, the decision for one call (args included), and the command itself on real upstreams.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { explainCall, explainCatalogue, parsePrincipal, policyWarnings } from '../../src/policy/explain.js';
import { ROOT, TSX } from '../helpers/gateway.js';
import { makeTempDir } from '../helpers/harness.js';
import {
  alice,
  docsPrompt,
  docsSearch,
  eve,
  getEnv,
  pages,
  policyOf,
  sqlQuery,
  target,
} from './rules-fixtures.js';

const POLICY = {
  default: 'deny',
  rules: [
    {
      name: 'analysts-read',
      principals: { groups: ['analysts'] },
      allow: { tools: ['sql__*', 'docs__*'], prompts: ['*'] },
    },
    { name: 'nobody-reads-env', deny: { tools: ['*__get-env'] } },
    { name: 'small-queries', deny: { tools: ['sql__query'] }, when: 'has(args.sql) && size(args.sql) > 20' },
  ],
};

describe('--as', () => {
  it('reads subject, repeated groups and scopes, client and via', () => {
    expect(
      parsePrincipal('subject=alice,groups=analysts,groups=ops,scopes=a b,scope=c,client=cli,via=jwt'),
    ).toEqual({
      subject: 'alice',
      groups: ['analysts', 'ops'],
      scopes: ['a', 'b', 'c'],
      clientId: 'cli',
      via: 'jwt',
    });
    expect(parsePrincipal('subject=bob')).toEqual({ subject: 'bob', groups: [], scopes: [], via: 'apiKey' });
  });

  it.each([
    ['groups=analysts', '--as: subject=NAME is required'],
    ['subject=a,team=x', '--as: unknown key "team" (subject, groups, scopes, client, via, endpoint)'],
    ['subject=a,via=magic', '--as: via must be one of apiKey, jwt, introspection, anonymous, stdio'],
    ['subject=', '--as: "subject" needs a value (key=value)'],
  ])('refuses %s', (text, message) => {
    expect(() => parsePrincipal(text)).toThrow(message);
  });
});

describe('the catalogue as one principal sees it', () => {
  const targets = [
    sqlQuery,
    getEnv,
    docsSearch,
    docsPrompt,
    target('upstream', 'sql', 'sql'),
    target('upstream', 'files', 'files'),
  ];

  it('marks each item seen or hidden with the rule or default that decided', () => {
    expect(explainCatalogue(policyOf(POLICY), alice, targets)).toBe(
      [
        'principal: subject=alice groups=analysts scopes=- client=- via=apiKey',
        '',
        'TOOLS: 2 of 3 visible',
        '  + sql__query      allowed by rule "analysts-read" (tools: "sql__*") (a rule on args decides each call)',
        '  - files__get-env  denied by rule "nobody-reads-env" (tools: "*__get-env")',
        '  + docs__search    allowed by rule "analysts-read" (tools: "docs__*")',
        '',
        'PROMPTS: 1 of 1 visible',
        '  + docs__summary  allowed by rule "analysts-read" (prompts: "*")',
        '',
        'RESOURCES: 0 of 0 visible',
        '',
        'RESOURCE TEMPLATES: 0 of 0 visible',
        '',
        'UPSTREAMS (instructions, logs, reads of unlisted URIs): 2 of 2 visible',
        '  + sql    some of what it publishes may be allowed',
        '  + files  some of what it publishes may be allowed',
        '',
      ].join('\n'),
    );
  });

  it('hides an upstream of which nothing can be allowed', () => {
    expect(explainCatalogue(policyOf(POLICY), eve, targets)).toContain(
      'UPSTREAMS (instructions, logs, reads of unlisted URIs): 0 of 2 visible\n' +
        '  - sql    nothing it publishes can be allowed to this principal\n',
    );
  });

  it('says that everything is visible when the config has no policy', () => {
    const text = explainCatalogue(undefined, eve, targets);
    expect(text).toContain('no policy: block in the config: every item is visible to everyone');
    expect(text).toContain('TOOLS: 3 of 3 visible');
  });
});

describe('the decision for one call', () => {
  const policy = policyOf(POLICY);

  it('lists every rule that names the item, and whether it counted', () => {
    expect(explainCall(policy, alice, 'tools/call', 'sql__query', sqlQuery, undefined)).toBe(
      [
        'principal: subject=alice groups=analysts scopes=- client=- via=apiKey',
        'request: tools/call sql__query',
        'item: tool of upstream sql (its own name: sql__query)',
        'decision: ALLOWED: allowed by rule "analysts-read" (tools: "sql__*") (a rule on args decides each call)',
        'rules that name it:',
        '  analysts-read  allow  sql__*  counts',
        '  small-queries  deny  sql__query  when: depends on args  does not count',
        '',
      ].join('\n'),
    );
  });

  it('with --args, evaluates the rules on args and says the client gets a forbidden error', () => {
    const text = explainCall(policy, alice, 'tools/call', 'sql__query', sqlQuery, {
      sql: 'select * from a_rather_long_table',
    });
    expect(text).toContain(
      'decision: DENIED: denied by rule "small-queries" (tools: "sql__query", when: true)',
    );
    expect(text).toContain('the client sees: a forbidden error (-32000); the item stays listed');
    expect(explainCall(policy, alice, 'tools/call', 'sql__query', sqlQuery, { sql: 'select 1' })).toContain(
      'decision: ALLOWED',
    );
  });

  it('refuses a URI read through a template the principal may not see, naming the template', () => {
    const templated = policyOf({
      default: 'allow',
      rules: [{ name: 'no-pages', deny: { resources: ['docs://page/{id}'] } }],
    });
    const page = target('resource', 'docs', 'docs://page/7');
    const text = explainCall(templated, eve, 'resources/read', page.name, page, undefined, pages);
    expect(text).toContain('read through the template docs://page/{id}');
    expect(text).toContain(
      'decision: DENIED: the template docs://page/{id}: denied by rule "no-pages" (resources: "docs://page/{id}")',
    );
    expect(explainCall(templated, eve, 'resources/read', page.name, page, undefined)).toContain(
      'decision: ALLOWED',
    );
  });

  it('says a hidden item looks absent, and an unknown name is unknown', () => {
    expect(explainCall(policy, eve, 'tools/call', 'docs__search', docsSearch, undefined)).toContain(
      'decision: DENIED: no rule allows it; the default is deny\nthe client sees: exactly the answer for a name that does not exist',
    );
    expect(explainCall(policy, eve, 'tools/call', 'x__y', undefined, undefined)).toContain(
      'decision: UNKNOWN: x__y is not in the catalogue',
    );
  });
});

describe('what check warns about', () => {
  it('names each glob that matches nothing, and under default deny the items no rule allows', () => {
    const policy = policyOf({
      default: 'deny',
      rules: [
        { name: 'typo', allow: { tools: ['sql__qurey', 'docs__*'] } },
        { name: 'env', deny: { tools: ['*__get-env'], resources: ['secret://*'] } },
      ],
    });
    expect(
      policyWarnings(policy, [sqlQuery, docsSearch, getEnv, docsPrompt, target('upstream', 'sql', 'sql')]),
    ).toEqual([
      'policy rule "typo": allow tools "sql__qurey" matches nothing in the catalogue',
      'policy rule "env": deny resources "secret://*" matches nothing in the catalogue',
      'policy: 3 item(s) no rule allows to anyone (default: deny): sql__query, files__get-env, docs__summary',
    ]);
  });

  it('has nothing to say about a policy that fits its catalogue', () => {
    const policy = policyOf({ default: 'allow', rules: [{ name: 'env', deny: { tools: ['*__get-env'] } }] });
    expect(policyWarnings(policy, [sqlQuery, getEnv])).toEqual([]);
  });
});

describe('switchboard policy explain', () => {
  it('starts the upstreams and prints what a principal sees, then the decision for one call', () => {
    const server = path.join(ROOT, 'test/fixtures/servers/visibility-server.ts');
    const upstream = (label: string) =>
      `{ command: ${JSON.stringify(process.execPath)}, args: ["--import", "${TSX}", ${JSON.stringify(server)}, "--label", "${label}"] }`;
    const config = path.join(makeTempDir('switchboard-explain-'), 'gateway.yaml');
    writeFileSync(
      config,
      [
        'upstreams:',
        `  a: ${upstream('a')}`,
        `  b: ${upstream('b')}`,
        'policy:',
        '  default: deny',
        '  rules:',
        "    - { name: analysts-a, principals: { groups: [analysts] }, allow: { tools: ['a__*'] } }",
        "    - { name: no-secrets, deny: { tools: ['*__secret'] } }",
      ].join('\n'),
    );
    const run = (...args: string[]) =>
      spawnSync(
        process.execPath,
        ['--import', 'tsx', path.join(ROOT, 'src/cli.ts'), 'policy', 'explain', '--config', config, ...args],
        {
          encoding: 'utf8',
          cwd: ROOT,
          timeout: 60_000,
        },
      );
    const seen = run('--as', 'subject=alice,groups=analysts');
    expect(seen.status).toBe(0);
    expect(seen.stdout).toContain('TOOLS: 4 of 10 visible');
    expect(seen.stdout).toMatch(/^ {2}- a__secret +denied by rule "no-secrets" \(tools: "\*__secret"\)$/m);
    expect(seen.stdout).toMatch(/^ {2}\+ a__echo +allowed by rule "analysts-a"/m);
    expect(seen.stdout).toMatch(/^ {2}- b__echo +no rule allows it; the default is deny$/m);
    expect(seen.stdout).toContain('UPSTREAMS (instructions, logs, reads of unlisted URIs): 1 of 2 visible');
    const one = run('--as', 'subject=eve', 'tools/call', 'a__echo');
    expect(one.status).toBe(0);
    expect(one.stdout).toContain('decision: DENIED: no rule allows it; the default is deny');
    const bad = run('--as', 'subject=eve', 'tools/call');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('switchboard policy: give METHOD NAME, or neither');
  }, 60_000);
});
