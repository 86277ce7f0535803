// The soak's gateway: compiles the fault upstream, writes a config, starts `node dist/cli.js serve` as a real
// process with its log in a file, samples its RSS every second, and stops it (and anything it left) by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { compileToCache, REPO_ROOT } from './compile.js';
import { processTree, sampleTree } from './proc.js';

const GATEWAY_CLI = path.join(REPO_ROOT, 'dist', 'cli.js');
const START_TIMEOUT_MS = 30_000;

export interface GatewaySettings {
  scope: 'session' | 'shared';
  upstreams: number;
  timeoutMs: number;
  logLevel: string;
  clients: number;
  resultCapBytes: number;
  lineLimitBytes: number;
}

/** The fault upstream as plain JavaScript, so each restart after a crash costs a bare `node` start, no tsx. */
function compileFaultServer(): string {
  return compileToCache('test/fixtures/servers/fault-server.ts', 'switchboard-soak');
}

export class SoakGateway {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-soak-'));
  readonly log = path.join(this.dir, 'gateway.log');
  readonly config = path.join(this.dir, 'soak.json');
  url!: URL;
  /** Set when the process ended on its own (not by stop()). */
  died?: { code: number | null; signal: NodeJS.Signals | null; at: number };
  maxRssKb = 0;
  lastRssKb = 0;
  maxProcesses = 0;
  /** Max RSS per elapsed minute, to tell steady memory from growth. */
  readonly rssByMinute: number[] = [];
  /** How long GET /healthz took, once a second: a stalled event loop in the gateway shows up here. */
  readonly healthMs: number[] = [];
  healthFailures = 0;
  /** CPU seconds the gateway process has used, as of the last sample (still there after it died). */
  lastCpuS = 0;
  private healthInFlight = false;
  private child?: ChildProcess;
  private sampler?: NodeJS.Timeout;
  private stopping = false;
  private startedAt = 0;

  constructor(private readonly settings: GatewaySettings) {}

  get pid(): number {
    return this.child!.pid!;
  }

  /** The public tool name a client calls: one upstream `fault`, or `f<k>` when there are several. */
  toolName(client: number): string {
    const { upstreams } = this.settings;
    return upstreams === 1 ? 'fault__work' : `f${client % upstreams}__work`;
  }

  /** Which upstream instance a client's calls go through, for attributing collateral failures. */
  lane(client: number): string {
    if (this.settings.scope === 'session') return `session ${client}`;
    return this.settings.upstreams === 1 ? 'fault' : `f${client % this.settings.upstreams}`;
  }

  async start(onDeath: () => void): Promise<void> {
    if (!existsSync(GATEWAY_CLI)) throw new Error(`${GATEWAY_CLI} is missing: run \`npm run build\` first`);
    const faultJs = compileFaultServer();
    const { scope, upstreams: count, timeoutMs, logLevel, clients } = this.settings;
    const upstreams: Record<string, unknown> = {};
    for (let i = 0; i < count; i++) {
      upstreams[count === 1 ? 'fault' : `f${i}`] = {
        command: process.execPath,
        args: [faultJs],
        scope,
        timeout: `${timeoutMs}ms`,
        maxResultBytes: this.settings.resultCapBytes,
        maxLineBytes: this.settings.lineLimitBytes,
      };
    }
    // All clients come from 127.0.0.1: the per-source caps must admit them all (and the probe after them).
    const room = clients * count + 10;
    const sessions = { maxUpstreamConnections: room, maxUpstreamConnectionsPerSource: room };
    const config = {
      listen: { host: '127.0.0.1', port: 0 },
      logging: { level: logLevel },
      sessions,
      upstreams,
    };
    writeFileSync(this.config, JSON.stringify(config, null, 2));
    const fd = openSync(this.log, 'w');
    const child = spawn(process.execPath, [GATEWAY_CLI, 'serve', '--config', this.config, '--port', '0'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    this.child = child;
    child.once('exit', (code, signal) => {
      clearInterval(this.sampler);
      if (this.stopping) return;
      this.died = { code, signal, at: Date.now() };
      onDeath();
    });
    this.url = await this.waitListening();
    this.startedAt = Date.now();
    this.sampler = setInterval(() => this.sample(), 1000);
    this.sample();
  }

  /** `serve --port 0` prints "switchboard listening on http://HOST:PORT/mcp" on stderr once it listens. */
  private async waitListening(): Promise<URL> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (this.died) throw new Error(`the gateway exited while starting:\n${this.tail(30)}`);
      const match = /switchboard listening on (http:\/\/\S+\/mcp)/.exec(readFileSync(this.log, 'utf8'));
      if (match) return new URL(match[1]);
      await sleep(100);
    }
    throw new Error(`the gateway did not listen within ${START_TIMEOUT_MS} ms:\n${this.tail(30)}`);
  }

