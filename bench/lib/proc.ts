// Reads a process tree's CPU time and resident memory from /proc (Linux only), so the bench can charge each
// target for everything it runs: the proxy process, its upstream child, and any per-session children.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ; 100 on every Linux architecture Node supports

export interface TreeSample {
  /** utime+stime of the first root, in microseconds. */
  rootCpuUs: number;
  /** utime alone of the first root: the process's own code, without the kernel's work for its syscalls. */
  rootUserUs: number;
  /** utime+stime summed over every root and all their live descendants, in microseconds. */
  treeCpuUs: number;
  rootRssKb: number;
  treeRssKb: number;
  processes: number;
}

function readStat(pid: number): { ppid: number; cpuUs: number; userUs: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // the process ended between listing and reading
  }
  // The command name (field 2) may hold spaces and parentheses; the fields after its last ')' are fixed.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return {
    ppid: Number(fields[1]),
    cpuUs: ((utime + stime) * 1e6) / TICKS_PER_SECOND,
    userUs: (utime * 1e6) / TICKS_PER_SECOND,
  };
}

function readRssKb(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

/** The given roots and every live descendant of them. */
export function processTree(roots: number[]): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (!stat) continue;
    const list = children.get(stat.ppid) ?? [];
    list.push(Number(entry));
    children.set(stat.ppid, list);
  }
  const seen = new Set<number>();
  const queue = [...roots];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return [...seen];
}

export function sampleTree(roots: number[]): TreeSample {
  const pids = processTree(roots);
  let treeCpuUs = 0;
  let treeRssKb = 0;
  for (const pid of pids) {
    treeCpuUs += readStat(pid)?.cpuUs ?? 0;
    treeRssKb += readRssKb(pid);
  }
  const root = readStat(roots[0]);
  return {
    rootCpuUs: root?.cpuUs ?? 0,
    rootUserUs: root?.userUs ?? 0,
    treeCpuUs,
    rootRssKb: readRssKb(roots[0]),
    treeRssKb,
    processes: pids.length,
  };
}
