// What a reload would change (reload-diff.ts) and `switchboard check --diff --config NEW --against RUNNING`:
// upstreams added, removed and changed, API keys counted and never shown, rules and endpoints, and the keys
// that need a restart.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/gateway/config.js';
import { configDiff, describeDiff } from '../../src/gateway/reload-diff.js';
import { basicStdio, ROOT, TSX } from '../helpers/gateway.js';
import { makeTempDir } from '../helpers/harness.js';

const SECRET = 'never-printed-0123456789';

const running = {
  listen: { host: '127.0.0.1', port: 8080 },
  auth: {
    resource: 'http://127.0.0.1/mcp',
    apiKeys: [
      { subject: 'alice', key: 'alice-key-0123456789' },
      { subject: 'bob', key: 'bob-key-0123456789' },
    ],
  },
  upstreams: { a: basicStdio('a'), b: basicStdio('b'), c: basicStdio('c') },
  policy: { default: 'allow', rules: [{ name: 'r1', deny: { tools: ['a__add'] } }] },
};

const next = {
  ...running,
  listen: { host: '127.0.0.1', port: 9090 },
  auth: {
    resource: 'http://gw.example/mcp',
    apiKeys: [
      { subject: 'alice', key: 'alice-key-0123456789' },
      { subject: 'bob', key: SECRET },
    ],
  },
  upstreams: { a: basicStdio('a'), c: basicStdio('c', ['--extra']), d: basicStdio('d') },
  policy: {
    default: 'allow',
    rules: [
      { name: 'r1', deny: { tools: ['a__echo'] } },
      { name: 'r2', deny: { tools: ['d__*'] } },
    ],
  },
  endpoints: { ops: { tools: ['a__*'] } },
};

describe('configDiff', () => {
  it('names upstreams, counts keys, names rules and the keys that need a restart', () => {
    const diff = configDiff(parseConfig(running), parseConfig(next));
    expect(diff.upstreams).toEqual({ added: ['d'], removed: ['b'], changed: ['c'] });
    expect(diff.apiKeys).toEqual({ added: 1, removed: 1, total: 2 });
    expect(diff.rules).toEqual({ added: ['r2'], removed: [], changed: ['r1'] });
    expect(diff.endpoints.added).toEqual(['ops']);
    expect(diff.restartOnly).toEqual(['listen', 'auth.resource', 'endpoints (names)']);
    expect(describeDiff(diff).join('\n')).not.toContain(SECRET);
  });

  it('finds nothing between a config and itself, and restarts every upstream when defaults change', () => {
    expect(describeDiff(configDiff(parseConfig(running), parseConfig(running)))).toEqual([]);
    const slower = parseConfig({ ...running, defaults: { timeout: '2m' } });
    expect(configDiff(parseConfig(running), slower).upstreams.changed).toEqual(['a', 'b', 'c']);
  });
});

describe('switchboard check --diff', () => {
  const cli = (args: string[]) =>
    spawnSync(process.execPath, ['--import', TSX, path.join(ROOT, 'src/cli.ts'), 'check', ...args], {
      encoding: 'utf8',
      timeout: 30_000,
    });

  it('prints what a reload would change, without connecting', () => {
    const dir = makeTempDir('reload-diff-');
    const old = path.join(dir, 'running.json');
    const fresh = path.join(dir, 'next.json');
    writeFileSync(old, JSON.stringify(running));
    writeFileSync(fresh, JSON.stringify(next));
    const result = cli(['--diff', '--config', fresh, '--against', old]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('upstreams added: d\n');
    expect(result.stdout).toContain('upstreams removed: b\n');
    expect(result.stdout).toContain('upstreams changed (restarted): c\n');
    expect(result.stdout).toContain('auth.apiKeys: 1 added, 1 removed (2 in total)\n');
    expect(result.stdout).toContain('policy rules changed: r1\n');
    expect(result.stdout).toContain('restart required for: listen, auth.resource, endpoints (names)\n');
    expect(result.stdout).not.toContain(SECRET);
    expect(cli(['--diff', '--config', old, '--against', old]).stdout).toBe('no changes\n');
  });

  it('refuses an invalid file naming the key, and --diff without --against', () => {
    const dir = makeTempDir('reload-diff-');
    const old = path.join(dir, 'running.json');
    const bad = path.join(dir, 'bad.json');
    writeFileSync(old, JSON.stringify(running));
    writeFileSync(bad, JSON.stringify({ upstreams: { a: { ...basicStdio('a'), comand: 'x' } } }));
    const invalid = cli(['--diff', '--config', bad, '--against', old]);
    expect(invalid.status).toBe(78);
    expect(invalid.stderr).toMatch(/upstreams\.a\.comand/);
    const alone = cli(['--diff', '--config', old]);
    expect(alone.status).toBe(2);
    expect(alone.stderr).toContain('--diff and --against RUNNING_CONFIG go together');
  });
});
