// `switchboard policy explain` over a curated upstream, run as users run it: the catalogue and the decisions
// are in public names, renames included, and the old name of a renamed tool is unknown.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, TSX } from '../helpers/gateway.js';
import { makeTempDir } from '../helpers/harness.js';

const config = path.join(makeTempDir('switchboard-curation-'), 'gateway.json');
writeFileSync(
  config,
  JSON.stringify({
    upstreams: {
      crm: {
        command: process.execPath,
        args: ['--import', TSX, path.join(ROOT, 'test/fixtures/servers/args-server.ts')],
        tools: { rename: { find_customer: 'search' }, fixArgs: { find_customer: { tenant: 'acme' } } },
      },
    },
    policy: {
      default: 'deny',
      rules: [
        { name: 'analysts-search', principals: { groups: ['analysts'] }, allow: { tools: ['crm__search'] } },
      ],
    },
  }),
);

const explain = (...request: string[]) =>
  spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      path.join(ROOT, 'src/cli.ts'),
      'policy',
      'explain',
      '--config',
      config,
      '--as',
      'subject=alice,groups=analysts',
      ...request,
    ],
    { encoding: 'utf8', cwd: ROOT, timeout: 60_000 },
  );

describe('policy explain with curation', () => {
  it('shows the catalogue by public names, a renamed tool under its new name', () => {
    const run = explain();
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^ {2}\+ crm__search +allowed by rule "analysts-search"/m);
    expect(run.stdout).toMatch(/^ {2}- crm__lookup /m);
    expect(run.stdout).not.toContain('find_customer');
  });

  it('decides a call of the renamed tool by its new name, and names the upstream’s own', () => {
    const run = explain('tools/call', 'crm__search');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('item: tool of upstream crm (its own name: find_customer)');
    expect(run.stdout).toContain('decision: ALLOWED: allowed by rule "analysts-search"');
    const old = explain('tools/call', 'crm__find_customer');
    expect(old.stdout).toContain('decision: UNKNOWN: crm__find_customer is not in the catalogue');
  });
});
