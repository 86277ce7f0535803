// Starts and stops the targets the bench compares, each as child processes on loopback: the SDK server itself
// (direct), Switchboard over a stdio or HTTP upstream (bare, with policy and auth on, or with sessions in the
// local Redis), and the npm peers.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from './compile.js';
import { McpHttpSession, createAgent } from './mcp-client.js';
import { processTree } from './proc.js';
import type { Target } from './measure.js';
import { benchRedis } from './redis.js';
import { securedSetup, type SecuredTargetName } from './secured.js';

export const GATEWAY_CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
/** The CLI a gateway target runs: dist/cli.js, or BENCH_CLI's (read as each target starts, so side-by-side.ts can
 * set it for one side and compare two builds: a copy of an earlier dist/ beside it, such as dist-before/cli.js). */
const gatewayCli = () => (process.env.BENCH_CLI ? path.resolve(process.env.BENCH_CLI) : GATEWAY_CLI);
const START_TIMEOUT_MS = 60_000;
const logDir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-bench-'));

/** Targets' logs and generated configs; kept for a look when something failed, removed otherwise. */
export function finishLogs(keep: boolean): string {
  if (!keep) rmSync(logDir, { recursive: true, force: true });
  return logDir;
}

export interface RunningTarget extends Target {
  stop(): Promise<void>;
}

/** What the upstream looks like: how many trivial tools each upstream adds, and how many upstreams. */
export interface UpstreamShape {
  extraTools: number;
  /** Only a gateway can aggregate several upstreams; the others get one upstream with all the tools. */
  upstreams: number;
}

export type TargetName =
  | 'direct'
  | 'switchboard-stdio'
  | 'switchboard-http'
  | 'switchboard-redis'
  | 'mcp-proxy'
  | 'supergateway'
  | SecuredTargetName;
export const ALL_TARGETS: TargetName[] = [
  'direct',
  'switchboard-stdio',
  'switchboard-http',
  'mcp-proxy',
  'supergateway',
  'switchboard-policy',
  'switchboard-apikey',
  'switchboard-jwt',
  'switchboard-g8',
  'switchboard-secured',
  'switchboard-redis',
];

/**
 * The cells a target runs when it runs only some (all others run every cell): the secured variants of
 * switchboard-stdio are compared with it where policy and auth can cost something (calls and the policy view
 * of a list), and switchboard-redis where Redis could cost per call, which keeps a full run near its old length.
 */
export const TARGET_CELLS: Partial<Record<TargetName, readonly string[]>> = {
  'switchboard-policy': ['echo-c10', 'echo-c50', 'list'],
  'switchboard-g8': ['echo-c10', 'echo-c50'],
  'switchboard-secured': ['echo-c10', 'echo-c50', 'list'],
  'switchboard-apikey': ['echo-c10'],
  'switchboard-jwt': ['echo-c10'],
  'switchboard-redis': ['echo-c10', 'echo-c50'],
};

export function runsCell(target: TargetName, cell: string): boolean {
  return TARGET_CELLS[target]?.includes(cell) ?? true;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function launch(label: string, args: string[]): { child: ChildProcess; log: string } {
  const log = path.join(logDir, `${label}-${Date.now()}.log`);
  const fd = openSync(log, 'w');
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  return { child, log };
}

function tail(log: string): string {
  try {
    return readFileSync(log, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '';
  }
}

/** Waits until an MCP session can be opened and `tools/list` shows the expected tool. */
async function waitReady(
  url: URL,
  toolName: string,
  child: ChildProcess,
  log: string,
  label: string,
  authorization?: string,
) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let lastError = 'not tried';
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `${label} exited (${child.exitCode ?? child.signalCode}) while starting:\n${tail(log)}`,
      );
    }
    const agent = createAgent();
    const session = new McpHttpSession(url, agent, authorization);
    try {
      await session.open();
      const answer = await session.request('tools/list', '{}');
      const names: string[] = (answer.result?.tools ?? []).map((tool: { name: string }) => tool.name);
      if (names.includes(toolName)) return;
      lastError = `tools/list has no ${toolName} (has ${names.slice(0, 5).join(', ')}...)`;
    } catch (error) {
      lastError = (error as Error).message;
    } finally {
      await session.close();
      agent.destroy();
    }
    await sleep(200);
  }
  throw new Error(`${label} not ready after ${START_TIMEOUT_MS} ms: ${lastError}\n${tail(log)}`);
}

/** SIGTERM to each process we started, SIGKILL after 5 s, then whatever of their trees is left. */
async function stopAll(children: ChildProcess[]): Promise<void> {
  const pids = processTree(children.map((child) => child.pid!).filter(Boolean));
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }),
  );
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL'); // a descendant its parent did not take down
    } catch {
      // already gone
    }
  }
}

/** `tools` extra tools beside echo and payload. */
function upstreamArgs(upstreamJs: string, tools: number, mode: string[]): string[] {
  return [upstreamJs, ...mode, ...(tools > 0 ? ['--tools', String(tools)] : [])];
}

