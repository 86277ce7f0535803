// Issue 9 point 1: a stdio upstream started through npx is a tree (npm exec, a shell, the real server). Each
// runs in its own process group and the whole group is ended, however the gateway stops: `check` finishing,
// `stdio` losing its stdin, SIGTERM or SIGINT to `serve`, the tree's leader dying, or the gateway exiting.
// Runs the built CLI (dist/cli.js) against @modelcontextprotocol/server-everything from node_modules.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, waitFor } from '../helpers/gateway.js';
import { descendants, survivors, type Proc } from './process-table.js';
import { makeTempDir } from '../helpers/harness.js';

const CLI = path.join(ROOT, 'dist/cli.js');
const dir = makeTempDir('switchboard-tree-');
const config = path.join(dir, 'npx.yaml');
// npx --no-install finds the locally installed package from the repository root.
writeFileSync(
  config,
  `upstreams:\n  ev:\n    command: npx\n    args: ['--no-install', 'mcp-server-everything', 'stdio']\n    cwd: ${JSON.stringify(ROOT)}\n`,
);

const started: ChildProcess[] = [];
afterEach(() => {
  for (const child of started.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

beforeAll(() => {
  // The CLI tests run what users run: the build (`npm test` builds first; alone, run `npm run build`).
  expect(
    existsSync(path.join(ROOT, 'dist/upstreams/process-group.js')),
    'dist/ is missing: npm run build',
  ).toBe(true);
});

function cli(args: string[]): ChildProcess {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  started.push(child);
  return child;
}

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    child.once('exit', (code) => resolve(code));
  });

/** The gateway's tree once the real server runs under npx: proof the test looks at the right thing. */
async function treeWithServer(gateway: number): Promise<Proc[]> {
  return waitFor(() => {
    const tree = descendants(gateway);
    const server = tree.find((p) => p.cmdline.includes('mcp-server-everything') && p.ppid !== gateway);
    return server && tree.some((p) => p.cmdline.includes('npm exec')) ? tree : undefined;
  }, 25_000);
}

/** Starts `serve` and waits until the npx upstream is ready; returns the process and its tree. */
async function serveReady() {
  const gateway = cli(['serve', '--config', config, '--port', '0']);
  let stderr = '';
  gateway.stderr!.on('data', (chunk) => (stderr += chunk));
  const url = await waitFor(() => /listening on (\S+)\/mcp/.exec(stderr)?.[1], 20_000);
  const until = Date.now() + 25_000;
  for (;;) {
    const state = await (await fetch(`${url}/readyz`)).json();
    if (state.upstreams.ev.state === 'ready') break;
    if (Date.now() > until) throw new Error(`upstream not ready: ${JSON.stringify(state)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { gateway, url, tree: await treeWithServer(gateway.pid!) };
}

describe('no process is left behind by an npx-started upstream', () => {
  it('check prints its table and exits within seconds, leaving nothing running', async () => {
    const gateway = cli(['check', '--config', config]);
    let stdout = '';
    let printedAt = 0;
    gateway.stdout!.on('data', (chunk) => {
      stdout += chunk;
      printedAt ||= Date.now();
    });
    // Watch the tree while check runs: it is gone by the time check exits.
    const seen = new Map<number, Proc>();
    const watch = setInterval(() => {
      for (const p of descendants(gateway.pid!)) seen.set(p.pid, p);
    }, 25);
    const code = await exited(gateway);
    clearInterval(watch);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ev\s+ready\s+\d+/m);
    // Closing politely takes at most the stdin grace and the SIGTERM grace (2 s each); never a minute.
    expect(Date.now() - printedAt).toBeLessThan(6000);
    expect([...seen.values()].some((p) => p.cmdline.includes('mcp-server-everything'))).toBe(true);
    expect(survivors([...seen.values()])).toEqual([]);
  }, 60_000);

  it('stdio exits as soon as its stdin closes, leaving nothing running', async () => {
    const gateway = cli(['stdio', '--config', config]);
    const send = (message: object) => gateway.stdin!.write(JSON.stringify(message) + '\n');
    let stdout = '';
    gateway.stdout!.on('data', (chunk) => (stdout += chunk));
    send({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'host', version: '1' } },
    });
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    send({
      jsonrpc: '2.0',
      id: 2,
      method: 'tools/call',
      params: { name: 'ev__echo', arguments: { message: 'hi' } },
    });
    await waitFor(() => stdout.includes('"id":2'), 25_000);
    expect(stdout).toContain('Echo: hi');
    const tree = await treeWithServer(gateway.pid!);
    const closedAt = Date.now();
    gateway.stdin!.end();
    expect(await exited(gateway)).toBe(0);
    // A host that waits for the process (the Inspector does) gets it back in seconds, not a minute.
    expect(Date.now() - closedAt).toBeLessThan(6000);
    expect(survivors(tree)).toEqual([]);
  }, 60_000);

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`serve stops the whole tree on ${signal} and exits 0`, async () => {
      const { gateway, tree } = await serveReady();
      gateway.kill(signal);
      expect(await exited(gateway)).toBe(0);
      expect(survivors(tree)).toEqual([]);
    }, 60_000);
  }

  it('when the tree leader (npm exec) dies, the server under it is ended too and the upstream restarts', async () => {
    const { gateway, url, tree } = await serveReady();
    const leader = tree.find((p) => p.ppid === gateway.pid)!;
    expect(leader.cmdline).toContain('npm exec');
    process.kill(leader.pid, 'SIGKILL');
    // The orphaned server would keep running (and hold the gateway's pipes) without the group kill.
    await waitFor(() => survivors(tree).length === 0, 10_000);
    const until = Date.now() + 30_000;
    for (;;) {
      const state = await (await fetch(`${url}/readyz`)).json();
      if (state.upstreams.ev.state === 'ready') break;
      if (Date.now() > until) throw new Error(`upstream not back: ${JSON.stringify(state)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const second = await treeWithServer(gateway.pid!);
    gateway.kill('SIGTERM');
    expect(await exited(gateway)).toBe(0);
    expect(survivors(second)).toEqual([]);
  }, 90_000);

  for (const how of ['process.exit', 'an uncaught exception'] as const) {
    it(`a gateway that ends by ${how} without stopping its upstreams still kills their groups`, async () => {
      const script = path.join(dir, `abrupt-${how.length}.mjs`);
      writeFileSync(
        script,
        [
          `import { StdioClientTransport } from ${JSON.stringify(path.join(ROOT, 'dist/upstreams/stdio-transport.js'))};`,
          `const t = new StdioClientTransport({ command: 'npx', args: ['--no-install', 'mcp-server-everything', 'stdio'], env: {}, cwd: ${JSON.stringify(ROOT)} });`,
          'await t.start();',
          "process.stdout.write('started\\n');",
          "process.stdin.once('data', () => {",
          how === 'process.exit' ? '  process.exit(0);' : "  throw new Error('boom');",
          '});',
        ].join('\n'),
      );
      const abrupt = spawn(process.execPath, [script], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
      started.push(abrupt);
      let stdout = '';
      abrupt.stdout!.on('data', (chunk) => (stdout += chunk));
      await waitFor(() => stdout.includes('started'), 20_000);
      const tree = await treeWithServer(abrupt.pid!);
      abrupt.stdin!.write('go\n');
      await exited(abrupt);
      await waitFor(() => survivors(tree).length === 0, 5000);
    }, 60_000);
  }
});
