// Linux's process table from /proc, for the no-orphan tests: the processes under a pid, and which of a
// recorded set still run (matched by start time, so a reused pid is not mistaken for a survivor).
import { readdirSync, readFileSync } from 'node:fs';

export interface Proc {
  pid: number;
  ppid: number;
  pgid: number;
  state: string;
  /** Start time in clock ticks since boot: with the pid, identifies one process. */
  start: string;
  cmdline: string;
}

function read(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: the fields start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
    return {
      pid,
      state: fields[0],
      ppid: Number(fields[1]),
      pgid: Number(fields[2]),
      start: fields[19],
      cmdline,
    };
  } catch {
    return undefined;
  }
}

export function processTable(): Proc[] {
  const table: Proc[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const proc = read(Number(name));
    if (proc) table.push(proc);
  }
  return table;
}

/** Every process under `root` (children, their children, ...). */
export function descendants(root: number): Proc[] {
  const table = processTable();
  const found: Proc[] = [];
  const parents = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const proc of table) {
      if (parents.has(proc.ppid) && !parents.has(proc.pid)) {
        parents.add(proc.pid);
        found.push(proc);
        grew = true;
      }
    }
  }
  return found;
}

/** The recorded processes still running (zombies count as ended), with their process groups' other members. */
export function survivors(recorded: Proc[]): Proc[] {
  const alive = recorded.filter((proc) => {
    const now = read(proc.pid);
    return now !== undefined && now.start === proc.start && now.state !== 'Z';
  });
  const groups = new Set(recorded.map((proc) => proc.pgid));
  const inGroups = processTable().filter(
    (proc) => groups.has(proc.pgid) && proc.state !== 'Z' && !alive.some((a) => a.pid === proc.pid),
  );
  return [...alive, ...inGroups];
}
