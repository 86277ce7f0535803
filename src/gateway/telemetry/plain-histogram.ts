// An unlabelled histogram counted in plain numbers and handed to the Prometheus registry as a metric it formats
// at scrape time: prom-client's own observe hashes the (empty) label set and writes a keyed map on every call,
// which for the audit write latency is once per batch of records on the call path.
import type { Registry } from 'prom-client';
import { countInBucket, histogramSamples, type Tally } from './request-series.js';

export class PlainHistogram {
  private readonly tally: Tally;

  constructor(
    registry: Registry,
    name: string,
    help: string,
    private readonly bounds: readonly number[],
  ) {
    this.tally = { count: 0, sum: 0, buckets: bounds.map(() => 0) };
    const exposed = {
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      get: () => ({
        name,
        help,
        type: 'histogram',
        aggregator: 'sum',
        values: histogramSamples(name, bounds, this.tally),
      }),
    };
    // prom-client formats any object with get(); its own metric classes are one kind of such object.
    registry.registerMetric(exposed as never);
  }

  observe(value: number): void {
    this.tally.count++;
    this.tally.sum += value;
    countInBucket(this.bounds, this.tally.buckets, value);
  }
}
