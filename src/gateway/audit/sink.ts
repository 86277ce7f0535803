// The audit log's writer: records are chained and written in batches, one write per event-loop turn (group
// commit), to the live file (rotated by size, the chain going on in the next file) and/or stdout. A caller that
// must not answer before its record is written (`flush`, `fsync`) waits for its batch; a failed write leaves
// the chain as it was on disk, and the sink reports itself failing until a later batch is written.
import { closeSync, fdatasync, mkdirSync, openSync, renameSync, rmSync, write } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { GatewayError } from '../../errors.js';
import type { AuditConfig } from '../config-audit.js';
import { GENESIS, hasher, seal, type Hasher } from './chain.js';
import { chainEnd, rotatedFiles, rotatedName, sizeOf } from './files.js';

interface Batch {
  bodies: string[];
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
  private writing: Promise<void> | undefined;
  private readonly hash: Hasher;
  /** Set while the sink cannot write: what a call that must be audited fails with. */
  failure: GatewayError | undefined;
  /** Told how long each batch took to write, in seconds (the metrics' audit write latency). */
  onWritten?: (seconds: number) => void;

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
   * Queues one record (a plain object; serialised now, chained when its batch is written). With `wait`, and
   * durability flush or fsync, returns a promise that settles when the record is written (rejecting while the
   * sink fails, unless `onFailure: continue`).
   */
  append(record: object, wait: boolean): Promise<void> | undefined {
    const batch = this.batch;
    batch.bodies.push(JSON.stringify(record));
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
    setImmediate(() => {
      this.scheduled = false;
      if (!this.writing) this.flush();
    });
  }

  private flush(): void {
    const batch = this.batch;
    if (batch.bodies.length === 0) return;
    this.batch = { bodies: [] };
    this.writing = this.write(batch).then(() => {
      this.writing = undefined;
      // Records queued while this batch was being written: the next write.
      if (this.batch.bodies.length) this.schedule();
    });
  }

  private async write(batch: Batch): Promise<void> {
    let { seq, prev } = this;
    let text = this.torn ? '\n' : '';
    for (const body of batch.bodies) {
      const sealed = seal(body, ++seq, prev, this.hash);
      text += `${sealed.line}\n`;
      prev = sealed.hash;
    }
    const bytes = Buffer.from(text);
    const started = performance.now();
    try {
      if (this.file) await this.toFile(bytes);
      if (this.config.stdout) await toStdout(bytes);
    } catch (error) {
      // Nothing of the batch counts: the next one is chained to what is on disk.
      this.failed(error);
      if (this.config.onFailure === 'fail') batch.waiting?.reject(this.failure!);
      else batch.waiting?.resolve();
      return;
    }
    this.seq = seq;
    this.prev = prev;
    this.onWritten?.((performance.now() - started) / 1000);
    this.torn = false;
    if (this.failure) {
      this.failure = undefined;
      this.log.info({ audit: this.file ?? 'stdout' }, 'audit log writes again');
    }
    batch.waiting?.resolve();
  }

  private async toFile(bytes: Buffer): Promise<void> {
    if (this.fd === undefined) this.reopen();
    if (this.size > 0 && this.size + bytes.length > this.config.maxBytes) this.rotate();
    const fd = this.fd!;
    let done = 0;
    try {
      while (done < bytes.length) done += await writeAt(fd, bytes, done);
      if (this.config.durability === 'fsync') await sync(fd);
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

function writeAt(fd: number, bytes: Buffer, offset: number): Promise<number> {
  return new Promise((resolve, reject) =>
    write(fd, bytes, offset, bytes.length - offset, null, (error, written) =>
      error ? reject(error) : resolve(written),
    ),
  );
}

function sync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));
}

function toStdout(bytes: Buffer): Promise<void> {
  return new Promise((resolve, reject) =>
    process.stdout.write(bytes, (error) => (error ? reject(error) : resolve())),
  );
}
