// The gateway's own spans (recorded-span.ts), in process: sampled as ParentBased(TraceIdRatio) decides, kept to
// the SDK's limits, and read by the SDK's own processor and OTLP/HTTP exporter as its spans would be (a real
// OTLPTraceExporter posting to the tests' receiver: times on the wall clock, parents, events, status, resource).
import { SpanKind, SpanStatusCode, TraceFlags, createTraceState, type SpanContext } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resources } from '@opentelemetry/sdk-node';
import { InMemorySpanExporter, SimpleSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordedSpan, SpanRecorder } from '../../src/gateway/telemetry/recorded-span.js';
import { PooledIds } from '../../src/gateway/telemetry/trace-ids.js';
import { startReceiver, type Receiver } from './tracing-helpers.js';

const resource = resources.resourceFromAttributes({ 'service.name': 'recorded-span-test' });
const scope = { name: 'switchboard', version: '0.0.0-test' };
const PARENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_SPAN = '00f067aa0ba902b7';

function recorder(processor: SpanProcessor, sampled: boolean | ((traceId: string) => boolean)) {
  const decide = typeof sampled === 'boolean' ? () => sampled : sampled;
  return new SpanRecorder({ processor, resource, instrumentationScope: scope }, new PooledIds(), decide);
}

function memory() {
  const exporter = new InMemorySpanExporter();
  return { exporter, processor: new SimpleSpanProcessor(exporter) };
}

const remote = (traceFlags: number, traceState?: string): SpanContext => ({
  traceId: PARENT_TRACE,
  spanId: PARENT_SPAN,
  traceFlags,
  isRemote: true,
  ...(traceState ? { traceState: createTraceState(traceState) } : {}),
});

