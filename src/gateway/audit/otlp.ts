// The audit log's OTLP logs sink: each written record also leaves as an OTLP log record (OTLP/HTTP JSON to
// `<telemetry.otlp.endpoint>/v1/logs`), its body the sealed line as the file holds it, so a backend can check its
// hash; attributes to query by, and the trace and span it belongs to. Best effort: batched, and dropped when
// the collector is down or the queue is full; the file or stdout is the durable copy. Imported (dynamically)
// only when `telemetry.otlp` is configured (cli.ts), like tracing.
import {
  isSpanContextValid,
  ROOT_CONTEXT,
  trace,
  type Attributes,
  type SpanContext,
} from '@opentelemetry/api';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { resources } from '@opentelemetry/sdk-node';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import type { TelemetryConfig } from '../config-telemetry.js';
import { installAuditExport, installedAuditExport, type AuditExport } from './otlp-hook.js';
import type { AuditMirror, SpanRef } from './sink.js';

/** How long shutdown waits for the last records to reach the collector before giving up on them. */
const FLUSH_TIMEOUT_MS = 3000;
/** OTLP SeverityNumber: INFO, and WARN for a refusal. */
const INFO = 9;
const WARN = 13;

/** OTLP/HTTP puts logs at `/v1/logs` under the collector's base URL; an endpoint given with `/v1/traces` (which
 * `telemetry.otlp.endpoint` accepts) names the same collector. */
export function logsUrl(endpoint: string): string {
  const url = new URL(endpoint);
  const base = url.pathname.replace(/\/+$/, '').replace(/\/v1\/(traces|logs)$/, '');
  url.pathname = `${base}/v1/logs`;
  return url.href;
}

/** What a record's log record needs besides its line: captured as it is queued. */
interface Captured {
  readonly time: number;
  readonly attributes: Attributes;
  readonly span?: SpanContext;
  readonly refusal: boolean;
}

/** Starts the export and installs it for the audit log (once per process: a second call returns the first). */
export function startAuditExport(telemetry: TelemetryConfig, version: string): AuditExport {
  const running = installedAuditExport();
  if (running) return running;
  const otlp = telemetry.otlp!;
  const exporter = new OTLPLogExporter({ url: logsUrl(otlp.endpoint), headers: otlp.headers });
  // Batched: emitting costs a queue push as the batch is written; export happens off that path. The SDK reads
  // no OTEL_BLRP_* variable itself (the NodeSDK would): read here, as the spec names them.
  const processor = new BatchLogRecordProcessor({
    exporter,
    scheduledDelayMillis: fromEnv('OTEL_BLRP_SCHEDULE_DELAY'),
    exportTimeoutMillis: fromEnv('OTEL_BLRP_EXPORT_TIMEOUT'),
    maxQueueSize: fromEnv('OTEL_BLRP_MAX_QUEUE_SIZE'),
    maxExportBatchSize: fromEnv('OTEL_BLRP_MAX_EXPORT_BATCH_SIZE'),
  });
  const provider = new LoggerProvider({
    resource: resources
      .defaultResource()
      .merge(resources.resourceFromAttributes({ 'service.name': telemetry.serviceName ?? 'switchboard' })),
    processors: [processor],
  });
  const logger = provider.getLogger('switchboard.audit', version);

  const mirror: AuditMirror = {
    capture: (record, span) => captured(record, span),
    written(line, seq, hash, seen) {
      const { time, attributes, span, refusal } = seen as Captured;
      try {
        logger.emit({
          eventName: 'switchboard.audit',
          timestamp: time,
          severityNumber: refusal ? WARN : INFO,
          severityText: refusal ? 'WARN' : 'INFO',
          body: line,
          attributes: { ...attributes, 'switchboard.audit.seq': seq, 'switchboard.audit.hash': hash },
          ...(span ? { context: trace.setSpanContext(ROOT_CONTEXT, span) } : {}),
        });
      } catch {
        // Best effort: the record is in the durable sink; the export must never break it.
      }
    },
  };
  const exported: AuditExport = {
    mirror,
    flush: () =>
      Promise.race([
        processor.forceFlush(),
        new Promise<void>((resolve) => setTimeout(resolve, FLUSH_TIMEOUT_MS).unref()),
      ]),
  };
  installAuditExport(exported);
  return exported;
}

/**
 * The attributes a backend queries by (names as the gateway's spans use them), and the span the record belongs
 * to: the one its caller names (a call's SERVER span), else the one active as it is queued (a decision made in
 * a policy's span). Only fields that are already in the record, so nothing reaches the export that the file
 * does not hold.
 */
function captured(record: Readonly<Record<string, unknown>>, ref: SpanRef | undefined): Captured {
  const attributes: Attributes = { 'switchboard.audit.event': String(record.event) };
  const text = (key: string, value: unknown) => {
    if (typeof value === 'string') attributes[key] = value;
  };
  text('switchboard.audit.decision', record.decision);
  text('switchboard.audit.outcome', record.outcome);
  text('switchboard.audit.rule', record.rule);
  text('mcp.method.name', record.method);
  text('switchboard.upstream', record.upstream);
  const kind = record.kind ?? methodKind(record.method);
  if (kind === 'tool') text('gen_ai.tool.name', record.name);
  else if (kind === 'prompt') text('gen_ai.prompt.name', record.name);
  else if (kind === 'resource' || kind === 'template') text('mcp.resource.uri', record.name);
  let span: SpanContext | undefined = ref && { traceId: ref.traceId, spanId: ref.spanId, traceFlags: 1 };
  if (!span || !isSpanContextValid(span)) {
    const active = trace.getActiveSpan()?.spanContext();
    span = active && isSpanContextValid(active) ? active : undefined;
  }
  // The ids as attributes too: a record whose span is not known still names its trace (from the client's
  // traceparent), and backends that index attributes only can join on them.
  const traceId = span?.traceId ?? record.traceId;
  text('trace_id', traceId);
  if (span) attributes.span_id = span.spanId;
  return {
    time: Date.now(),
    attributes,
    span,
    // Every decision but an allow and an approval granted held something back (deny, limit, guard, quarantine).
    refusal:
      record.decision !== undefined &&
      record.decision !== 'allow' &&
      !(record.decision === 'approve' && record.outcome === 'approved'),
  };
}

/** A positive whole number from the environment; undefined (the SDK's default) when unset or not one. */
function fromEnv(name: string): number | undefined {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : undefined;
}

function methodKind(method: unknown): string | undefined {
  if (method === 'tools/call') return 'tool';
  if (method === 'prompts/get') return 'prompt';
  if (method === 'resources/read') return 'resource';
  return undefined;
}
