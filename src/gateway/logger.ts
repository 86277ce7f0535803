// The root pino logger: JSON to stderr (stdout may carry MCP messages), credentials redacted at the root:
// structured paths by pino's own `redact`, every string field and message through redactText (with the
// secrets the config names), and session ids only as a short hash.
import { createHash } from 'node:crypto';
import pino, { type DestinationStream, type Logger } from 'pino';
import { REDACTED, redactText } from '../redact.js';

/** The secrets known to a root logger (and so to its children, which inherit from it). */
const SECRETS = Symbol('switchboard.logSecrets');
type WithSecrets = Logger & { [SECRETS]?: string[] };

/** Field names whose value is a credential whatever it looks like. */
const SECRET_KEY =
  /^(authorization|proxy-authorization|cookie|set-cookie|password|passwd|secret|client_?secret|token|access_?token|refresh_?token|api[-_]?key|x-api-key)$/i;
const SESSION_KEY = /^(sessionId|sessionKey|session_id|mcpSessionId)$/;
/** How deep a logged object is searched; deeper values are replaced, not walked. */
const MAX_DEPTH = 6;

export interface LoggerOptions {
  /** Where lines go (tests capture them); stderr by default. */
  destination?: DestinationStream;
  /** Strings to remove wherever they appear (see configSecrets). */
  secrets?: readonly string[];
}

export function createLogger(level: string, options: LoggerOptions = {}): Logger {
  const secrets: string[] = [...(options.secrets ?? [])];
  const clean = (value: unknown) => scrub(value, secrets, 0);
  const log: WithSecrets = pino(
    {
      level,
      base: undefined,
      redact: {
        paths: [
          'headers.authorization',
          'headers.Authorization',
          'headers.cookie',
          'headers["proxy-authorization"]',
          'headers["x-api-key"]',
          '*.headers.authorization',
          '*.headers.Authorization',
          '*.headers.cookie',
          '*.headers["proxy-authorization"]',
          '*.headers["x-api-key"]',
          'token',
        ],
        censor: REDACTED,
      },
      formatters: {
        // The fields of each line: only ever runs for lines that are written.
        log: (object) => clean(object) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          for (let i = 0; i < args.length; i++) {
            if (typeof args[i] === 'string') args[i] = redactText(args[i] as string, secrets);
          }
          return method.apply(this, args as Parameters<typeof method>);
        },
      },
    },
    options.destination ?? pino.destination({ fd: 2, sync: false }),
  );
  log[SECRETS] = secrets;
  // pino applies no formatter to a child's bindings (e.g. `{ sessionId }`); children inherit this method, so
  // grandchildren are cleaned too.
  const child = log.child;
  log.child = function (this: Logger, bindings, childOptions) {
    return child.call(this, clean(bindings) as pino.Bindings, childOptions);
  } as Logger['child'];
  return log;
}

/** Adds secrets to a logger made by createLogger (and its children); a no-op for any other logger. */
export function addLogSecrets(log: Logger, values: readonly string[]): void {
  const known = (log as WithSecrets)[SECRETS];
  if (!known) return;
  for (const value of values) if (!known.includes(value)) known.push(value);
}

/** A session id as it may appear in logs: a short sha256 prefix, enough to correlate lines, useless to replay. */
export function hashSessionId(id: string): string {
  return `sha256:${createHash('sha256').update(id).digest('hex').slice(0, 12)}`;
}

function scrub(value: unknown, secrets: readonly string[], depth: number): unknown {
  if (typeof value === 'string') return redactText(value, secrets);
  if (!value || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (value instanceof Error) {
    // Errors stay errors (same prototype) for pino's serializer, with their text fields redacted.
    const copy = Object.create(Object.getPrototypeOf(value) as object) as Record<string, unknown>;
    for (const [key, item] of Object.entries(value)) copy[key] = field(key, item, secrets, depth);
    copy.message = redactText(value.message, secrets);
    copy.stack = value.stack && redactText(value.stack, secrets);
    if (value.cause !== undefined) copy.cause = scrub(value.cause, secrets, depth + 1);
    return copy;
  }
  if (Array.isArray(value)) return value.map((item) => scrub(item, secrets, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = field(key, item, secrets, depth);
  return out;
}

function field(key: string, item: unknown, secrets: readonly string[], depth: number): unknown {
  if (SESSION_KEY.test(key) && typeof item === 'string') return hashSessionId(item);
  if (SECRET_KEY.test(key) && typeof item === 'string') return REDACTED;
  return scrub(item, secrets, depth + 1);
}
