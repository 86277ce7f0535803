// The `telemetry:` block: where spans go (OTLP/HTTP) and how many are kept. Tracing is off unless `otlp` is set.
// Metrics add their own key here (`metrics: metricsSchema.optional()`, the schema in config-metrics.ts).
import { z } from 'zod';
import { metricsSchema } from './config-metrics.js';

export const telemetrySchema = z.strictObject({
  /** `service.name` of every span (default `switchboard`): tells several gateways apart in one backend. */
  serviceName: z.string().min(1).optional(),
  /** The OTLP/HTTP collector spans are exported to; absent: no tracing, and no OpenTelemetry code loaded. */
  otlp: z
    .strictObject({
      /** The collector's base URL (`http://otel:4318`); `/v1/traces` is added unless the path already ends so. */
      endpoint: z.url({ protocol: /^https?$/ }),
      /** Sent with every export (a collector's API key, say); `${VAR}` keeps the value out of the file. */
      headers: z.record(z.string(), z.string()).optional(),
    })
    .optional(),
  /** The share of traces started here that are recorded, 0..1 (default 1); a client's sampled flag wins. */
  sampling: z.number().min(0).max(1).default(1),
  /** Prometheus text at GET /metrics: `true` (main listener, behind auth), `{ groups }` or `{ listen }`. */
  metrics: metricsSchema.optional(),
});

export type TelemetryConfig = z.output<typeof telemetrySchema>;
