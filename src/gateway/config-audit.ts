// The `audit:` block: where the tamper-evident audit log goes (a file with size-based rotation, stdout, or
// both, and OTLP logs when `telemetry.otlp` is set), how durable a record is before the call's answer leaves, and
// what a failing sink does to calls.
import { z } from 'zod';

const MIB = 1024 * 1024;

export const auditSchema = z
  .strictObject({
    /** The live file (relative paths resolve against the config file's folder); rotated files sit beside it. */
    file: z.string().min(1).optional(),
    /** Also (or only) write each record to stdout, for a collector that reads the container's output. */
    stdout: z.boolean().default(false),
    /** With `telemetry.otlp` set, each record is also exported as an OTLP log record (best effort, batched: the
     * file or stdout stays the durable copy). Off unless asked: every record is exported (traces are sampled,
     * audit records are not), which measured ~10-15 µs of CPU per call on the secured bench path. */
    otlp: z.boolean().default(false),
    /** flush: a call's answer leaves once its record is written to the OS; fsync: once it is on disk;
     * buffered: at once, the record follows in the background. */
    durability: z.enum(['flush', 'fsync', 'buffered']).default('flush'),
    /** fail: while the log cannot be written, audited calls fail closed; continue: they go on, with a warning. */
    onFailure: z.enum(['fail', 'continue']).default('fail'),
    /** The live file is rotated before a write would take it past this size. */
    maxBytes: z
      .number()
      .int()
      .min(4096)
      .default(100 * MIB),
    /** Rotated files kept beside the live one (the oldest are deleted). */
    keep: z.number().int().nonnegative().default(10),
    /** A secret (e.g. `${AUDIT_KEY}`): records are chained by HMAC-SHA256 under it instead of plain SHA-256,
     * so whoever can write the file but lacks the key cannot forge a valid chain; session ids are hashed
     * under it too. `switchboard audit verify --key-env NAME` checks such a log. */
    hashKey: z.string().min(16, 'hashKey: at least 16 characters').optional(),
  })
  .refine((audit) => audit.file !== undefined || audit.stdout, {
    message: 'audit: give a file, stdout: true, or both',
  });

export type AuditConfig = z.output<typeof auditSchema>;
