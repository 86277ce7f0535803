// Issue 9 point 3 (process part): a stdio upstream that fails to start or hangs at start-up is explained by
// its own last stderr lines; children inherit the proxy and CA variables a user behind a proxy needs, and
// never NODE_OPTIONS or anything else the README does not list.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { INHERITED_ENV } from '../../src/upstreams/process-group.js';
import { ROOT, TSX } from '../helpers/gateway.js';
import { makeTempDir, useHarness } from '../helpers/harness.js';

const h = useHarness();
const HANG = path.join(ROOT, 'test/fixtures/servers/d-stderr-hang.ts');
const RAW = path.join(ROOT, 'test/fixtures/servers/d-raw-server.ts');
const dir = makeTempDir('switchboard-startup-');
const LAST_LINE =
  'npm error request to https://registry.npmjs.org/ failed, reason: unable to get local issuer certificate';

const hang = (extra: string[] = []) => ({
  command: process.execPath,
  args: ['--import', TSX, HANG, ...extra],
});

async function readyz(url: string) {
  return (await fetch(url.replace(/\/mcp$/, '/readyz'))).json();
}

const saved = { ...process.env };
afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
});

describe('start-up failures say why', () => {
  it('a start-up that hangs past startTimeout shows the last stderr lines, the unterminated one too', async () => {
    const gw = await h.gateway({ upstreams: { stuck: { ...hang(), startTimeout: '1500ms' } } });
    const state = (await readyz(gw.url)).upstreams.stuck;
    expect(state.state).toBe('down');
    expect(state.error).toMatch(/^MCP error -32001: Request timed out/);
    expect(state.error).toContain('stderr: npm error code UNABLE_TO_GET_ISSUER_CERT_LOCALLY | ' + LAST_LINE);
    // The gateway stopped it; "killed by SIGTERM" would blame someone else.
    expect(state.error).not.toContain('killed by');
  });

  it('a start-up that exits shows the exit code and the last stderr lines', async () => {
    const gw = await h.gateway({ upstreams: { broken: hang(['--exit', '3']) } });
    const state = (await readyz(gw.url)).upstreams.broken;
    expect(state.error).toContain('the process exited with code 3; stderr: npm error code');
    expect(state.error).toContain(LAST_LINE);
  });

  it('switchboard check prints the stderr of an upstream that hangs at start-up', () => {
    const file = path.join(dir, 'check.json');
    writeFileSync(file, JSON.stringify({ upstreams: { stuck: { ...hang(), startTimeout: '1s' } } }));
    const result = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'src/cli.ts'), 'check', '--config', file],
      { encoding: 'utf8', cwd: ROOT, timeout: 30_000 },
    );
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^stuck\s+down\s.*Request timed out.*stderr: npm error code/m);
    expect(result.stdout).toContain(LAST_LINE);
  });

  it('a child that writes an endless stderr line does not grow the gateway: the shown tail is bounded', async () => {
    const script = path.join(dir, 'endless-stderr.mjs');
    writeFileSync(
      script,
      "const c = 'e'.repeat(65536); const pump = () => { while (process.stderr.write(c)); process.stderr.once('drain', pump); }; pump(); process.stdin.resume();",
    );
    const gw = await h.gateway({
      upstreams: { noisy: { command: process.execPath, args: [script], startTimeout: '1500ms' } },
    });
    const state = (await readyz(gw.url)).upstreams.noisy;
    expect(state.error).toMatch(/Request timed out.*stderr: e+/);
    expect(state.error.length).toBeLessThan(2000);
  });
});

describe('what a stdio child inherits', () => {
  async function childEnv(extraEnv: Record<string, string> = {}) {
    const gw = await h.gateway({
      upstreams: {
        raw: { command: process.execPath, args: ['--import', TSX, RAW], env: extraEnv },
      },
    });
    const client = await h.client(gw);
    const result = await client.callTool({ name: 'raw__env', arguments: {} });
    return JSON.parse((result.content as { text: string }[])[0].text) as Record<string, string>;
  }

  it('passes the proxy and CA variables, in both cases, and never NODE_OPTIONS', async () => {
    const given: Record<string, string> = {
      HTTP_PROXY: 'http://proxy.example:3128',
      HTTPS_PROXY: 'http://proxy.example:3129',
      NO_PROXY: 'localhost,.internal',
      http_proxy: 'http://lower.example:3128',
      https_proxy: 'http://lower.example:3129',
      no_proxy: '127.0.0.1',
      NODE_EXTRA_CA_CERTS: '/etc/ssl/corp-ca.pem',
      SSL_CERT_FILE: '/etc/ssl/cert.pem',
      SSL_CERT_DIR: '/etc/ssl/certs',
    };
    Object.assign(process.env, given, {
      NODE_OPTIONS: '--max-old-space-size=4096',
      AWS_SECRET_ACCESS_KEY: 'never-inherited',
      GITHUB_TOKEN: 'never-inherited',
    });
    const env = await childEnv();
    expect(env).toMatchObject(given);
    expect(env.NODE_OPTIONS).toBeUndefined();
    expect(env.AWS_SECRET_ACCESS_KEY).toBeUndefined();
    expect(env.GITHUB_TOKEN).toBeUndefined();
    // Only the listed variables (and what node sets itself) reach the child.
    const allowed = new Set([...INHERITED_ENV, 'OLDPWD', 'PWD', 'SHLVL', '_']);
    expect(Object.keys(env).filter((key) => !allowed.has(key))).toEqual([]);
  });

  it('NODE_OPTIONS reaches a child only when the config names it in env', async () => {
    process.env.NODE_OPTIONS = '--max-old-space-size=4096';
    const env = await childEnv({ NODE_OPTIONS: '--no-deprecation', HTTPS_PROXY: 'http://mine:1' });
    expect(env.NODE_OPTIONS).toBe('--no-deprecation');
    expect(env.HTTPS_PROXY).toBe('http://mine:1');
  });

  it('the README lists exactly the variables the code passes on', async () => {
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const row = readme.split('\n').find((line) => line.includes('upstreams.<name>.command/args/env/cwd'))!;
    // What the row says is inherited, up to the word "never" (after which it names what is not).
    const listed = [...row.split('never')[0].matchAll(/`([A-Za-z_]+)`/g)].map((m) => m[1]);
    const inherited = listed.filter((name) => name === name.toUpperCase() || /_proxy$/.test(name));
    expect(row).toContain('never `NODE_OPTIONS`');
    expect(new Set(inherited)).toEqual(new Set(INHERITED_ENV));
  });
});
