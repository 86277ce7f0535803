// The multi-replica rig: N real `switchboard serve` processes (the built dist/cli.js) sharing the local Redis
// under a key prefix of their own, behind Debian's haproxy (round robin, no stickiness, /readyz health checks).
// Everything it starts is stopped by pid after each test; each process's stderr goes to a file whose tail is
// printed when a test fails. CLUSTER_LOG_LEVEL sets the gateways' log level (info), CLUSTER_RETRY_ON haproxy's
// retry-on (e.g. `conn-failure empty-response`, which would also re-run calls a killed replica had begun), CLUSTER_KEEP_LOGS=DIR keeps each test's logs there.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { Redis } from 'ioredis';
import { afterEach, onTestFailed } from 'vitest';
import { ROOT, TSX } from '../helpers/gateway.js';
import { makeTempDir } from '../helpers/harness.js';
import { parsePrometheusText } from '../helpers/prom-text.js';
import { haproxyConfig, haproxyServers } from './haproxy.js';
import { parseHttpLog, probeReplicaId, unusualLines, until, type Routed } from './observe.js';

export const REDIS_URL = 'redis://127.0.0.1:6379';
const CLI = path.join(ROOT, 'dist/cli.js');
const CLUSTER_SERVER = path.join(ROOT, 'test/fixtures/servers/cluster-server.ts');

export interface Replica {
  readonly index: number;
  /** http://127.0.0.1:PORT */
  readonly base: string;
  readonly pid: number;
  readonly log: string;
  /** How the process ended: its exit code, or the signal that ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface Cluster {
  /** The balancer's MCP endpoint: http://127.0.0.1:PORT/mcp */
  readonly front: string;
  readonly replicas: readonly Replica[];
  readonly prefix: string;
  readonly redis: Redis;
  /** A folder every upstream instance shares (the cluster fixture's notes). */
  readonly notes: string;
  kill(replica: Replica, signal: NodeJS.Signals): void;
  /** tools/call requests this replica has handled (its /metrics). */
  callsServed(replica: Replica): Promise<number>;
  /** The sum of a metric's samples on this replica's /metrics whose labels include `labels`. */
  metric(replica: Replica, name: string, labels?: Record<string, string>): Promise<number>;
  /** The replica id a process uses on the Redis bus (learnt once by opening a GET stream on it). */
  replicaId(replica: Replica): Promise<string>;
  /** An SDK client through the balancer, closed after the test. */
  client(capabilities?: ClientCapabilities): Promise<Client>;
  /** haproxy's view of each server: UP, DOWN, ... */
  serverStates(): Promise<string[]>;
  /** The requests haproxy has logged so far: which replica answered (-1: none) with what status. */
  routed(): Routed[];
}

