// How the bench pairs a secured target with the bare gateway for G8 and G10: per pair of alternating slices where
// the run measured them, per round otherwise, a failed measurement left out rather than counted as zero.
import { describe, expect, it } from 'vitest';
import type { Results } from '../../bench/lib/report.js';
import { BARE, overBare } from '../../bench/lib/report-secured.js';
import { bareSliceKey, sliceKey } from '../../bench/lib/slices.js';

const load = (cpu: number, rate = 1000) =>
  ({
    kind: 'call',
    rootCpuPerCallUs: cpu,
    callsPerSecond: rate,
  }) as unknown as Results[string][string][number];

describe('the bench pairing a target with the bare gateway', () => {
  const target = 'switchboard-g8';

  it('takes the median of the per-round differences when the run has no slices', () => {
    const results: Results = {
      'echo-c10': { [BARE]: [load(50), load(90), load(60)], [target]: [load(60), load(100), load(180)] },
    };
    // Differences 10, 10, 120: the median is 10, where the difference of the medians (100 - 60) would be 40.
    expect(overBare(results, 'echo-c10', target, 'rootCpuPerCallUs')).toBe(10);
  });

  it('prefers the slices, pairing each target slice with the bare slice of the same index', () => {
    const results: Results = {
      'echo-c10': {
        [BARE]: [load(50)],
        [target]: [load(150)],
        [bareSliceKey(target)]: [load(40), load(100), load(45), load(41)],
        [sliceKey(target)]: [load(52), load(114), load(57), load(54)],
      },
    };
    // Differences 12, 14, 12, 13: median 12.5, however slow the second pair was on both sides.
    expect(overBare(results, 'echo-c10', target, 'rootCpuPerCallUs')).toBe(12.5);
  });

  it('gives the rate ratio per pair', () => {
    const results: Results = {
      'echo-c10': {
        [bareSliceKey(target)]: [load(40, 1000), load(40, 400)],
        [sliceKey(target)]: [load(50, 900), load(50, 360)],
      },
    };
    expect(overBare(results, 'echo-c10', target, 'callsPerSecond', true)).toBeCloseTo(0.9, 10);
  });

  it('leaves out a pair where either side failed', () => {
    const results: Results = {
      'echo-c10': {
        [bareSliceKey(target)]: [load(40), { error: 'gateway did not answer' }, load(40)],
        [sliceKey(target)]: [load(50), load(500), { error: 'timed out' }],
      },
    };
    expect(overBare(results, 'echo-c10', target, 'rootCpuPerCallUs')).toBe(10);
  });

  it('has no figure for a target that ran neither way', () => {
    expect(overBare({}, 'echo-c10', target, 'rootCpuPerCallUs')).toBeNaN();
  });
});
