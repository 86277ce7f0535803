// The audit log's writer: records are chained and written in batches (group commit: one write for the records
// of an event-loop turn, or of two while other audited calls are under way) to the live file (rotated by size,
// the chain going on in the next file) and/or stdout. A caller that must not answer before its record is
// written (`flush`, `fsync`) waits for its batch; a failed write leaves the chain as it was in the file, and
// the sink reports itself failing until a later batch is written. A mirror (the OTLP logs export) is told of
// each record once its batch is written.
import { closeSync, fdatasync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { GatewayError } from '../../errors.js';
import type { AuditConfig } from '../config-audit.js';
import { GENESIS, hasher, sealedLine, unsealedLine, type Hasher } from './chain.js';
import { chainEnd, rotatedFiles, rotatedName, sizeOf } from './files.js';
import { LineBuffer } from './line-buffer.js';

/** The span a record belongs to, when the caller knows it (a call's SERVER span). */
export interface SpanRef {
  readonly traceId: string;
  readonly spanId: string;
}

/** A second, best-effort destination of the written records (audit/otlp.ts). */
export interface AuditMirror {
  /** As a record is queued, in its caller's async context (where the active span is): what `written` needs. */
  capture(record: Readonly<Record<string, unknown>>, span?: SpanRef): unknown;
  /** The record is in the log: its sealed line (what the file holds), sequence number and hash. */
  written(line: string, seq: number, hash: string, captured: unknown): void;
}

interface Batch {
  /** Each record's JSON text after its opening brace: sealing puts `seq` and `prev` in front of it. */
  bodies: string[];
  /** What the mirror captured of each body (present only while a mirror is set). */
  captured?: unknown[];
  /** Filled as the batch is sealed, for the mirror: the lines and hashes, and the first record's seq. */
  sealed?: { lines: string[]; hashes: string[]; first: number };
  /** Created when a caller waits for this batch. */
  waiting?: { promise: Promise<void>; resolve(): void; reject(error: GatewayError): void };
}

export class AuditSink {
  /** Where the chain stands on disk: the last written record. */
  private seq = 0;
  private prev = GENESIS;
  private fd: number | undefined;
  private size = 0;
  private lastIndex = 0;
  /** The live file ends inside a line (a write cut short): the next write starts a new line first. */
  private torn = false;
  private batch: Batch = { bodies: [] };
  private scheduled = false;
  /** Audited calls under way (`callBegun`, not yet `callEnded`): their records are still to come. */
  private underway = 0;
  private writing: Promise<void> | undefined;
  /** Where each batch's lines are encoded, reused: batches are written one after another (`writing`). */
  private readonly lines = new LineBuffer();
  private readonly hash: Hasher;
  /** Set while the sink cannot write: what a call that must be audited fails with. */
  failure: GatewayError | undefined;
  /** Told how long each batch took to write, in seconds (the metrics' audit write latency). */
  onWritten?: (seconds: number) => void;
  /** Told of each record once written (set before the first record is appended). */
  mirror?: AuditMirror;

  constructor(
    private readonly config: AuditConfig,
    /** The live file, absolute; undefined: stdout only. */
    private readonly file: string | undefined,
    private readonly log: Logger,
  ) {
    this.hash = hasher(config.hashKey);
  }

  /** Finds where the chain left off and opens the live file; a failure is logged and leaves the sink failing
   * (audited calls fail closed, or go on with `onFailure: continue`), and each later batch tries again. */
  open(): void {
    if (!this.file) return;
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      const end = chainEnd(this.file);
      if (end.last) ({ seq: this.seq, hash: this.prev } = end.last);
      this.torn = end.partial;
      this.lastIndex = rotatedFiles(this.file).at(-1)?.index ?? 0;
      this.reopen();
    } catch (error) {
      this.failed(error);
    }
  }

  /**
   * Queues one record: a plain object (serialised now), or its JSON text after the opening brace (the fields and
   * the closing brace, as call-line.ts writes it); chained when its batch is written. With `wait`, and
   * durability flush or fsync, returns a promise that settles when the record is written (rejecting while the
   * sink fails, unless `onFailure: continue`).
   */
  append(record: object | string, wait: boolean, span?: SpanRef): Promise<void> | undefined {
    const batch = this.batch;
    batch.bodies.push(typeof record === 'string' ? record : JSON.stringify(record).slice(1));
    if (this.mirror) {
      const object = typeof record === 'string' ? JSON.parse(`{${record}`) : record;
      (batch.captured ??= []).push(this.mirror.capture(object as Record<string, unknown>, span));
    }
    this.schedule();
    if (!wait || this.config.durability === 'buffered') return undefined;
    if (!batch.waiting) {
      let resolve!: () => void;
      let reject!: (error: GatewayError) => void;
      const promise = new Promise<void>((yes, no) => ((resolve = yes), (reject = no)));
      batch.waiting = { promise, resolve, reject };
    }
    return batch.waiting.promise;
  }

  /** An audited call began: its record will come when it ends (a batch may wait a turn for it). */
  callBegun(): void {
    this.underway++;
  }

  /** The call ended (its record, if any, is appended now). */
  callEnded(): void {
    if (this.underway > 0) this.underway--;
  }

  /** Writes what is queued, then closes the file. */
  async close(): Promise<void> {
    while (this.writing || this.batch.bodies.length) {
      if (!this.writing) this.flush();
      await this.writing;
    }
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private schedule(): void {
    if (this.scheduled || this.writing) return;
    this.scheduled = true;
    // After this turn's callbacks: every record queued in the turn goes out in one write.
    setImmediate(this.due, false);
  }

  /**
   * Writes the batch; first waits one more event-loop turn when other audited calls are under way, so that
   * those whose answers are already in the I/O that turn polls join the batch (the poll does not block: an
   * immediate is pending). The added wait is bounded: one turn, never a timer, and none when no other call is
   * under way (C=1). Measured on the bench's secured target, echo at C=10: 7-11 µs less gateway CPU a call,
   * with no higher p50, as one write and one wake-up of the waiting answers serve more records.
   */
  private readonly due = (deferred: boolean): void => {
    if (!deferred && this.underway > 0) {
      setImmediate(this.due, true);
      return;
    }
    this.scheduled = false;
    if (!this.writing) this.flush();
  };

  private flush(): void {
    const batch = this.batch;
    if (batch.bodies.length === 0) return;
    this.batch = { bodies: [] };
    const pending = this.write(batch);
    if (!pending) return;
    this.writing = pending.then(() => {
      this.writing = undefined;
      // Records queued while this batch was synced or written to stdout: the next write.
      if (this.batch.bodies.length) this.schedule();
    });
  }

  /**
   * Seals the batch and writes it to the file at once, on this thread: a write of a few KB to the page cache
   * costs ~2 µs of CPU, where an async fs.write costs ~17 µs (a thread-pool hop and a wake-up of this thread
   * when it is done), and the answers waiting for the batch go out in this same turn. The price: a stalled
   * disk stalls the event loop for as long as the write takes (a `flush` answer would wait for it anyway).
   * What has to wait for the disk or a pipe (`fsync`'s fdatasync, stdout) goes on asynchronously, as the
   * returned promise, while the next records queue up for the batch after it (group commit).
   */
  private write(batch: Batch): Promise<void> | undefined {
    const started = performance.now();
    let { seq, prev } = this;
    const mirrored = batch.captured?.length === batch.bodies.length;
    if (mirrored) batch.sealed = { lines: [], hashes: [], first: seq + 1 };
    this.lines.begin();
    for (const body of batch.bodies) {
      const unsealed = unsealedLine(body, ++seq, prev);
      const digest = this.hash(unsealed);
      this.lines.add(unsealed, digest);
      prev = digest;
      if (mirrored) {
        batch.sealed!.lines.push(sealedLine(unsealed, digest));
        batch.sealed!.hashes.push(digest);
      }
    }
    const bytes = this.lines.bytes();
    let sync = false;
    if (this.file) {
      try {
        this.toFile(bytes);
      } catch (error) {
        // Nothing of the batch counts: the next one is chained to what is in the file.
        this.failedBatch(batch, error);
        return undefined;
      }
      // The batch is in the file: whatever fails from here on, the next batch must link to it.
      this.seq = seq;
      this.prev = prev;
      sync = this.config.durability === 'fsync';
    }
    if (!sync && !this.config.stdout) {
      this.written(batch, started);
      return undefined;
    }
    return (async () => {
      try {
        if (sync) await fdatasyncOf(this.fd!);
        if (this.config.stdout) await toStdout(bytes);
      } catch (error) {
        this.failedBatch(batch, error);
        return;
      }
      if (!this.file) {
        this.seq = seq;
        this.prev = prev;
      }
      this.written(batch, started);
    })();
  }

  /** The batch could not be written (or synced): its callers fail, or go on under `onFailure: continue`. */
  private failedBatch(batch: Batch, error: unknown): void {
    this.failed(error);
    if (this.config.onFailure === 'fail') batch.waiting?.reject(this.failure!);
    else batch.waiting?.resolve();
  }

  /** The batch is written: its callers go on, and a failing sink is well again. */
  private written(batch: Batch, started: number): void {
    this.onWritten?.((performance.now() - started) / 1000);
    if (this.failure) {
      this.failure = undefined;
      this.log.info({ audit: this.file ?? 'stdout' }, 'audit log writes again');
    }
    batch.waiting?.resolve();
    if (this.mirror && batch.sealed) {
      const { lines, hashes, first } = batch.sealed;
      for (let i = 0; i < lines.length; i++)
        this.mirror.written(lines[i], first + i, hashes[i], batch.captured![i]);
    }
  }

  /** Writes the whole batch, or throws (the live file then ends inside a line when part of it got there). */
  private toFile(bytes: Buffer): void {
    if (this.fd === undefined) this.reopen();
    if (this.size > 0 && this.size + bytes.length > this.config.maxBytes) this.rotate();
    const fd = this.fd!;
    if (this.torn) {
      // A write cut short left a line unended: the batch starts on a line of its own.
      this.size += writeSync(fd, '\n');
      this.torn = false;
    }
    let done = 0;
    try {
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    } finally {
      this.size += done;
      // Part of the batch reached the file: what follows must start on a line of its own.
      if (done > 0 && done < bytes.length) this.torn = true;
    }
  }

  private reopen(): void {
    this.fd = openSync(this.file!, 'a', 0o600);
    this.size = sizeOf(this.file!);
  }

  /** The live file becomes the next rotated one; the oldest beyond `keep` are deleted. */
  private rotate(): void {
    const file = this.file!;
    closeSync(this.fd!);
    this.fd = undefined;
    renameSync(file, rotatedName(file, ++this.lastIndex));
    const rotated = rotatedFiles(file);
    for (const old of rotated.slice(0, Math.max(0, rotated.length - this.config.keep)))
      rmSync(old.file, { force: true });
    this.torn = false;
    this.reopen();
  }

  private failed(error: unknown): void {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    const where = this.file ?? 'stdout';
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        // already unusable
      }
      this.fd = undefined;
    }
    const episode = this.failure === undefined;
    this.failure = new GatewayError(
      'audit_unavailable',
      `Audit log unavailable: cannot write ${where} (${code}); audited calls are refused until it can be ` +
        'written again (audit.onFailure: continue lets them through unaudited)',
    );
    // Once per failure episode: a full disk must not also fill the log.
    if (!episode) return;
    const fields = { audit: where, err: (error as Error).message, onFailure: this.config.onFailure };
    if (this.config.onFailure === 'fail')
      this.log.error(fields, 'audit log cannot be written: audited calls fail closed');
    else
      this.log.warn(fields, 'audit log cannot be written: calls go on unaudited (audit.onFailure: continue)');
  }
}

function fdatasyncOf(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));
}

function toStdout(bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) =>
    process.stdout.write(bytes, (error) => (error ? reject(error) : resolve())),
  );
}
