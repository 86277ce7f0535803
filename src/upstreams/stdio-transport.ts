// A lean SDK Transport to a stdio MCP server: newline-delimited JSON over a child's pipes, parsed once and
// never re-validated (the per-message zod pass of the SDK's own transport is the hot path's biggest cost).
// The child runs in its own process group, lines and results are capped, and stopping ends the whole tree.
import type { ChildProcess } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { releaseGroup, signalGroup, spawnInGroup, waitGroupGone } from './process-group.js';
import { rememberRawResult } from './raw-results.js';
import { KeyBlockFilter } from './stderr-log.js';

const NEWLINE = 0x0a;
const MiB = 1024 * 1024;
/** Stderr lines kept to explain a failed start, and the longest unterminated stderr line held. */
const STDERR_TAIL_LINES = 5;
const STDERR_MAX_LINE = 4096;

export interface StdioTransportOptions {
  command: string;
  args: readonly string[];
  env: Readonly<Record<string, string>>;
  cwd?: string;
  /** The upstream's name, for errors a user reads. */
  name?: string;
  /** A stdout line longer than this resets the connection: the group is killed, pending calls fail. */
  maxLineBytes?: number;
  /** A result larger than this fails its call with a clear error; the connection stays. */
  maxResultBytes?: number;
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
  /** Why the gateway reset this connection (a line over the cap), for the errors of the calls it failed. */
  failure?: string;
  private child?: ChildProcess;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly decoder = new StringDecoder('utf8');
  private readonly maxLineBytes: number;
  private readonly maxResultBytes: number;
  private outbox = '';
  private flushScheduled = false;
  private closed = false;
  /** Set once the gateway starts ending the process, so its death is not reported as the upstream's doing. */
  private stopping?: Promise<void>;
  /** The gateway ended a process that was still running (a hung start), so how it died says nothing. */
  private stoppedByUs = false;
  private streamsClosed?: Promise<void>;
  /** The last stderr lines, to explain an exit or a start-up that hangs. */
  private stderrTail: string[] = [];
  private stderrPartial = '';
  /** Hides the body lines of a private key the child prints, from the log and from the tail alike. */
  private readonly keyBlock = new KeyBlockFilter();