  private sample(): void {
    let text: string;
    try {
      text = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    } catch {
      return; // exited; the exit handler reports it
    }
    const match = /^VmRSS:\s+(\d+) kB/m.exec(text);
    if (!match) return; // a zombie: exited, not yet reaped
    const kb = Number(match[1]);
    this.lastCpuS = sampleTree([this.pid]).rootCpuUs / 1e6;
    this.lastRssKb = kb;
    if (kb > this.maxRssKb) this.maxRssKb = kb;
    const minute = Math.floor((Date.now() - this.startedAt) / 60_000);
    this.rssByMinute[minute] = Math.max(this.rssByMinute[minute] ?? 0, kb);
    this.maxProcesses = Math.max(this.maxProcesses, this.upstreamProcesses().length);
    if (!this.healthInFlight) void this.checkHealth();
  }

  private async checkHealth(): Promise<void> {
    this.healthInFlight = true;
    const start = performance.now();
    try {
      const answer = await fetch(new URL('/healthz', this.url), { signal: AbortSignal.timeout(30_000) });
      await answer.arrayBuffer();
      if (answer.ok) this.healthMs.push(performance.now() - start);
      else this.healthFailures++;
    } catch {
      this.healthFailures++;
    } finally {
      this.healthInFlight = false;
    }
  }

  /** The gateway's live descendants: its stdio upstreams. */
  upstreamProcesses(): number[] {
    if (!this.child?.pid || this.child.exitCode !== null || this.child.signalCode !== null) return [];
    return processTree([this.child.pid]).filter((pid) => pid !== this.child!.pid);
  }

  /** The last lines of the gateway's log (a crash's stack trace ends up here). */
  tail(lines: number): string {
    try {
      return readFileSync(this.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** SIGTERM, SIGKILL after 15 s, then SIGKILL to any upstream it left behind; returns its exit code. */
  async stop(): Promise<{
    code: number | null;
    signal: NodeJS.Signals | null;
    leftBehind: number;
    stopMs: number;
  }> {
    clearInterval(this.sampler);
    const child = this.child;
    if (!child) return { code: null, signal: null, leftBehind: 0, stopMs: 0 };
    const descendants = this.upstreamProcesses();
    const start = Date.now();
    if (child.exitCode === null && child.signalCode === null) {
      this.stopping = true;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      // The gateway forces its own exit 10 s after SIGTERM; this only catches one that cannot.
      const force = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(force);
    }
    const stopMs = Date.now() - start;
    // An upstream whose gateway is gone sees its stdin close; give it 3 s to notice before calling it left behind.
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false; // gone, as it should be
      }
    };
    for (let waited = 0; waited < 3000 && descendants.some(alive); waited += 100) await sleep(100);
    const leftBehind = descendants.filter(alive);
    for (const pid of leftBehind) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // ended in the meantime
      }
    }
    return { code: child.exitCode, signal: child.signalCode, leftBehind: leftBehind.length, stopMs };
  }
}
