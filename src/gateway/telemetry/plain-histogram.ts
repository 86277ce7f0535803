// An unlabelled histogram counted in plain numbers and handed to the Prometheus registry as a metric it formats
// at scrape time: prom-client's own observe hashes the (empty) label set and writes a keyed map on every call,
// which for the audit write latency is once per batch of records on the call path.
import type { Registry } from 'prom-client';
import { countInBucket } from './request-series.js';

export class PlainHistogram {
  private count = 0;
  private sum = 0;
  /** Observations per bucket (not cumulative): index i counts values <= bounds[i] and > bounds[i-1]. */
  private readonly buckets: number[];

  constructor(
    registry: Registry,
    private readonly name: string,
    help: string,
    private readonly bounds: readonly number[],
  ) {
    this.buckets = bounds.map(() => 0);
    const exposed = {
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      get: () => ({ name, help, type: 'histogram', aggregator: 'sum', values: this.values() }),
    };
    // prom-client formats any object with get(); its own metric classes are one kind of such object.
    registry.registerMetric(exposed as never);
  }

  observe(value: number): void {
    this.count++;
    this.sum += value;
    countInBucket(this.bounds, this.buckets, value);
  }

  /** The samples prom-client's own histogram gives: cumulative `_bucket`s by `le` (then +Inf), `_sum`, `_count`. */
  private values(): unknown[] {
    const bucket = `${this.name}_bucket`;
    let cumulative = 0;
    const out: unknown[] = this.bounds.map((bound, i) => {
      cumulative += this.buckets[i];
      return { metricName: bucket, labels: { le: bound }, value: cumulative };
    });
    out.push({ metricName: bucket, labels: { le: '+Inf' }, value: this.count });
    out.push({ metricName: `${this.name}_sum`, labels: {}, value: this.sum });
    out.push({ metricName: `${this.name}_count`, labels: {}, value: this.count });
    return out;
  }
}