  constructor(private readonly options: StdioTransportOptions) {
    this.maxLineBytes = options.maxLineBytes ?? 32 * MiB;
    this.maxResultBytes = options.maxResultBytes ?? 32 * MiB;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const { command, args, env, cwd } = this.options;
      const child = spawnInGroup(command, args, env, cwd);
      this.child = child;
      this.streamsClosed = new Promise((done) => child.once('close', () => done()));
      child.once('error', (error) => {
        if (!child.pid) reject(new Error(`cannot start "${command}": ${error.message}`));
        else this.onerror?.(error);
        this.finish();
      });
      child.once('spawn', () => resolve());
      // The leader may exit (npx killed, a wrapper crashing) while the real server lives on holding our pipes.
      child.once('exit', () => {
        if (!this.stopping) void this.stopProcess(false);
      });
      child.once('close', () => this.finish());
      child.stdout!.on('data', (chunk: Buffer) => this.receive(chunk));
      child.stdin!.on('error', (error) => this.onerror?.(error));
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (chunk: string) => this.receiveStderr(chunk));
    });
  }

  /**
   * Splits stdout into lines on raw bytes: only the new chunk is searched for a newline, and a long line is
   * never joined into one buffer: its pieces are decoded in turn for parsing and kept as they are for the
   * raw-result path, so a 100 KB result arriving in many pipe reads is not copied. A line is never held past
   * maxLineBytes: beyond it the connection is reset.
   */
  private receive(chunk: Buffer): void {
    if (this.failure) return;
    let start = 0;
    for (let end = chunk.indexOf(NEWLINE); end !== -1; end = chunk.indexOf(NEWLINE, start)) {
      const line: Buffer = chunk.subarray(start, end);
      start = end + 1;
      if (this.pending.length) {
        const length = this.pendingBytes + line.length;
        if (length > this.maxLineBytes) return this.lineTooLong();
        const pieces = this.pending;
        pieces.push(line);
        this.pending = [];
        this.pendingBytes = 0;
        // The decoder carries a character split between two reads over to the next piece.
        let text = '';
        for (const piece of pieces) text += this.decoder.write(piece);
        text = (text + this.decoder.end()).trim();
        if (text) this.deliver(text, pieces, length);
      } else {
        if (line.length > this.maxLineBytes) return this.lineTooLong();
        const text = line.toString('utf8').trim();
        if (text) this.deliver(text, line, line.length);
      }
      if (this.failure) return;
    }
    if (start < chunk.length) {
      this.pendingBytes += chunk.length - start;
      if (this.pendingBytes > this.maxLineBytes) return this.lineTooLong();
      this.pending.push(chunk.subarray(start));
    }
  }

  private deliver(line: string, bytes: Buffer | Buffer[], length: number): void {
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
    if ('result' in message) {
      if (length > this.maxResultBytes) return this.resultTooLarge(message as { id?: unknown });
      rememberRawResult(bytes, length, message as Record<string, unknown>);
    }
    this.onmessage?.(message as JSONRPCMessage);
  }

  /** The call gets an error instead of a result it could not hold; the upstream stays connected. */
  private resultTooLarge(message: { id?: unknown }): void {
    const id = message.id;
    if (typeof id !== 'number' && typeof id !== 'string') return;
    const error = {
      code: -32603,
      message: `upstream "${this.options.name ?? this.options.command}" answered with a result larger than ${this.maxResultBytes} bytes (maxResultBytes)`,
    };
    this.onmessage?.({ jsonrpc: '2.0', id, error } as JSONRPCMessage);
  }

  /** Framing cannot be trusted past an overlong line: the connection is reset and the process group ended. */
  private lineTooLong(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.failure = `upstream "${this.options.name ?? this.options.command}" sent a line longer than ${this.maxLineBytes} bytes (maxLineBytes); its connection was reset`;
    this.child?.stdout?.destroy();
    this.onerror?.(new Error(this.failure));
    void this.stopProcess(false);
    this.finish();
  }

  private receiveStderr(chunk: string): void {
    const lines = (this.stderrPartial + chunk).split('\n');
    let partial = lines.pop()!;
    // A child that never ends its stderr line must not grow this buffer: past the cap it counts as a line.
    if (partial.length > STDERR_MAX_LINE) {
      lines.push(partial.slice(0, STDERR_MAX_LINE));
      partial = '';
    }
    this.stderrPartial = partial;
    for (const line of lines) {
      if (!line || !this.keyBlock.shows(line)) continue;
      this.options.onStderr?.(line);
      this.stderrTail.push(line.length > STDERR_MAX_LINE ? line.slice(0, STDERR_MAX_LINE) : line);
      if (this.stderrTail.length > STDERR_TAIL_LINES) this.stderrTail.shift();
    }
  }

  /**
   * Why a start failed, for the user: how the process ended when it ended by itself, and its last stderr
   * lines (unterminated ones too), also when it hung and the gateway stopped it.
   */
  exitDescription(): string | undefined {
    const child = this.child;
    if (!child?.pid) return undefined;
    const parts: string[] = [];
    if (!this.stoppedByUs) {
      if (child.exitCode !== null) parts.push(`the process exited with code ${child.exitCode}`);
      else if (child.signalCode !== null) parts.push(`the process was killed by ${child.signalCode}`);
    }
    const lines = this.stderrPartial ? [...this.stderrTail, this.stderrPartial] : this.stderrTail;
    const tail = lines.slice(-STDERR_TAIL_LINES).join(' | ').slice(-800);
    if (tail) parts.push(`stderr: ${tail}`);
    return parts.length ? parts.join('; ') : undefined;
  }

  send(message: JSONRPCMessage): Promise<void> {
    const stdin = this.child?.stdin;
    if (!stdin || this.closed || !stdin.writable)
      return Promise.reject(new Error(this.failure ?? 'upstream process is not running'));
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

  /** Stops the child politely: close stdin, then SIGTERM, then SIGKILL, each to the whole process group. */
  async close(): Promise<void> {
    if (this.child?.pid) {
      if (!this.failure) this.flush();
      this.child.stdin?.end();
      await this.stopProcess(true);
    }
    this.finish();
  }

  /** Ends the process group: (after stdin closed, if polite) a grace period, SIGTERM, SIGKILL. Runs once. */
  private stopProcess(polite: boolean): Promise<void> {
    return (this.stopping ??= (async () => {
      const child = this.child!;
      if (child.exitCode === null && child.signalCode === null) this.stoppedByUs = true;
      const grace = this.options.killGraceMs ?? 2000;
      if (!polite || !(await waitGroupGone(child, grace))) {
        signalGroup(child, 'SIGTERM');
        if (!(await waitGroupGone(child, grace))) {
          signalGroup(child, 'SIGKILL');
          await waitGroupGone(child, grace);
        }
      }
      releaseGroup(child);
      // Read what the tree wrote last (its stderr explains a failed start), then let go of the pipes: a process
      // that left the group (setsid) may still hold them, and they must not keep the gateway alive.
      await Promise.race([this.streamsClosed, new Promise((r) => setTimeout(r, 200))]);
      child.stdout?.destroy();
      child.stderr?.destroy();
      child.stdin?.destroy();
    })());
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.();
  }
}
