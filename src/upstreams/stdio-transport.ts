// A lean SDK Transport to a stdio MCP server: newline-delimited JSON over a child's pipes, parsed once and
// never re-validated (the per-message zod pass of the SDK's own transport is the hot path's biggest cost).
import { spawn, type ChildProcess } from 'node:child_process';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { rememberRawResult } from './raw-results.js';

const NEWLINE = 0x0a;

/** Variables a child inherits from the gateway; everything else must be named in `env` (no secret leaks by default). */
const INHERITED_ENV = [
  'HOME',
  'LOGNAME',
  'PATH',
  'SHELL',
  'TERM',
  'USER',
  'LANG',
  'LC_ALL',
  'TMPDIR',
  'TZ',
  'NODE_OPTIONS',
];

export interface StdioTransportOptions {
  command: string;
  args: readonly string[];
  env: Readonly<Record<string, string>>;
  cwd?: string;
  /** Called with each line the child writes to stderr. */
  onStderr?: (line: string) => void;
  /** Called with stdout lines that are not JSON-RPC; they are dropped. */
  onGarbage?: (line: string) => void;
  /** How long to wait after closing stdin, then after SIGTERM, before escalating. */
  killGraceMs?: number;
}

export class StdioClientTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private child?: ChildProcess;
  private pending: Buffer[] = [];
  private outbox = '';
  private flushScheduled = false;
  private closed = false;
  private exited?: Promise<void>;
  /** The last stderr lines, to explain an exit. */
  private stderrTail: string[] = [];

  constructor(private readonly options: StdioTransportOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): Promise<void> {
    const env: Record<string, string> = {};
    for (const key of INHERITED_ENV) if (process.env[key] !== undefined) env[key] = process.env[key]!;
    Object.assign(env, this.options.env);
    return new Promise((resolve, reject) => {
      const child = spawn(this.options.command, [...this.options.args], {
        env,
        cwd: this.options.cwd,
        stdio: ['pipe', 'pipe', 'pipe'],
        windowsHide: true,
      });
      this.child = child;
      this.exited = new Promise((done) => child.once('exit', () => done()));
      child.once('error', (error) => {
        if (!child.pid) reject(new Error(`cannot start "${this.options.command}": ${error.message}`));
        else this.onerror?.(error);
        this.finish();
      });
      child.once('spawn', () => resolve());
      child.once('close', () => this.finish());
      child.stdout!.on('data', (chunk: Buffer) => this.receive(chunk));
      child.stdin!.on('error', (error) => this.onerror?.(error));
      let stderrTail = '';
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (chunk: string) => {
        const lines = (stderrTail + chunk).split('\n');
        stderrTail = lines.pop()!;
        for (const line of lines) {
          if (!line) continue;
          this.options.onStderr?.(line);
          this.stderrTail.push(line);
          if (this.stderrTail.length > 5) this.stderrTail.shift();
        }
      });
    });
  }

  /**
   * Splits stdout into lines on raw bytes: only the new chunk is searched for a newline, and a long line is
   * joined once, so a 100 KB result arriving in many pipe reads costs one copy, not one per read.
   */
  private receive(chunk: Buffer): void {
    let start = 0;
    for (let end = chunk.indexOf(NEWLINE); end !== -1; end = chunk.indexOf(NEWLINE, start)) {
      let line: Buffer = chunk.subarray(start, end);
      if (this.pending.length) {
        this.pending.push(line);
        line = Buffer.concat(this.pending);
        this.pending = [];
      }
      start = end + 1;
      const text = line.toString('utf8').trim();
      if (text) this.deliver(text, line);
    }
    if (start < chunk.length) this.pending.push(chunk.subarray(start));
  }

  private deliver(line: string, bytes: Buffer): void {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      this.options.onGarbage?.(line);
      return;
    }
    if (!message || typeof message !== 'object' || (message as { jsonrpc?: unknown }).jsonrpc !== '2.0') {
      this.options.onGarbage?.(line);
      return;
    }
    if ('result' in message) rememberRawResult(bytes, message as Record<string, unknown>);
    this.onmessage?.(message as JSONRPCMessage);
  }

  /** How the child ended, with its last stderr lines: what a user needs to see when start-up fails. */
  exitDescription(): string | undefined {
    const child = this.child;
    if (!child?.pid || (child.exitCode === null && child.signalCode === null)) return undefined;
    const how =
      child.exitCode !== null ? `exited with code ${child.exitCode}` : `was killed by ${child.signalCode}`;
    const tail = this.stderrTail.join(' | ').slice(-500);
    return `the process ${how}${tail ? `; stderr: ${tail}` : ''}`;
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (!stdin || this.closed || !stdin.writable)
      return Promise.reject(new Error('upstream process is not running'));
    // Messages sent in one turn of the event loop go out in one write: under load that is one system call
    // (and one wake-up of the upstream) for many requests instead of one each.
    this.outbox += JSON.stringify(message) + '\n';
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
    return Promise.resolve();
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const text = this.outbox;
    this.outbox = '';
    const stdin = this.child?.stdin;
    if (text && stdin?.writable) stdin.write(text);
  };

  /** Stops the child politely: close stdin, then SIGTERM, then SIGKILL. */
  async close(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      this.finish();
      return;
    }
    const grace = this.options.killGraceMs ?? 2000;
    const waitExit = (ms: number) =>
      Promise.race([
        this.exited!.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref()),
      ]);
    this.flush();
    child.stdin?.end();
    if (!(await waitExit(grace))) {
      child.kill('SIGTERM');
      if (!(await waitExit(grace))) {
        child.kill('SIGKILL');
        await waitExit(grace);
      }
    }
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.();
  }
}
