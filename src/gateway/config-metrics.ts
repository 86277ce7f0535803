// `telemetry.metrics`: Prometheus text at GET /metrics on the main listener (behind `auth:` when it is on,
// optionally only for some groups), or on a listener of its own for operators who scrape an internal port.
import { z } from 'zod';
import { GatewayError } from '../errors.js';

const listenSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65_535),
});

export const metricsSchema = z.union([
  z.boolean(),
  z
    .strictObject({
      /** A listener of its own that serves only GET /metrics, with no auth: bind it to an internal address. */
      listen: listenSchema.optional(),
      /** On the main listener behind `auth:`: only principals in one of these groups may read it (403 otherwise). */
      groups: z.array(z.string().min(1)).min(1).optional(),
    })
    .refine((value) => !(value.listen && value.groups), {
      message: 'groups applies to /metrics on the main listener; a separate listen address has no auth',
    }),
]);

/** Where /metrics is served, and to whom; undefined: metrics are off. */
export interface MetricsSettings {
  readonly listen?: { readonly host: string; readonly port: number };
  readonly groups?: readonly string[];
}

export function metricsSettings(config: {
  auth?: unknown;
  telemetry?: { metrics?: z.output<typeof metricsSchema> };
}): MetricsSettings | undefined {
  const metrics = config.telemetry?.metrics;
  if (!metrics) return undefined;
  if (metrics === true) return {};
  // Without `auth:` everyone is anonymous and in no group: the endpoint would refuse everyone, silently.
  if (metrics.groups && !config.auth)
    throw new GatewayError(
      'config',
      'telemetry.metrics.groups needs auth: (without it no caller has groups)',
    );
  return metrics;
}
