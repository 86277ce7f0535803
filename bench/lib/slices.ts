// The paired comparison behind G8 and G10: a secured (or `redis:`) target and the bare gateway measured in short
// alternating slices (bare, target, target, bare, ...), so that the shared machine's speed, which here can change
// between one few-second stretch and the next, weighs on both sides of each difference alike.
import { measureCell, type Cell, type Timing } from './cells.js';
import type { Target } from './measure.js';
import type { Results } from './report.js';

/** Each slice: a short warm-up (sessions just opened), then one second measured. */
export const SLICE: Pick<Timing, 'warmupMs' | 'durationMs'> = { warmupMs: 250, durationMs: 1000 };
/** Pairs of slices per round: with 3 rounds, 12 differences to take the median of. */
export const PAIRS_PER_ROUND = 4;

/** Where a target's slices are kept in the results, and the bare gateway's slices beside them (same index). */
export const sliceKey = (target: string) => `${target} (slices)`;
export const bareSliceKey = (target: string) => `bare beside ${target} (slices)`;

/**
 * Measures PAIRS_PER_ROUND pairs of slices of `cell` on the bare gateway and on `target`, the order swapped
 * from pair to pair (ABBA: a drift that is steady over the pairs cancels), and appends them to `results`.
 */
export async function measureSlices(
  cell: Cell,
  bare: Target,
  target: Target,
  name: string,
  results: Results,
  timing: Timing,
): Promise<void> {
  const slot = (key: string) => ((results[cell.id] ??= {})[key] ??= []);
  const one = async (which: Target) => {
    try {
      return await measureCell(cell, which, { ...timing, ...SLICE });
    } catch (error) {
      return { error: (error as Error).message };
    }
  };
  for (let pair = 0; pair < PAIRS_PER_ROUND; pair++) {
    const bareFirst = pair % 2 === 0;
    const first = await one(bareFirst ? bare : target);
    const second = await one(bareFirst ? target : bare);
    slot(bareSliceKey(name)).push(bareFirst ? first : second);
    slot(sliceKey(name)).push(bareFirst ? second : first);
  }
}
