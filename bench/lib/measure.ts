// The measurements behind each cell: a closed-loop call load over C sessions, session set-up, and memory per
// idle session. Each takes /proc samples of the target's process tree around its measuring window.
import type http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpHttpSession, createAgent, type JsonRpcAnswer } from './mcp-client.js';
import { sampleTree, type TreeSample } from './proc.js';

export interface Target {
  name: string;
  url: URL;
  /** Root pids whose trees are charged to this target; the first is the proxy (or the server, for direct). */
  roots: number[];
  /** The public name of an upstream tool on this target (a gateway namespaces it). */
  tool(name: string): string;
  /** At most this many idle sessions in the memory cell (a process per session cannot take 1,000). */
  maxIdleSessions?: number;
  /** The `Authorization` header of a new session, for targets with auth on (each session keeps its own). */
  authorization?(): string;
}

export interface LoadResult {
  calls: number;
  errors: number;
  firstError?: string;
  seconds: number;
  callsPerSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  rootCpuPerCallUs: number;
  /** The proxy's user-space share of rootCpuPerCallUs (its own code; the rest is the kernel's, for its I/O). */
  rootUserPerCallUs: number;
  treeCpuPerCallUs: number;
  treeRssMb: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** `count` sessions opened (initialize + initialized), `parallel` at a time. */
async function openSessions(target: Target, agent: http.Agent, count: number, parallel: number) {
  const sessions: McpHttpSession[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      const session = new McpHttpSession(target.url, agent, target.authorization?.());
      await session.open();
      sessions.push(session);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
  return sessions;
}

async function closeAll(sessions: McpHttpSession[], parallel = 20): Promise<void> {
  for (let i = 0; i < sessions.length; i += parallel) {
    await Promise.all(sessions.slice(i, i + parallel).map((session) => session.close()));
  }
}

function cpuDelta(before: TreeSample, after: TreeSample, count: number) {
  return {
    rootCpuPerCallUs: count ? (after.rootCpuUs - before.rootCpuUs) / count : NaN,
    rootUserPerCallUs: count ? (after.rootUserUs - before.rootUserUs) / count : NaN,
    treeCpuPerCallUs: count ? (after.treeCpuUs - before.treeCpuUs) / count : NaN,
  };
}

export interface LoadOptions {
  concurrency: number;
  method: string;
  paramsJson: string;
  warmupMs: number;
  durationMs: number;
  /** Checks an answer; returns an error text for a wrong one. */
  check(answer: JsonRpcAnswer): string | undefined;
}

/** What a session's loop reads: whether its calls count yet, and whether to stop. */
export interface LoopState {
  measuring: boolean;
  stopped: boolean;
}

/**
 * Opens `count` sessions and runs `loop` on each through a warm-up, then a measuring window between two /proc
 * samples of the target's tree; then stops the loops and closes the sessions.
 */
export async function runSessions(
  target: Target,
  count: number,
  timing: { warmupMs: number; durationMs: number },
  loop: (session: McpHttpSession, index: number, state: LoopState) => Promise<void>,
): Promise<{ seconds: number; before: TreeSample; after: TreeSample }> {
  const agent = createAgent();
  const sessions = await openSessions(target, agent, count, 10);
  const state: LoopState = { measuring: false, stopped: false };
  const loops = sessions.map((session, index) => loop(session, index, state));
  await sleep(timing.warmupMs);
  const before = sampleTree(target.roots);
  const startedAt = performance.now();
  state.measuring = true;
  await sleep(timing.durationMs);
  state.measuring = false;
  const seconds = (performance.now() - startedAt) / 1000;
  const after = sampleTree(target.roots);
  state.stopped = true;
  await Promise.all(loops);
  await closeAll(sessions);
  agent.destroy();
  return { seconds, before, after };
}

/** C sessions, each calling in a closed loop; only calls that finish inside the measuring window count. */
export async function runLoad(target: Target, options: LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const loop = async (session: McpHttpSession, _index: number, state: LoopState) => {
    while (!state.stopped) {
      const start = performance.now();
      let failure: string | undefined;
      let arrived = start;
      try {
        const { answer, arrivedAt } = await session.timedRequest(options.method, options.paramsJson);
        arrived = arrivedAt;
        failure = options.check(answer);
      } catch (error) {
        failure = (error as Error).message;
      }
      if (failure) {
        if (state.measuring) {
          errors++;
          firstError ??= failure;
        }
        await sleep(10); // a failing target must not turn the loop into a busy spin
      } else if (state.measuring) latencies.push(arrived - start);
    }
  };
  const { seconds, before, after } = await runSessions(target, options.concurrency, options, loop);
  latencies.sort((a, b) => a - b);
  return {
    calls: latencies.length,
    errors,
    firstError,
    seconds,
    callsPerSecond: latencies.length / seconds,
    p50Ms: percentile(latencies, 50),
    p90Ms: percentile(latencies, 90),
    p99Ms: percentile(latencies, 99),
    ...cpuDelta(before, after, latencies.length),
    treeRssMb: after.treeRssKb / 1024,
  };
}

export interface SetupResult {
  sessions: number;
  errors: number;
  firstError?: string;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  rootCpuPerSessionUs: number;
  treeCpuPerSessionUs: number;
}

/** Sessions opened one after another (initialize + initialized) for a fixed time or count, then closed. */
export async function runSetup(
  target: Target,
  durationMs: number,
  maxSessions: number,
): Promise<SetupResult> {
  const agent = createAgent();
  const opened: McpHttpSession[] = [];
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const before = sampleTree(target.roots);
  const startedAt = performance.now();
  while (performance.now() - startedAt < durationMs && opened.length + errors < maxSessions) {
    const session = new McpHttpSession(target.url, agent, target.authorization?.());
    const start = performance.now();
    try {
      await session.open();
      latencies.push(performance.now() - start);
      opened.push(session);
    } catch (error) {
      errors++;
      firstError ??= (error as Error).message;
    }
  }
  const seconds = (performance.now() - startedAt) / 1000;
  const after = sampleTree(target.roots);
  await closeAll(opened);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const cpu = cpuDelta(before, after, opened.length);
  return {
    sessions: opened.length,
    errors,
    firstError,
    perSecond: opened.length / seconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    rootCpuPerSessionUs: cpu.rootCpuPerCallUs,
    treeCpuPerSessionUs: cpu.treeCpuPerCallUs,
  };
}

export interface IdleResult {
  sessions: number;
  rootKbPerSession: number;
  treeKbPerSession: number;
  treeRssMbAfter: number;
  processesAfter: number;
}

/** Least-squares slope of y over x: steadier than one before/after difference when the heap breathes. */
function slope(points: [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((sum, [x]) => sum + x, 0) / n;
  const my = points.reduce((sum, [, y]) => sum + y, 0) / n;
  const sxy = points.reduce((sum, [x, y]) => sum + (x - mx) * (y - my), 0);
  const sxx = points.reduce((sum, [x]) => sum + (x - mx) ** 2, 0);
  return sxx ? sxy / sxx : NaN;
}

/** RSS growth of the target's tree per session, opening N idle sessions in 4 steps and sampling after each. */
export async function runIdleMemory(target: Target, count: number, settleMs: number): Promise<IdleResult> {
  const n = Math.min(count, target.maxIdleSessions ?? count);
  const agent = createAgent();
  const sessions: McpHttpSession[] = [];
  const root: [number, number][] = [];
  const tree: [number, number][] = [];
  let last = sampleTree(target.roots);
  const record = (sample: TreeSample) => {
    root.push([sessions.length, sample.rootRssKb]);
    tree.push([sessions.length, sample.treeRssKb]);
    last = sample;
  };
  record(last);
  try {
    for (let step = 1; step <= 4; step++) {
      const goal = Math.round((n * step) / 4);
      sessions.push(...(await openSessions(target, agent, goal - sessions.length, 10)));
      await sleep(settleMs);
      record(sampleTree(target.roots));
    }
  } finally {
    await closeAll(sessions);
    agent.destroy();
  }
  return {
    sessions: n,
    rootKbPerSession: slope(root),
    treeKbPerSession: slope(tree),
    treeRssMbAfter: last.treeRssKb / 1024,
    processesAfter: last.processes,
  };
}