export interface ClusterOptions {
  replicas?: number;
  /** The names of the upstreams, each an instance of the cluster fixture over stdio (shared scope): ['c']. */
  upstreams?: string[];
  /** Merged into each gateway's config (policy, shutdown, ...). */
  config?: Record<string, unknown>;
  /** haproxy's `retry-on` (haproxy.ts has the default). */
  retryOn?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A port nothing listens on right now (haproxy needs one in its config; port 0 is not an option there). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function metric(replica: Replica, name: string, labels: Record<string, string> = {}) {
  const text = await (await fetch(`${replica.base}/metrics`)).text();
  let sum = 0;
  for (const sample of parsePrometheusText(text).get(name)?.samples ?? [])
    if (Object.entries(labels).every(([k, v]) => sample.labels[k] === v)) sum += sample.value;
  return sum;
}

const tail = (file: string, lines = 40) =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n') : '(no log)';

/** A child process whose stdout and stderr go to `log`. */
function start(command: string, args: string[], log: string, cwd: string): ChildProcess {
  const fd = openSync(log, 'a');
  const child = spawn(command, args, { cwd, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  return child;
}

/** Ends a process by pid: SIGTERM, a second one (a gateway then stops its drain at once), then SIGKILL if it
 * is still there after `graceMs`. */
async function stop(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve)).then(() => true);
  child.kill('SIGTERM');
  if (await Promise.race([gone, sleep(200).then(() => false)])) return;
  child.kill('SIGTERM');
  if (await Promise.race([gone, sleep(graceMs).then(() => false)])) return;
  child.kill('SIGKILL');
  await gone;
}

/** Registers the tear-down; returns the function that starts a cluster inside a test. */
export function useCluster(): (options?: ClusterOptions) => Promise<Cluster> {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!().catch(() => {});
  });
  return async (options = {}) => {
    const dir = makeTempDir('cluster-');
    const keep = process.env.CLUSTER_KEEP_LOGS;
    if (keep)
      cleanups.push(async () => cpSync(dir, path.join(keep, path.basename(dir)), { recursive: true }));
    const notes = path.join(dir, 'notes');
    mkdirSync(notes);
    const prefix = `sbcluster:${randomUUID()}:`;
    const redis = new Redis(REDIS_URL);
    cleanups.push(async () => {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    });
    const configFile = path.join(dir, 'gateway.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        upstreams: Object.fromEntries(
          (options.upstreams ?? ['c']).map((name) => [
            name,
            { command: process.execPath, args: ['--import', TSX, CLUSTER_SERVER, '--notes', notes] },
          ]),
        ),
        redis: { url: REDIS_URL, keyPrefix: prefix },
        telemetry: { metrics: true },
        logging: { level: process.env.CLUSTER_LOG_LEVEL ?? 'info' },
        // The balancer checks every 200 ms and takes a replica out at the first failure: 1 s covers it.
        shutdown: { drainTimeout: '10s', readinessDelay: '1s' },
        ...options.config,
      }),
    );

    // The gateways, all at once; each says where it listens on stderr.
    const logs: string[] = [];
    onTestFailed(() => {
      for (const log of logs) console.error(`--- ${log}\n${tail(log)}`);
      // haproxy's log is long: what went wrong in it may be far from its end.
      const haproxyLog = path.join(dir, 'haproxy.log');
      if (existsSync(haproxyLog))
        console.error(
          `--- ${haproxyLog}, what was not plain:\n${unusualLines(readFileSync(haproxyLog, 'utf8'))}`,
        );
    });
    const starting = Array.from({ length: options.replicas ?? 3 }, async (_, index): Promise<Replica> => {
      const log = path.join(dir, `replica-${index}.log`);
      logs.push(log);
      const child = start(process.execPath, [CLI, 'serve', '--config', configFile, '--port', '0'], log, dir);
      cleanups.push(() => stop(child, 5000));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once('exit', (code, signal) => resolve({ code, signal })),
      );
      const listening = await until(`replica ${index} listening (${log})`, () => {
        if (child.exitCode !== null) throw new Error(`replica ${index} exited: ${tail(log)}`);
        return /listening on (\S+)\/mcp/.exec(readFileSync(log, 'utf8'))?.[1];
      });
      const base = listening.replace('0.0.0.0', '127.0.0.1');
      await until(`replica ${index} ready`, async () =>
        (await fetch(`${base}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined,
      );
      return { index, base, pid: child.pid!, log, exited };
    });
    const replicas = await Promise.all(starting);

    // The balancer in front.
    const [frontPort, statsPort] = [await freePort(), await freePort()];
    const haproxyCfg = path.join(dir, 'haproxy.cfg');
    writeFileSync(
      haproxyCfg,
      haproxyConfig(
        frontPort,
        statsPort,
        replicas.map((r) => r.base),
        options.retryOn ?? process.env.CLUSTER_RETRY_ON,
      ),
    );
    const haproxyLog = path.join(dir, 'haproxy.log');
    logs.push(haproxyLog);
    const haproxy = start('haproxy', ['-db', '-f', haproxyCfg], haproxyLog, dir);
    cleanups.push(() => stop(haproxy, 2000));
    const serverStates = () => haproxyServers(statsPort);
    await until('haproxy sees every replica UP', async () => {
      if (haproxy.exitCode !== null) throw new Error(`haproxy exited: ${tail(haproxyLog)}`);
      const states = await serverStates().catch(() => []);
      return states.length === replicas.length && states.every((s) => s === 'UP') ? true : undefined;
    });
    const front = `http://127.0.0.1:${frontPort}/mcp`;

    const ids = new Map<number, Promise<string>>();
    const clients: Client[] = [];
    cleanups.push(() => Promise.all(clients.map((c) => c.close().catch(() => {}))));
    return {
      front,
      replicas,
      prefix,
      redis,
      notes,
      kill(replica, signal) {
        process.kill(replica.pid, signal);
      },
      metric,
      callsServed: (replica) => metric(replica, 'switchboard_requests_total', { method: 'tools/call' }),
      replicaId(replica) {
        if (!ids.has(replica.index)) ids.set(replica.index, probeReplicaId(replica.base, redis, prefix));
        return ids.get(replica.index)!;
      },
      async client(capabilities = {}) {
        const client = new Client({ name: 'cluster-test', version: '1.0.0' }, { capabilities });
        await client.connect(new StreamableHTTPClientTransport(new URL(front)));
        clients.push(client);
        return client;
      },
      serverStates,
      routed: () => parseHttpLog(readFileSync(haproxyLog, 'utf8')),
    };
  };
}
