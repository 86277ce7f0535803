// The audit log's files: the live file and its rotated siblings (`audit.jsonl.000001`, `.000002`, ...: the
// names sort in the order they were written, the live file last), and where the chain left off in them.
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import path from 'node:path';

const INDEX_DIGITS = 6;
/** How much of a file's end is read to find its last record (records are a few KB at most). */
const TAIL_BYTES = 1024 * 1024;

export function rotatedName(file: string, index: number): string {
  return `${file}.${String(index).padStart(INDEX_DIGITS, '0')}`;
}

/** The rotated siblings of `file` that exist, oldest first, with their indexes. */
export function rotatedFiles(file: string): { file: string; index: number }[] {
  const base = path.basename(file);
  const pattern = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d{${INDEX_DIGITS},})$`);
  let names: string[];
  try {
    names = readdirSync(path.dirname(file));
  } catch {
    return [];
  }
  return names
    .flatMap((name) => {
      const match = pattern.exec(name);
      return match ? [{ file: path.join(path.dirname(file), name), index: Number(match[1]) }] : [];
    })
    .sort((a, b) => a.index - b.index);
}

/** A file's size, 0 when it does not exist. */
export function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

export interface ChainEnd {
  /** The last complete record: undefined when there is none yet (a new chain starts at the genesis). */
  last?: { seq: number; hash: string };
  /** The live file ends inside a line (a record cut short): the next write starts a new line first. */
  partial: boolean;
}

/** Where the chain left off: the last complete record of the live file, else of the newest rotated file. */
export function chainEnd(file: string): ChainEnd {
  const live = lastRecord(file);
  if (live.last) return live;
  const rotated = rotatedFiles(file).at(-1);
  return { last: rotated && lastRecord(rotated.file).last, partial: live.partial };
}

function lastRecord(file: string): ChainEnd {
  const size = sizeOf(file);
  if (size === 0) return { partial: false };
  const length = Math.min(size, TAIL_BYTES);
  const buffer = Buffer.alloc(length);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buffer, 0, length, size - length);
  } finally {
    closeSync(fd);
  }
  const lines = buffer.toString('utf8').split('\n');
  const partial = lines.at(-1) !== '';
  // The last line that is a whole record (the last element is '' or the torn line); a torn or foreign line is
  // left for `audit verify` to name.
  for (let i = lines.length - 2; i >= 0; i--) {
    try {
      const record = JSON.parse(lines[i]) as { seq?: unknown; hash?: unknown };
      if (typeof record.seq === 'number' && typeof record.hash === 'string')
        return { last: { seq: record.seq, hash: record.hash }, partial };
    } catch {
      // not a record: look further back
    }
  }
  return { partial };
}
