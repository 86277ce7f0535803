// The unlabelled histogram counted in plain numbers (plain-histogram.ts, the audit write latency) must expose
// exactly what prom-client's own Histogram would for the same observations: prom-client is the oracle.
import fc from 'fast-check';
import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { PlainHistogram } from '../../src/gateway/telemetry/plain-histogram.js';

const BOUNDS = [0.0001, 0.0005, 0.001, 0.01, 0.1, 1];
const NAME = 'sb_audit_write_seconds';
const HELP = 'Time to write a batch';
// Values on the bounds, between them and past the last one.
const seconds = fc.oneof(fc.constantFrom(...BOUNDS, 0, 5), fc.double({ min: 0, max: 10, noNaN: true }));

describe('PlainHistogram', () => {
  it('exposes the same text as prom-client for any observations (buckets, +Inf, sum, count), none included', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(seconds, { maxLength: 60 }), async (values) => {
        const ours = new Registry();
        const theirs = new Registry();
        const plain = new PlainHistogram(ours, NAME, HELP, BOUNDS);
        const histogram = new Histogram({ name: NAME, help: HELP, buckets: BOUNDS, registers: [theirs] });
        for (const value of values) {
          plain.observe(value);
          histogram.observe(value);
        }
        expect(await ours.metrics()).toBe(await theirs.metrics());
      }),
      { numRuns: 300 },
    );
  });
});
