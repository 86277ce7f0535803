// Trace and span ids for the gateway's spans, cut from a pooled buffer of crypto randomness, and the span an
// unsampled request carries: its ids, passed on, and nothing recorded.
import { randomFillSync } from 'node:crypto';
import { trace, TraceFlags, type Span, type TraceState } from '@opentelemetry/api';
import type { IdGenerator } from '@opentelemetry/sdk-trace-base';

/** Ids for 256 requests per refill: one syscall-free fill instead of a random draw per hex digit. */
const POOL_BYTES = 24 * 256;

export class PooledIds implements IdGenerator {
  private readonly pool = Buffer.allocUnsafe(POOL_BYTES);
  private offset = POOL_BYTES;

  generateTraceId(): string {
    return this.hex(16);
  }

  generateSpanId(): string {
    return this.hex(8);
  }

  private hex(bytes: number): string {
    for (;;) {
      if (this.offset + bytes > POOL_BYTES) {
        randomFillSync(this.pool);
        this.offset = 0;
      }
      const start = this.offset;
      this.offset += bytes;
      // All zeros is the one invalid id (W3C trace context); 2^-64 at worst, but never hand it out.
      for (let i = start; i < start + bytes; i++)
        if (this.pool[i] !== 0) return this.pool.toString('hex', start, start + bytes);
    }
  }
}

/** A span that records nothing for an unsampled request (a root, or the child of a caller's unsampled context,
 * whose trace state it keeps): its ids are passed on and named in the audit record, as the SDK's own
 * non-recording span's would be. */
export function unsampledSpan(ids: PooledIds, traceId: string, traceState?: TraceState): Span {
  const spanId = ids.generateSpanId();
  return trace.wrapSpanContext({
    traceId,
    spanId,
    traceFlags: TraceFlags.NONE,
    ...(traceState ? { traceState } : {}),
  });
}
