// The audit sink alone: records of one event-loop turn go out as one batch whose promise settles once they are
// in the file (flush), a batch waits at most one more turn for calls under way, buffered callers do not wait,
// and a failed batch leaves no gap in the chain on disk.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditSchema } from '../../src/gateway/config-audit.js';
import { AuditSink } from '../../src/gateway/audit/sink.js';
import { verifyFiles } from '../../src/gateway/audit/verify.js';
import { createLogger } from '../../src/gateway/logger.js';
import { makeTempDir } from '../helpers/harness.js';

const log = createLogger('silent');
const turn = () => new Promise((resolve) => setImmediate(resolve));
const written = (file: string) =>
  existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line).n)
    : [];

function sink(file: string, options: Record<string, unknown> = {}) {
  const s = new AuditSink(auditSchema.parse({ file, ...options }), file, log);
  s.open();
  return s;
}

describe('AuditSink', () => {
  it('writes the records of one turn as one batch and settles once they are in the file', async () => {
    const file = path.join(makeTempDir('audit-sink-'), 'audit.jsonl');
    const s = sink(file);
    const waits = [1, 2, 3].map((n) => s.append({ n }, true));
    expect(waits[0]).toBeInstanceOf(Promise);
    expect(new Set(waits).size).toBe(1);
    await waits[0];
    // Read at once: the promise means the bytes are already in the file.
    expect(
      readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).n),
    ).toEqual([1, 2, 3]);
    const next = s.append({ n: 4 }, true);
    expect(next).not.toBe(waits[0]);
    await next;
    await s.close();
    expect(verifyFiles([file])).toMatchObject({ ok: true, records: 4 });
  });

  it('with no other call under way, a batch is in the file by the next turn', async () => {
    const file = path.join(makeTempDir('audit-sink-'), 'audit.jsonl');
    const s = sink(file);
    s.callBegun();
    s.callEnded();
    void s.append({ n: 1 }, true);
    await turn();
    expect(written(file)).toEqual([1]);
    await s.close();
  });

  it('while other calls are under way, a batch waits one more turn and takes in their records', async () => {
    const file = path.join(makeTempDir('audit-sink-'), 'audit.jsonl');
    const s = sink(file);
    for (let i = 0; i < 3; i++) s.callBegun();
    s.callEnded();
    const first = s.append({ n: 1 }, true);
    await turn();
    expect(written(file)).toEqual([]);
    s.callEnded();
    const second = s.append({ n: 2 }, true);
    // The same batch: one write, one promise.
    expect(second).toBe(first);
    await turn();
    // One call is still under way: the batch waited one turn for it, and no more.
    expect(written(file)).toEqual([1, 2]);
    await first;
    await s.close();
    expect(verifyFiles([file])).toMatchObject({ ok: true, records: 2 });
  });

  it('buffered callers never wait, and the records still arrive', async () => {
    const file = path.join(makeTempDir('audit-sink-'), 'audit.jsonl');
    const s = sink(file, { durability: 'buffered' });
    expect(s.append({ n: 1 }, true)).toBeUndefined();
    await s.close();
    expect(verifyFiles([file])).toMatchObject({ ok: true, records: 1 });
  });

  it('a failed batch is not part of the chain: the next one links to what is on disk', async () => {
    const dir = makeTempDir('audit-sink-');
    const blocker = path.join(dir, 'logs');
    writeFileSync(blocker, 'a file, not a folder');
    const file = path.join(blocker, 'audit.jsonl');
    const s = sink(file);
    expect(s.failure?.kind).toBe('audit_unavailable');
    await expect(s.append({ n: 1 }, true)).rejects.toMatchObject({ kind: 'audit_unavailable' });
    rmSync(blocker);
    mkdirSync(blocker);
    await s.append({ n: 2 }, true);
    expect(s.failure).toBeUndefined();
    await s.close();
    const records = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(records.map((r) => [r.seq, r.n])).toEqual([[1, 2]]);
    expect(verifyFiles([file]).ok).toBe(true);
  });

  it('continues the chain of a file cut short, leaving the torn line for verify to name', async () => {
    const file = path.join(makeTempDir('audit-sink-'), 'audit.jsonl');
    let s = sink(file);
    await s.append({ n: 1 }, true);
    await s.close();
    writeFileSync(file, `${readFileSync(file, 'utf8')}{"seq":2,"prev":"tor`);
    s = sink(file);
    await s.append({ n: 2 }, true);
    await s.close();
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(JSON.parse(lines[2])).toMatchObject({ seq: 2, n: 2 });
    expect(verifyFiles([file]).bad).toMatchObject({ line: 2, why: expect.stringMatching(/JSON/) });
  });

  it('a torn live file that must rotate leaves the next file starting with a whole record', async () => {
    const file = path.join(makeTempDir('audit-sink-'), 'audit.jsonl');
    let s = sink(file, { maxBytes: 4096 });
    await s.append({ n: 1, pad: 'x'.repeat(3800) }, true);
    await s.close();
    writeFileSync(file, `${readFileSync(file, 'utf8')}{"seq":2,"prev":"tor`);
    s = sink(file, { maxBytes: 4096 });
    await s.append({ n: 2, pad: 'x'.repeat(400) }, true);
    await s.close();
    expect(readFileSync(`${file}.000001`, 'utf8')).toMatch(/"prev":"tor$/);
    expect(readFileSync(file, 'utf8').split('\n')[0]).toMatch(/^\{"seq":2,/);
    expect(verifyFiles([file])).toMatchObject({ ok: true, records: 1, firstSeq: 2 });
  });
});
