// An upstream's entry in the config: the keys every kind takes (naming, timeouts, filters and curation,
// credentials, secrets, pinning) and the three kinds, stdio, HTTP and built-in, as zod schemas.
import { z } from 'zod';
import { builtinServers } from '../builtin-servers/index.js';
import { duration } from '../duration.js';
import { secretsSchema } from '../policy/secrets/schema.js';
import { upstreamAuthSchema } from './config-auth.js';
import { toolsCurationSchema } from './config-curation.js';

export const UPSTREAM_NAME = /^[A-Za-z0-9_-]+$/;

const allowDenySchema = z.strictObject({
  allow: z.array(z.string()).optional(),
  deny: z.array(z.string()).optional(),
});

/** The keys every kind of upstream takes. */
export const common = {
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9_-]*$/, 'letters, digits, - and _ only')
    .optional(),
  scope: z.enum(['shared', 'session']).optional(),
  timeout: duration.optional(),
  /** The longest a call may take in total, even while it reports progress (defaults.maxTimeout). */
  maxTimeout: duration.optional(),
  /** How long connecting may take (`npx` may be downloading the server) (defaults.startTimeout). */
  startTimeout: duration.optional(),
  /** The largest result a call accepts from this upstream, in bytes (defaults.maxResultBytes). */
  maxResultBytes: z.number().int().positive().optional(),
  enabled: z.boolean().default(true),
  /** The most calls in flight to this upstream at once, from all clients together (a bulkhead); more are
   * refused at once with a retry hint. Absent: no cap beyond the rules' own `limits.concurrent`. */
  maxConcurrent: z.number().int().positive().optional(),
  /** Catalogue filters by the upstream's own names (tools, prompts) or URIs and URI templates (resources):
   * what they leave out does not exist behind the gateway, for lists, calls and probes alike. */
  tools: toolsCurationSchema.optional(),
  prompts: allowDenySchema.optional(),
  resources: allowDenySchema.optional(),
  /** Credentials the gateway itself obtains for this upstream (never the client's own token). */
  auth: upstreamAuthSchema.optional(),
  /** Credentials in calls' arguments and results: redact | block | off, or { args, results } (default: results
   * redacted, arguments passed as they are). */
  secrets: secretsSchema.optional(),
  /** Claude Desktop / VS Code entries carry a `type`; it is accepted and checked against the shape. */
  type: z.enum(['stdio', 'http', 'streamable-http', 'sse']).optional(),
  /** Tool-definition pins (stores/pins.ts): `off`, or what a tool first seen after the upstream's first start
   * gets (`trust`: pinned on sight; `quarantine`: held until `switchboard pins approve`). */
  pinning: z
    .union([z.literal('off'), z.strictObject({ newTools: z.enum(['trust', 'quarantine']).default('trust') })])
    .optional(),
  /** What a tool definition that looks poisoned (policy/poisoning.ts) gets: a warning, or a quarantine. */
  poisoning: z.enum(['warn', 'quarantine']).optional(),
};

export const stdioUpstreamSchema = z.strictObject({
  ...common,
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  /** VS Code / Cursor: a dotenv file read at start-up; `env` entries win over it. */
  envFile: z.string().optional(),
  cwd: z.string().optional(),
  /** The longest stdout line before the connection is reset, in bytes (defaults.maxLineBytes). */
  maxLineBytes: z.number().int().positive().optional(),
});

export const httpUpstreamSchema = z.strictObject({
  ...common,
  url: z.url({ protocol: /^https?$/ }),
  headers: z.record(z.string(), z.string()).default({}),
});

const builtinNames = Object.keys(builtinServers) as [string, ...string[]];
/** Options of a built-in server sit beside `builtin:`; its own schema checks them. */
export const builtinUpstreamSchema = z.looseObject({ ...common, builtin: z.enum(builtinNames) });

export const KNOWN_UPSTREAM_KEYS = new Set([
  ...Object.keys(stdioUpstreamSchema.shape),
  ...Object.keys(httpUpstreamSchema.shape),
  'builtin',
]);

export const upstreamSchema = z.union([stdioUpstreamSchema, httpUpstreamSchema, builtinUpstreamSchema]);
