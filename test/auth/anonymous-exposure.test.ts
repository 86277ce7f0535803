// Without `auth:`, `switchboard serve` refuses a non-loopback address (exit 78, a message that says how to
// configure auth) and `check` reports it; on loopback it serves anonymously as before.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/gateway.js';
import { makeTempDir } from '../helpers/harness.js';
import { anonymousExposure } from '../../src/gateway/main.js';
import { parseConfig } from '../../src/gateway/config.js';

const CLI = ['--import', 'tsx', path.join(ROOT, 'src/cli.ts')];
const dir = makeTempDir('switchboard-auth-cli-');

function config(name: string, yaml: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

const run = (args: string[]) =>
  spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8', cwd: ROOT, timeout: 60_000 });

describe('anonymous gateway on a non-loopback address', () => {
  const hosts: [string, boolean][] = [
    ['127.0.0.1', false],
    ['localhost', false],
    ['::1', false],
    ['127.0.0.2', false],
    ['0.0.0.0', true],
    ['::', true],
    ['192.168.1.10', true],
  ];
  for (const [host, refused] of hosts) {
    it(`${host}: ${refused ? 'refused' : 'allowed'} without auth`, () => {
      const parsed = parseConfig({ upstreams: {} }, { baseDir: ROOT });
      expect(anonymousExposure(parsed, host) !== undefined).toBe(refused);
    });
  }

  it('is allowed with auth configured', () => {
    const parsed = parseConfig(
      {
        upstreams: {},
        auth: { resource: 'https://gw.test/mcp', apiKeys: [{ subject: 'a', key: 'k'.repeat(20) }] },
      },
      { baseDir: ROOT },
    );
    expect(anonymousExposure(parsed, '0.0.0.0')).toBeUndefined();
  });

  it('serve --host 0.0.0.0 exits 78 and says how to configure auth', () => {
    const result = run([
      'serve',
      '--config',
      config('open.yaml', 'upstreams: {}\n'),
      '--host',
      '0.0.0.0',
      '--port',
      '0',
    ]);
    expect(result.status).toBe(78);
    expect(result.stderr).toMatch(/refusing to serve 0\.0\.0\.0 without authentication/);
    expect(result.stderr).toMatch(/auth:/);
    expect(result.stderr).toMatch(/Authentication/);
  });

  it('serve with listen.host 0.0.0.0 in the config is refused the same way', () => {
    const result = run([
      'serve',
      '--config',
      config('listen.yaml', 'listen: { host: 0.0.0.0, port: 0 }\nupstreams: {}\n'),
    ]);
    expect(result.status).toBe(78);
    expect(result.stderr).toMatch(/refusing to serve 0\.0\.0\.0/);
  });

  it('check reports it and exits non-zero', () => {
    const result = run([
      'check',
      '--config',
      config('check.yaml', 'listen: { host: 0.0.0.0 }\nupstreams: {}\n'),
    ]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/serve would refuse this config: refusing to serve 0\.0\.0\.0/);
  });

  it('serve on 127.0.0.1 without auth starts', async () => {
    const child = spawn(
      process.execPath,
      [...CLI, 'serve', '--config', config('local.yaml', 'upstreams: {}\n'), '--port', '0'],
      {
        cwd: ROOT,
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let seen = '';
        child.stderr.setEncoding('utf8');
        child.stderr.on('data', (chunk: string) => {
          seen += chunk;
          if (/listening on/.test(seen)) resolve(seen);
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${seen}`)));
      });
      expect(line).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+\/mcp/);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  });
});