describe('recorded spans: sampling', () => {
  it('a root request is recorded when the ratio samples its trace id, and otherwise only carries ids on', () => {
    const { exporter, processor } = memory();
    const seen: string[] = [];
    const spans = recorder(processor, (traceId) => (seen.push(traceId), seen.length === 1));
    const sampled = spans.first('tools/call', SpanKind.SERVER, undefined);
    const unsampled = spans.first('tools/call', SpanKind.SERVER, undefined);
    expect(sampled).toBeInstanceOf(RecordedSpan);
    expect(sampled.isRecording()).toBe(true);
    // The span takes the very trace id the ratio decided on.
    expect(sampled.spanContext()).toMatchObject({ traceId: seen[0], traceFlags: TraceFlags.SAMPLED });
    expect(unsampled.isRecording()).toBe(false);
    expect(unsampled.spanContext()).toMatchObject({ traceId: seen[1], traceFlags: TraceFlags.NONE });
    expect(unsampled.spanContext().spanId).toMatch(/^[\da-f]{16}$/);
    sampled.end();
    unsampled.end();
    expect(exporter.getFinishedSpans().map((s) => s.spanContext().traceId)).toEqual([seen[0]]);
  });

  it("a caller's sampled context is the parent (its trace state kept) whatever the ratio says", () => {
    const { exporter, processor } = memory();
    const span = recorder(processor, false).first('tools/call', SpanKind.SERVER, remote(1, 'vendor=a'));
    expect(span.isRecording()).toBe(true);
    span.end();
    const [done] = exporter.getFinishedSpans();
    expect(done.parentSpanContext).toMatchObject({ traceId: PARENT_TRACE, spanId: PARENT_SPAN });
    expect(done.spanContext()).toMatchObject({ traceId: PARENT_TRACE, traceFlags: TraceFlags.SAMPLED });
    expect(done.spanContext().spanId).not.toBe(PARENT_SPAN);
    expect(done.spanContext().traceState?.serialize()).toBe('vendor=a');
  });

  it("a caller's unsampled context is followed: nothing recorded, its trace id and state carried on with flag 00", () => {
    const { exporter, processor } = memory();
    const span = recorder(processor, true).first('tools/call', SpanKind.SERVER, remote(0, 'vendor=b'));
    expect(span.isRecording()).toBe(false);
    expect(span.spanContext()).toMatchObject({ traceId: PARENT_TRACE, traceFlags: TraceFlags.NONE });
    expect(span.spanContext().spanId).not.toBe(PARENT_SPAN);
    expect(span.spanContext().traceState?.serialize()).toBe('vendor=b');
    span.end();
    expect(exporter.getFinishedSpans()).toHaveLength(0);
  });

  it('an invalid caller context (all-zero ids) counts as none: the ratio decides on a trace id of its own', () => {
    const { processor } = memory();
    const invalid = { ...remote(1), traceId: '0'.repeat(32) };
    const span = recorder(processor, false).first('tools/call', SpanKind.SERVER, invalid);
    expect(span.isRecording()).toBe(false);
    expect(span.spanContext().traceId).not.toBe('0'.repeat(32));
  });

  it('without a sink (the SDK off) nothing records: a root gets ids of its own, a caller context goes on as it came', () => {
    const spans = new SpanRecorder(undefined, new PooledIds(), () => true);
    const root = spans.first('tools/call', SpanKind.SERVER, undefined);
    expect(root.isRecording()).toBe(false);
    expect(root.spanContext().traceFlags).toBe(TraceFlags.NONE);
    expect(root.spanContext().traceId).toMatch(/^(?!0{32})[\da-f]{32}$/);
    const child = spans.first('tools/call', SpanKind.SERVER, remote(1, 'vendor=d'));
    expect(child.isRecording()).toBe(false);
    expect(child.spanContext()).toMatchObject({
      traceId: PARENT_TRACE,
      spanId: PARENT_SPAN,
      traceFlags: TraceFlags.SAMPLED,
    });
  });

  it('a child shares its parent trace, names it as parent and inherits its trace state', () => {
    const { exporter, processor } = memory();
    const spans = recorder(processor, false);
    const server = spans.first('tools/call', SpanKind.SERVER, remote(1, 'vendor=c'));
    const child = spans.child('policy', SpanKind.INTERNAL, server, {
      'switchboard.policy.stages': ['a', 'b'],
    });
    child.end();
    server.end();
    const [first, second] = exporter.getFinishedSpans();
    expect(first.name).toBe('policy');
    expect(first.kind).toBe(SpanKind.INTERNAL);
    expect(first.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(first.spanContext().traceId).toBe(PARENT_TRACE);
    expect(first.spanContext().traceState?.serialize()).toBe('vendor=c');
    expect(first.attributes).toEqual({ 'switchboard.policy.stages': ['a', 'b'] });
    expect(second.name).toBe('tools/call');
  });
});

describe('recorded spans: what they keep', () => {
  it('keeps 128 attributes and 128 events as the SDK does, counting what it drops', () => {
    const { exporter, processor } = memory();
    const span = recorder(processor, true).first('x', SpanKind.INTERNAL, undefined) as RecordedSpan;
    for (let i = 0; i < 130; i++) span.setAttribute(`key${i}`, i);
    span.setAttribute('key0', 'replaced');
    for (let i = 0; i < 131; i++) span.addEvent(`event${i}`, { i });
    span.end();
    const [done] = exporter.getFinishedSpans();
    expect(Object.keys(done.attributes)).toHaveLength(128);
    expect(done.attributes.key0).toBe('replaced');
    expect(done.droppedAttributesCount).toBe(2);
    expect(done.events).toHaveLength(128);
    expect(done.droppedEventsCount).toBe(3);
  });

  it('changes nothing once ended, and reaches the processor once however often it is ended', () => {
    const { exporter, processor } = memory();
    const span = recorder(processor, true).first('before', SpanKind.INTERNAL, undefined);
    span.setAttribute('kept', 1);
    span.end();
    span.end();
    span.setAttribute('late', 1);
    span.updateName('after');
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'late' });
    span.addEvent('late');
    expect(span.isRecording()).toBe(false);
    const finished = exporter.getFinishedSpans();
    expect(finished).toHaveLength(1);
    expect(finished[0]).toMatchObject({ name: 'before', attributes: { kept: 1 }, events: [] });
    expect(finished[0].status.code).toBe(SpanStatusCode.UNSET);
  });

  it('takes a status as the SDK does: UNSET changes nothing, ERROR may be replaced, OK is final and has no message', () => {
    const { exporter, processor } = memory();
    const spans = recorder(processor, true);
    const failed = spans.first('failed', SpanKind.INTERNAL, undefined);
    failed.setStatus({ code: SpanStatusCode.ERROR, message: 'first' });
    failed.setStatus({ code: SpanStatusCode.UNSET });
    failed.setStatus({ code: SpanStatusCode.ERROR, message: 'second' });
    failed.end();
    const ok = spans.first('ok', SpanKind.INTERNAL, undefined);
    ok.setStatus({ code: SpanStatusCode.OK, message: 'an OK keeps no message' });
    ok.setStatus({ code: SpanStatusCode.ERROR, message: 'late' });
    ok.end();
    const [first, second] = exporter.getFinishedSpans();
    expect(first.status).toEqual({ code: SpanStatusCode.ERROR, message: 'second' });
    expect(second.status).toEqual({ code: SpanStatusCode.OK });
  });

  it('never ends before it started, even when given an earlier end', () => {
    const { exporter, processor } = memory();
    const started = performance.now();
    const span = recorder(processor, true).first('x', SpanKind.INTERNAL, undefined, started);
    span.end(started - 5);
    expect(exporter.getFinishedSpans()[0].duration).toEqual([0, 0]);
  });
});