export async function startTarget(
  name: TargetName,
  upstreamJs: string,
  shape: UpstreamShape,
  /** Extra node options for the gateway process alone (the profiler passes `--cpu-prof`). */
  gatewayNodeArgs: string[] = [],
): Promise<RunningTarget> {
  const children: ChildProcess[] = [];
  const cleanups: (() => Promise<void>)[] = [];
  const started = async (
    label: string,
    args: string[],
    url: URL,
    readyTool: string,
    authorization?: string,
  ) => {
    const { child, log } = launch(label, args);
    children.push(child);
    await waitReady(url, readyTool, child, log, label, authorization);
    return child;
  };
  const stop = async () => {
    await stopAll(children);
    await Promise.all(cleanups.map((cleanup) => cleanup()));
  };
  const make = (url: URL, tool: (n: string) => string, extra: Partial<Target> = {}): RunningTarget => ({
    name,
    url,
    roots: children.map((child) => child.pid!),
    tool,
    ...extra,
    stop,
  });
  const plain = (n: string) => n;
  try {
    const port = await freePort();
    const url = new URL(`http://127.0.0.1:${port}/mcp`);
    // A target without aggregation serves every tool the gateway's several upstreams would, from one upstream.
    const allTools = (shape.extraTools + 2) * shape.upstreams - 2;
    const stdioUpstream = upstreamArgs(upstreamJs, allTools, ['--stdio']);
    switch (name) {
      case 'direct':
        await started(
          name,
          upstreamArgs(upstreamJs, allTools, ['--http', '--port', String(port)]),
          url,
          'echo',
        );
        return make(url, plain);
      case 'mcp-proxy': {
        const bin = path.join(REPO_ROOT, 'node_modules', 'mcp-proxy', 'dist', 'bin', 'mcp-proxy.mjs');
        const args = [bin, '--host', '127.0.0.1', '--port', String(port), '--server', 'stream', '--'];
        await started(name, [...args, process.execPath, ...stdioUpstream], url, 'echo');
        return make(url, plain);
      }
      case 'supergateway': {
        const bin = path.join(REPO_ROOT, 'node_modules', 'supergateway', 'dist', 'index.js');
        const command = [process.execPath, ...stdioUpstream].map((part) => JSON.stringify(part)).join(' ');
        const args = ['--stdio', command, '--outputTransport', 'streamableHttp', '--stateful'];
        await started(name, [bin, ...args, '--port', String(port), '--logLevel', 'none'], url, 'echo');
        // A process per session: 1,000 idle sessions would take ~75 GB, so the memory cell opens fewer.
        return make(url, plain, { maxIdleSessions: 20 });
      }
      case 'switchboard-stdio':
      case 'switchboard-http':
      case 'switchboard-redis':
      case 'switchboard-policy':
      case 'switchboard-apikey':
      case 'switchboard-jwt':
      case 'switchboard-g8':
      case 'switchboard-secured': {
        const cli = gatewayCli();
        if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first`);
        const upstreams: Record<string, unknown> = {};
        for (let i = 0; i < shape.upstreams; i++) {
          const upstreamName = shape.upstreams > 1 ? `u${i}` : 'up';
          if (name !== 'switchboard-http') {
            const args = upstreamArgs(upstreamJs, shape.extraTools, ['--stdio']);
            upstreams[upstreamName] = { command: process.execPath, args };
          } else {
            const upstreamPort = await freePort();
            const upstreamUrl = new URL(`http://127.0.0.1:${upstreamPort}/mcp`);
            const args = upstreamArgs(upstreamJs, shape.extraTools, [
              '--http',
              '--port',
              String(upstreamPort),
            ]);
            await started(`${name}-upstream-${i}`, args, upstreamUrl, 'echo');
            upstreams[upstreamName] = { url: upstreamUrl.href };
          }
        }
        const secured =
          name === 'switchboard-stdio' || name === 'switchboard-http'
            ? undefined
            : name === 'switchboard-redis'
              ? benchRedis()
              : await securedSetup(name, url.href);
        if (secured) cleanups.push(secured.stop);
        const config = path.join(logDir, `${name}-${Date.now()}.json`);
        const content = { listen: { host: '127.0.0.1', port }, upstreams, ...secured?.config };
        writeFileSync(config, JSON.stringify(content, null, 2));
        const first = shape.upstreams > 1 ? 'u0' : 'up';
        // The CLI as users run it, secured targets included (their audit log, limits and tracing are config).
        const gatewayArgs = [cli, 'serve', '--config', config, '--host', '127.0.0.1', '--port', String(port)];
        const authorization = secured?.authorization;
        const args = [...gatewayNodeArgs, ...gatewayArgs];
        const gateway = await started(name, args, url, `${first}__echo`, authorization?.());
        // The gateway is the proxy process: it goes first among the roots.
        children.splice(children.indexOf(gateway), 1);
        children.unshift(gateway);
        return make(url, (n) => `${first}__${n}`, authorization ? { authorization } : {});
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
}
