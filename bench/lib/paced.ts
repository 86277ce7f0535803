// An open-loop call load: C sessions sending calls at a set total rate, each on its own fixed schedule, so that
// two targets can be compared at the same offered load. The closed loop of the call cells runs each target as
// fast as it goes, and a slower target then also leaves its peers (upstream, client) idle more often.
import { setTimeout as sleep } from 'node:timers/promises';
import type { JsonRpcAnswer, McpHttpSession } from './mcp-client.js';
import { runSessions, type LoopState, type Target } from './measure.js';

export interface PacedOptions {
  /** Calls per second, over all sessions. */
  rate: number;
  sessions: number;
  method: string;
  paramsJson: string;
  warmupMs: number;
  durationMs: number;
  /** Checks an answer; returns an error text for a wrong one. */
  check(answer: JsonRpcAnswer): string | undefined;
}

export interface PacedResult {
  calls: number;
  errors: number;
  firstError?: string;
  callsPerSecond: number;
  /** The set rate was delivered (within 5 %): a target that falls behind is measured at its own pace instead. */
  held: boolean;
  rootCpuPerCallUs: number;
}

/** The share of the set rate a run must reach to count as held. */
const HELD = 0.95;
/** How many slots a session may fall behind and still catch up (one skipped 4 % of them at 4,000 calls/s over
 * 10 sessions, a 2.5 ms slot, against a target that kept up: timers firing late). */
const BEHIND = 4;

export async function runPacedLoad(target: Target, options: PacedOptions): Promise<PacedResult> {
  if (!(options.rate > 0) || !(options.sessions >= 1)) throw new Error('rate and sessions must be positive');
  // Each session calls every `interval` ms, the sessions spread evenly over it. The schedule is absolute: a
  // call that starts late (a timer fires a millisecond or two late) is followed sooner, so the rate holds on
  // average. A session more than BEHIND slots behind (the target stalled) skips the slots it missed instead of
  // sending them in a burst, which would make the run a closed loop again: the rate then falls short, and `held`
  // says so.
  const interval = (1000 * options.sessions) / options.rate;
  let calls = 0;
  let errors = 0;
  let firstError: string | undefined;
  const loop = async (session: McpHttpSession, index: number, state: LoopState) => {
    let next = performance.now() + (interval * index) / options.sessions;
    while (!state.stopped) {
      const now = performance.now();
      if (next - now >= 1) await sleep(next - now);
      else if (now - next > interval * BEHIND) next = now;
      next += interval;
      let failure: string | undefined;
      try {
        failure = options.check(await session.request(options.method, options.paramsJson));
      } catch (error) {
        failure = (error as Error).message;
      }
      if (!state.measuring) continue;
      if (failure) {
        errors++;
        firstError ??= failure;
      } else calls++;
    }
  };
  const { seconds, before, after } = await runSessions(target, options.sessions, options, loop);
  const callsPerSecond = calls / seconds;
  return {
    calls,
    errors,
    firstError,
    callsPerSecond,
    held: callsPerSecond >= options.rate * HELD,
    rootCpuPerCallUs: calls ? (after.rootCpuUs - before.rootCpuUs) / calls : NaN,
  };
}
