// Starts OpenTelemetry tracing: the NodeSDK with an OTLP/HTTP (JSON) span exporter, a ParentBased(TraceIdRatio)
// sampler and the W3C trace context propagator, then installs the gateway's span hooks. Imported (dynamically)
// only when `telemetry.otlp` is configured, before the rest of the gateway is loaded (cli.ts).
import { ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { core, NodeSDK } from '@opentelemetry/sdk-node';
import { ExplicitContextManager } from './explicit-context.js';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  type ReadableSpan,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import type { TelemetryConfig } from '../config-telemetry.js';
import { SpanRecorder, type SpanSink } from './recorded-span.js';
import { PooledIds } from './trace-ids.js';
import { installTracing, type GatewayTracing } from './tracing-hooks.js';
import { createTracing } from './tracing-spans.js';

/** How long shutdown waits for the last spans to reach the collector before giving up on them. */
const FLUSH_TIMEOUT_MS = 3000;

/** OTLP/HTTP puts traces at `/v1/traces` under the collector's base URL (as OTEL_EXPORTER_OTLP_ENDPOINT does). */
export function tracesUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (!url.pathname.endsWith('/v1/traces')) url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/traces`;
  return url.href;
}

export function startTracing(telemetry: TelemetryConfig, version: string): GatewayTracing {
  const otlp = telemetry.otlp!;
  const exporter = new OTLPTraceExporter({ url: tracesUrl(otlp.endpoint), headers: otlp.headers });
  // Batched: a span costs an array push on the request's path; export happens off it (OTEL_BSP_* tune it).
  const processor = new BatchSpanProcessor(exporter);
  // Only traceparent and tracestate cross hops: baggage could carry what a client should not hand upstream.
  const propagator = new core.W3CTraceContextPropagator();
  const ids = new PooledIds();
  const ratio = new TraceIdRatioBasedSampler(telemetry.sampling);
  const sdk = new NodeSDK({
    serviceName: telemetry.serviceName ?? 'switchboard',
    spanProcessors: [processor],
    sampler: new ParentBasedSampler({ root: ratio }),
    idGenerator: ids,
    textMapPropagator: propagator,
    // Traces only: without these the SDK would also export metrics and logs to a default OTLP endpoint.
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [],
    // Each request carries its own trace context (tracing-spans.ts): no AsyncLocalStorage on the call path.
    contextManager: new ExplicitContextManager(),
  });
  sdk.start();
  const flush = () =>
    Promise.race([
      processor.forceFlush(),
      new Promise<void>((resolve) => setTimeout(resolve, FLUSH_TIMEOUT_MS).unref()),
    ]);
  // The gateway decides a root request's sampling itself, with the same ratio sampler on the same trace id.
  const sampled = (traceId: string) =>
    ratio.shouldSample(ROOT_CONTEXT, traceId).decision === SamplingDecision.RECORD_AND_SAMPLED;
  const recorder = new SpanRecorder(sdkSpanSink(processor, version), ids, sampled);
  const tracing = createTracing(recorder, propagator, flush);
  installTracing(tracing);
  return tracing;
}

/**
 * Where the gateway's spans go (the processor), with what the SDK's tracer puts on its own: the resource (the
 * service name and what the SDK's detectors found) and the instrumentation scope. Read off one span the tracer
 * starts under a sampled parent and that is never ended, so nothing is exported for it. Undefined when the SDK
 * did not start (`OTEL_SDK_DISABLED=true`): its tracer records nothing, and neither does the gateway then.
 */
function sdkSpanSink(processor: SpanProcessor, version: string): SpanSink | undefined {
  const parent = trace.setSpanContext(ROOT_CONTEXT, {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
  });
  const probe = trace
    .getTracer('switchboard', version)
    .startSpan('probe', {}, parent) as Partial<ReadableSpan>;
  if (!probe.resource || !probe.instrumentationScope) return undefined;
  return { processor, resource: probe.resource, instrumentationScope: probe.instrumentationScope };
}
