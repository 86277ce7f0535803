// Counting the instructions a gateway process executes for some work, with valgrind's callgrind: the count is the
// same from run to run (within ~1 %) whatever else the shared machine is doing, where CPU time here swings by
// half. Instructions are not time (a cache miss costs no instruction; valgrind hides SHA-NI, so OpenSSL hashes
// with more of them than on this CPU), so it ranks changes; the goals stay judged in CPU time by run.ts.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from './compile.js';

/** The wrapper BENCH_CLI names so that a gateway target runs under callgrind (counting off until switched on). */
export const CALLGRIND_CLI = path.join(REPO_ROOT, 'bench', 'lib', 'callgrind-cli.mjs');

/** Throws with what to install when valgrind or callgrind_control is missing. */
export function ensureValgrind(): void {
  for (const tool of ['valgrind', 'callgrind_control', 'callgrind_annotate']) {
    const probe = spawnSync(tool, ['--version'], { encoding: 'utf8' });
    if (probe.error)
      throw new Error(`${tool} not found (${probe.error.message}): apt-get install -y valgrind`);
  }
}

/** The environment that makes a gateway target run `cli` under callgrind, writing its counts to `out`. */
export function callgrindEnv(out: string, cli: string): Record<string, string> {
  return { BENCH_CLI: CALLGRIND_CLI, BENCH_CALLGRIND_OUT: out, BENCH_CALLGRIND_CLI: cli };
}

/** The `totals:` line of a callgrind dump (events: Ir, so instructions); throws when there is none. */
export function totalsOf(dump: string): number {
  const line = /^totals:\s+(\d+)/m.exec(dump);
  if (!line) throw new Error('callgrind dump without a totals: line');
  return Number(line[1]);
}

/**
 * Instructions the process under callgrind (its counts going to `out`) executes while `work` runs: counting
 * switched on, the work, switched off, then a dump (`out.N`, N counting up) read back. Also the dump's path,
 * for a look by function (`functionCounts`).
 */
export async function countedInstructions(
  out: string,
  work: () => Promise<void>,
): Promise<{ total: number; dump: string }> {
  const pid = readFileSync(`${out}.pid`, 'utf8').trim();
  const control = (...args: string[]) =>
    execFileSync('callgrind_control', [...args, pid], { stdio: 'ignore' });
  const before = new Set(dumpsOf(out));
  control('--instr=on');
  await work();
  control('--instr=off');
  control('--dump');
  for (let waited = 0; waited < 30_000; waited += 100) {
    const dump = dumpsOf(out).find((file) => !before.has(file));
    // The dump is complete once its totals line is written (the file's last lines).
    if (dump) {
      const text = readFileSync(dump, 'utf8');
      if (/^totals:/m.test(text)) return { total: totalsOf(text), dump };
    }
    await sleep(100);
  }
  throw new Error(`callgrind wrote no dump beside ${out} in 30 s`);
}

/** Where callgrind puts code it finds no symbol for: V8's compiled JavaScript, whose addresses change by run. */
export const JIT_CODE = 'JavaScript compiled by V8 (no symbols under callgrind)';

/** Instructions by function (exclusive) in `callgrind_annotate`'s listing; V8's compiled code is one entry. */
export function annotatedCounts(listing: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of listing.split('\n')) {
    const row = /^\s*([\d,]+) \([^)]*\)\s+(\S.*)$/.exec(line);
    if (!row || row[2] === 'PROGRAM TOTALS') continue;
    const name = row[2].startsWith('???:0x') ? JIT_CODE : row[2];
    counts.set(name, (counts.get(name) ?? 0) + Number(row[1].replaceAll(',', '')));
  }
  return counts;
}

/** A dump's instructions by function, every function listed (callgrind_annotate's threshold at 100 %). */
export function functionCounts(dump: string): Map<string, number> {
  const listing = execFileSync('callgrind_annotate', ['--threshold=100', '--auto=no', dump], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  return annotatedCounts(listing);
}

function dumpsOf(out: string): string[] {
  const dir = path.dirname(out);
  if (!existsSync(dir)) return [];
  const base = path.basename(out);
  return readdirSync(dir)
    .filter((name) => name.startsWith(`${base}.`) && /^\d+$/.test(name.slice(base.length + 1)))
    .map((name) => path.join(dir, name));
}
