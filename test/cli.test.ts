// The switchboard command as users run it: --help/--version, check, serve with a clean SIGTERM, and the
// stdio front that a process-spawning host talks to.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { BASIC_SERVER, ROOT, TSX, waitFor } from './helpers/gateway.js';
import { isAlive, makeTempDir } from './helpers/harness.js';

const CLI = ['--import', 'tsx', path.join(ROOT, 'src/cli.ts')];
const dir = makeTempDir('switchboard-cli-');
const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function writeConfig(name: string, yaml: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

const fixture = (label: string, extra = '') =>
  `{ command: ${JSON.stringify(process.execPath)}, args: ["--import", "${TSX}", ${JSON.stringify(BASIC_SERVER)}, "--stdio", "--label", "${label}"${extra}] }`;

function run(args: string[]) {
  return spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
}

describe('switchboard CLI', () => {
  it('prints usage and version', () => {
    const help = run(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('switchboard <command>');
    const version = run(['--version']);
    expect(version.stdout.trim()).toBe(
      JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version,
    );
  });

  it('check prints each upstream with status and tool count, and exits non-zero when one is down', () => {
    const file = writeConfig(
      'check.yaml',
      `upstreams:\n  good: ${fixture('good')}\n  bad: { command: /nonexistent/thing }\n`,
    );
    const result = run(['check', '--config', file]);
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^UPSTREAM\s+STATUS\s+TOOLS/m);
    expect(result.stdout).toMatch(/^good\s+ready\s+15\s/m);
    expect(result.stdout).toMatch(/^bad\s+down\s+0\s+0\s+0\s+cannot start "\/nonexistent\/thing"/m);
    const allGood = run([
      'check',
      '--config',
      writeConfig('ok.yaml', `upstreams:\n  good: ${fixture('good')}\n`),
    ]);
    expect(allGood.status).toBe(0);
  });

  it('refuses a bad config at start with the path of the bad key', () => {
    const file = writeConfig('bad.yaml', 'upstreams:\n  github:\n    comand: npx\n');
    const result = run(['serve', '--config', file, '--port', '0']);
    expect(result.status).toBe(78);
    expect(result.stderr).toContain('upstreams.github.comand: unknown key');
  });

  it('serve stops its stdio upstreams on SIGTERM and exits 0', async () => {
    const pidFile = path.join(dir, 'upstream.pid');
    const file = writeConfig(
      'serve.yaml',
      `upstreams:\n  a: ${fixture('a', `, "--pid-file", ${JSON.stringify(pidFile)}`)}\n`,
    );
    const gateway = spawn(process.execPath, [...CLI, 'serve', '--config', file, '--port', '0'], {
      cwd: ROOT,
    });
    cleanups.push(() => gateway.kill('SIGKILL'));
    let stderr = '';
    gateway.stderr.on('data', (chunk) => (stderr += chunk));
    const url = await waitFor(() => /listening on (\S+)/.exec(stderr)?.[1], 20_000);
    const ready = await waitFor(async () => true);
    expect(ready).toBe(true);
    await waitFor(() => {
      try {
        return readFileSync(pidFile, 'utf8');
      } catch {
        return undefined;
      }
    }, 20_000);
    const upstreamPid = Number(readFileSync(pidFile, 'utf8'));
    expect(isAlive(upstreamPid)).toBe(true);
    expect((await fetch(url.replace(/\/mcp$/, '/healthz'))).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => gateway.once('exit', (code) => resolve(code)));
    gateway.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(isAlive(upstreamPid)).toBe(false);
  });

  it('stdio serves the merged catalogue to a process-spawning host, with only MCP on stdout', async () => {
    const file = writeConfig('stdio.yaml', `upstreams:\n  a: ${fixture('a')}\n  b: ${fixture('b')}\n`);
    const client = new Client({ name: 'host', version: '1' });
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [...CLI, 'stdio', '--config', file],
      cwd: ROOT,
      stderr: 'pipe',
    });
    await client.connect(transport);
    cleanups.push(() => void client.close());
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('a__echo');
    expect(names).toContain('b__echo');
    expect((await client.callTool({ name: 'b__whoami', arguments: {} })).content).toEqual([
      { type: 'text', text: 'b' },
    ]);
  });
});