describe('recorded spans through the OTLP/HTTP exporter', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
  });

  it('are exported as the SDK exports its own: wall-clock times, kind, parent, status, events and resource', async () => {
    const exporter = new OTLPTraceExporter({ url: `${receiver.endpoint}/v1/traces` });
    const batch: RecordedSpan[] = [];
    const processor: SpanProcessor = {
      onStart() {},
      onEnd: (span) => void batch.push(span as RecordedSpan),
      forceFlush: async () => {},
      shutdown: async () => {},
    };
    const spans = recorder(processor, true);
    const wallBefore = Date.now();
    const start = performance.now();
    const server = spans.first('tools/call echo', SpanKind.SERVER, remote(1), start);
    const auth = spans.child(
      'auth',
      SpanKind.INTERNAL,
      server,
      { 'switchboard.auth.method': 'apiKey' },
      start,
    );
    auth.end(start + 1.5);
    server.addEvent('switchboard.policy.decision', { 'switchboard.decision.effect': 'deny' });
    server.setStatus({ code: SpanStatusCode.ERROR, message: 'policy_denied' });
    server.end(start + 12.25);
    const wallAfter = Date.now();
    const result = await new Promise<{ code: number }>((resolve) => exporter.export(batch, resolve));
    expect(result.code).toBe(0);
    await exporter.shutdown();

    const got = new Map(receiver.spans.map((s) => [s.name, s]));
    const exportedServer = got.get('tools/call echo')!;
    const exportedAuth = got.get('auth')!;
    expect(exportedServer).toMatchObject({
      traceId: PARENT_TRACE,
      parentSpanId: PARENT_SPAN,
      kind: 2,
      status: { code: 2, message: 'policy_denied' },
      serviceName: 'recorded-span-test',
      events: [
        { name: 'switchboard.policy.decision', attributes: { 'switchboard.decision.effect': 'deny' } },
      ],
    });
    expect(exportedAuth).toMatchObject({
      traceId: PARENT_TRACE,
      parentSpanId: exportedServer.spanId,
      kind: 1,
      attributes: { 'switchboard.auth.method': 'apiKey' },
    });
    const ns = (text: string) => BigInt(text);
    const startNs = ns(exportedServer.startTimeUnixNano);
    // On the wall clock (a few ms of slack for the clock reads around it), and the durations exact to the µs.
    expect(startNs).toBeGreaterThanOrEqual(BigInt(wallBefore - 2) * 1_000_000n);
    expect(startNs).toBeLessThanOrEqual(BigInt(wallAfter + 2) * 1_000_000n);
    const micros = (end: string, begin: string) => Number((ns(end) - ns(begin)) / 1000n);
    expect(micros(exportedServer.endTimeUnixNano, exportedServer.startTimeUnixNano)).toBeCloseTo(12_250, -1);
    expect(micros(exportedAuth.endTimeUnixNano, exportedAuth.startTimeUnixNano)).toBeCloseTo(1_500, -1);
    expect(exportedAuth.startTimeUnixNano).toBe(exportedServer.startTimeUnixNano);
  });
});
