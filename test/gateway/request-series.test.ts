// The request counter and latency histogram counted in plain numbers (request-series.ts) must expose exactly what
// prom-client's own Counter and Histogram would for the same requests: prom-client is the oracle.
import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { RequestSeries } from '../../src/gateway/telemetry/request-series.js';

const BOUNDS = [0.0005, 0.001, 0.0025, 0.01, 0.1, 1, 10];
const COUNTER = { name: 'sb_requests_total', help: 'Requests handled' };
const HISTOGRAM = { name: 'sb_request_duration_seconds', help: 'Time to answer' };

const request = fc.record({
  method: fc.constantFrom('tools/call', 'prompts/get', 'initialize'),
  upstream: fc.constantFrom('', 'a', 'b"quoted\\'),
  tool: fc.constantFrom('', 'a__echo', '(unknown)', 'b__x\ny'),
  // Values on the bounds, between them and past the last one.
  seconds: fc.oneof(fc.constantFrom(...BOUNDS, 0, 20), fc.double({ min: 0, max: 30, noNaN: true })),
});

type Request = { method: string; upstream: string; tool: string; seconds: number };

async function oracle(requests: Request[]): Promise<string> {
  const registry = new Registry();
  const counter = new Counter({
    ...COUNTER,
    labelNames: ['method', 'upstream', 'tool'],
    registers: [registry],
  });
  const histogram = new Histogram({
    ...HISTOGRAM,
    labelNames: ['method', 'upstream', 'tool'],
    buckets: BOUNDS,
    registers: [registry],
  });
  for (const { method, upstream, tool, seconds } of requests) {
    counter.inc({ method, upstream, tool });
    histogram.observe({ method, upstream, tool }, seconds);
  }
  return registry.metrics();
}

describe('RequestSeries', () => {
  it('exposes the same text as prom-client for any sequence of requests (counter, buckets, sum, count)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(request, { maxLength: 60 }), async (requests) => {
        const registry = new Registry();
        const series = new RequestSeries(registry, COUNTER, HISTOGRAM, BOUNDS);
        for (const { method, upstream, tool, seconds } of requests)
          series.observe(method, upstream, tool, seconds);
        expect(await registry.metrics()).toBe(await oracle(requests));
      }),
      { numRuns: 300 },
    );
  });

  it('counts a value equal to a bound in that bound, and one past the last bound only in +Inf', async () => {
    const registry = new Registry();
    const series = new RequestSeries(registry, COUNTER, HISTOGRAM, BOUNDS);
    series.observe('tools/call', 'a', 'a__echo', 0.001);
    series.observe('tools/call', 'a', 'a__echo', 11);
    const text = await registry.metrics();
    const labels = 'method="tools/call",upstream="a",tool="a__echo"';
    expect(text).toContain(`sb_request_duration_seconds_bucket{le="0.0005",${labels}} 0`);
    expect(text).toContain(`sb_request_duration_seconds_bucket{le="0.001",${labels}} 1`);
    expect(text).toContain(`sb_request_duration_seconds_bucket{le="10",${labels}} 1`);
    expect(text).toContain(`sb_request_duration_seconds_bucket{le="+Inf",${labels}} 2`);
    expect(text).toContain(`sb_requests_total{${labels}} 2`);
  });
});
