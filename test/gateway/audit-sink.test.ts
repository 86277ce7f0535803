// The audit sink alone: records of one event-loop turn go out as one batch whose promise settles once they are
// in the file (flush), buffered callers do not wait, and a failed batch leaves no gap in the chain on disk.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { auditSchema } from '../../src/gateway/config-audit.js';
import { AuditSink } from '../../src/gateway/audit/sink.js';
import { verifyFiles } from '../../src/gateway/audit/verify.js';
import { createLogger } from '../../src/gateway/logger.js';
import { makeTempDir } from '../helpers/harness.js';

const log = createLogger('silent');

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
});
