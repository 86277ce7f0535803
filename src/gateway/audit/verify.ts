// `switchboard audit verify FILE...`: checks the hash of every record and the `prev` links from one record to
// the next, across the files in the order given (one live file stands for its rotated siblings too, oldest
// first), and names the first bad line: edited (hash mismatch), missing or reordered (prev mismatch), cut
// short (no line end), or not a record at all.
import { readFileSync } from 'node:fs';
import { GENESIS, hasher, unseal, type Hasher } from './chain.js';
import { rotatedFiles } from './files.js';

export interface VerifyReport {
  ok: boolean;
  files: string[];
  records: number;
  firstSeq?: number;
  lastSeq?: number;
  lastHash?: string;
  /** The first bad line: where, and why. */
  bad?: { file: string; line: number; why: string };
}

/** One file given alone stands for itself and its rotated siblings (`FILE.000001`, ...), oldest first. */
export function filesToVerify(given: readonly string[]): string[] {
  if (given.length !== 1) return [...given];
  return [...rotatedFiles(given[0]).map((rotated) => rotated.file), given[0]];
}

export function verifyFiles(files: readonly string[], key?: string): VerifyReport {
  const hash = hasher(key);
  const report: VerifyReport = { ok: true, files: [...files], records: 0 };
  let prev: string | undefined;
  let seq: number | undefined;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      return fail(report, file, 0, `cannot read: ${(error as Error).message}`);
    }
    let start = 0;
    for (let line = 1; start < text.length; line++) {
      const end = text.indexOf('\n', start);
      if (end === -1)
        return fail(report, file, line, 'truncated: the last line has no line end (a record cut short)');
      const problem = check(text.slice(start, end), prev, seq, hash, key !== undefined);
      if (typeof problem === 'string') return fail(report, file, line, problem);
      report.records++;
      report.firstSeq ??= problem.seq;
      ({ seq, hash: prev } = problem);
      start = end + 1;
    }
  }
  report.lastSeq = seq;
  report.lastHash = prev;
  return report;
}

/** The record's seq and hash, or why the line is bad. */
function check(
  line: string,
  prev: string | undefined,
  seq: number | undefined,
  hash: Hasher,
  keyed: boolean,
): { seq: number; hash: string } | string {
  let record: { seq?: unknown; prev?: unknown };
  try {
    record = JSON.parse(line) as typeof record;
  } catch {
    return line === '' ? 'an empty line' : 'not valid JSON (a torn or foreign line)';
  }
  if (typeof record !== 'object' || record === null || typeof record.seq !== 'number')
    return 'not an audit record (no seq)';
  const sealed = unseal(line, hash);
  if (!sealed) return 'not an audit record (no hash at the end of the line)';
  if (sealed.claimed !== sealed.actual)
    return keyed
      ? 'hash mismatch: the record was edited, or the log was written under another hashKey'
      : 'hash mismatch: the record was edited (or the log is keyed: pass --key-env)';
  if (prev === undefined && record.seq === 1 && record.prev !== GENESIS)
    return 'the first record of a chain (seq 1) must have the genesis prev';
  if (prev !== undefined && record.prev !== prev)
    return (
      `prev does not match the hash of the record before it (seq ${seq}): a record is missing or out of ` +
      `order here (this one is seq ${record.seq})`
    );
  if (seq !== undefined && record.seq !== seq + 1)
    return `seq ${record.seq} follows seq ${seq}: a record is missing or out of order`;
  return { seq: record.seq, hash: sealed.claimed };
}

function fail(report: VerifyReport, file: string, line: number, why: string): VerifyReport {
  return { ...report, ok: false, bad: { file, line, why } };
}

/** The command: prints a summary (exit 0) or the first bad line as FILE:LINE (exit 1). */
export function auditVerifyCommand(given: readonly string[], key: string | undefined): number {
  const report = verifyFiles(filesToVerify(given), key);
  if (!report.ok) {
    const { file, line, why } = report.bad!;
    process.stdout.write(
      `audit verify: FAILED at ${file}:${line}: ${why}\n` +
        `  ${report.records} records before it checked out\n`,
    );
    return 1;
  }
  const start =
    report.firstSeq === undefined
      ? ''
      : report.firstSeq === 1
        ? ', from the start of the chain'
        : `, starting at seq ${report.firstSeq} (earlier records are in files not given, or rotated away)`;
  process.stdout.write(
    `audit verify: OK: ${report.records} records in ${report.files.length} file(s)${start}` +
      (report.lastSeq === undefined ? '\n' : `; last seq ${report.lastSeq}, hash ${report.lastHash}\n`),
  );
  return 0;
}
