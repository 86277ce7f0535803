// The per-request counter and latency histogram, counted in plain numbers per series and handed to the Prometheus
// registry as two metrics it formats at scrape time: a request costs one Map lookup and a few additions, where
// prom-client's own inc/observe hash and validate the label set on every call.
import type { Registry } from 'prom-client';

export type RequestLabels = { readonly method: string; readonly upstream: string; readonly tool: string };

interface Series extends Tally {
  readonly labels: RequestLabels;
}

/** What the registry asks of a metric: its name, help, type, and its values when scraped. */
interface Exposed {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly aggregator: 'sum';
  get(): { name: string; help: string; type: string; aggregator: 'sum'; values: unknown[] };
}

export class RequestSeries {
  private readonly series = new Map<string, Series>();
  private readonly histogramName: string;

  constructor(
    registry: Registry,
    counter: { name: string; help: string },
    histogram: { name: string; help: string },
    private readonly bounds: readonly number[],
  ) {
    this.histogramName = histogram.name;
    const counted: Exposed = {
      ...counter,
      type: 'counter',
      aggregator: 'sum',
      get: () => ({
        ...counted,
        values: [...this.series.values()].map((s) => ({ labels: s.labels, value: s.count })),
      }),
    };
    const timed: Exposed = {
      ...histogram,
      type: 'histogram',
      aggregator: 'sum',
      get: () => ({ ...timed, values: [...this.series.values()].flatMap((s) => this.histogramValues(s)) }),
    };
    // prom-client formats any object with get(); its own metric classes are one kind of such object.
    registry.registerMetric(counted as never);
    registry.registerMetric(timed as never);
  }

  /** One request with these labels took `seconds`. */
  observe(method: string, upstream: string, tool: string, seconds: number): void {
    const key = `${method}\n${upstream}\n${tool}`;
    let series = this.series.get(key);
    if (series === undefined) {
      series = { labels: { method, upstream, tool }, count: 0, sum: 0, buckets: this.bounds.map(() => 0) };
      this.series.set(key, series);
    }
    series.count++;
    series.sum += seconds;
    countInBucket(this.bounds, series.buckets, seconds);
  }

  private histogramValues(series: Series): unknown[] {
    return histogramSamples(this.histogramName, this.bounds, series, series.labels);
  }
}

/** A histogram's counts: how many observations and their sum, and per bucket (not cumulative: index i counts
 * values <= bounds[i] and > bounds[i-1]). */
export interface Tally {
  count: number;
  sum: number;
  readonly buckets: number[];
}

/** Prometheus histogram samples as prom-client's own histogram gives them: cumulative `_bucket`s by `le` (then
 * +Inf), `_sum` and `_count`, each with the series' labels when it has any. */
export function histogramSamples(
  name: string,
  bounds: readonly number[],
  tally: Tally,
  sharedLabels?: RequestLabels,
): unknown[] {
  const bucket = `${name}_bucket`;
  let cumulative = 0;
  const out: unknown[] = bounds.map((bound, i) => {
    cumulative += tally.buckets[i];
    return { metricName: bucket, labels: { le: bound }, sharedLabels, value: cumulative };
  });
  out.push({ metricName: bucket, labels: { le: '+Inf' }, sharedLabels, value: tally.count });
  out.push({ metricName: `${name}_sum`, labels: {}, sharedLabels, value: tally.sum });
  out.push({ metricName: `${name}_count`, labels: {}, sharedLabels, value: tally.count });
  return out;
}

/** Counts `value` in the first bucket whose bound it does not exceed (none: only +Inf, which is the count). */
export function countInBucket(bounds: readonly number[], buckets: number[], value: number): void {
  for (let i = 0; i < bounds.length; i++)
    if (value <= bounds[i]) {
      buckets[i]++;
      return;
    }
}
