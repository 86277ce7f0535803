// The root pino logger: JSON to stderr (stdout may carry MCP messages), credentials redacted at the root:
// structured paths by pino's own `redact`, every field named like a credential (or named in `logging.redact`)
// at any depth, every string field and message through redactText (with the secrets the config names), and
// session ids only as a short hash.
import { createHash } from 'node:crypto';
import pino, { type DestinationStream, type Logger } from 'pino';
import { REDACTED, redactText } from '../redact.js';

/** What a root logger (and so its children, which inherit from it) keeps out of its lines. */
const SECRETS = Symbol('switchboard.logSecrets');
interface Known {
  /** Values removed wherever they appear (see configSecrets). */
  values: string[];
  /** Field names (lower case) whose values are removed at any depth (`logging.redact`). */
  fields: Set<string>;
}
type WithSecrets = Logger & { [SECRETS]?: Known };

/** Field names whose string value is a credential whatever it looks like (`x-api-key`, `clientSecret`...). */
const SECRET_KEY =
  /(?:authorization|cookie|passw(?:or)?d|passwd|secret|token|api[-_]?key|apikey|private[-_]?key|credentials?)$/i;
/** Fields and headers holding a session id: logged hashed, so lines of one session still correlate. */
const SESSION_KEY = /^(?:sessionId|sessionKey|session_id|mcpSessionId|mcp-session-id)$/i;
/** How deep a logged object is searched; deeper values are replaced, not walked. */
const MAX_DEPTH = 6;

/**
 * Header paths pino itself censors (fastify's `req`/`res` included), after the formatter: a second net for the
 * usual places. Session ids are not among them: the formatter has hashed them by then, at any depth.
 */
const HEADER_PATHS = ['headers', '*.headers', 'req.headers', 'res.headers'].flatMap((at) =>
  ['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key'].map(
    (name) => `${at}["${name}"]`,
  ),
);

export interface LoggerOptions {
  /** Where lines go (tests capture them); stderr by default. */
  destination?: DestinationStream;
  /** Strings to remove wherever they appear (see configSecrets). */
  secrets?: readonly string[];
  /** Field names whose values are removed at any depth (`logging.redact`). */
  fields?: readonly string[];
}

export function createLogger(level: string, options: LoggerOptions = {}): Logger {
  const known: Known = { values: [], fields: new Set() };
  const secrets = known.values;
  const clean = (value: unknown) => scrub(value, known, 0);
  const log: WithSecrets = pino(
    {
      level,
      base: undefined,
      redact: {
        paths: [...HEADER_PATHS, 'token', 'password', 'authorization'],
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
  log[SECRETS] = known;
  addLogSecrets(log, options.secrets ?? [], options.fields);
  // pino applies no formatter to a child's bindings (e.g. `{ sessionId }`); children inherit this method, so
  // grandchildren are cleaned too.
  const child = log.child;
  log.child = function (this: Logger, bindings, childOptions) {
    return child.call(this, clean(bindings) as pino.Bindings, childOptions);
  } as Logger['child'];
  return log;
}

/**
 * Adds secret values, and field names to censor, to a logger made by createLogger (and its children); a no-op
 * for any other logger.
 */
export function addLogSecrets(log: Logger, values: readonly string[], fields: readonly string[] = []): void {
  const known = (log as WithSecrets)[SECRETS];
  if (!known) return;
  for (const value of values) if (!known.values.includes(value)) known.values.push(value);
  for (const name of fields) known.fields.add(name.toLowerCase());
}

/** A session id as it may appear in logs: a short sha256 prefix, enough to correlate lines, useless to replay. */
export function hashSessionId(id: string): string {
  return `sha256:${createHash('sha256').update(id).digest('hex').slice(0, 12)}`;
}

function scrub(value: unknown, known: Known, depth: number): unknown {
  if (typeof value === 'string') return redactText(value, known.values);
  if (!value || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (value instanceof Error) {
    // Errors stay errors (same prototype) for pino's serializer, with their text fields redacted.
    const copy = Object.create(Object.getPrototypeOf(value) as object) as Record<string, unknown>;
    for (const [key, item] of Object.entries(value)) copy[key] = field(key, item, known, depth);
    copy.message = redactText(value.message, known.values);
    copy.stack = value.stack && redactText(value.stack, known.values);
    if (value.cause !== undefined) copy.cause = scrub(value.cause, known, depth + 1);
    return copy;
  }
  if (Array.isArray(value)) return value.map((item) => scrub(item, known, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = field(key, item, known, depth);
  return out;
}

function field(key: string, item: unknown, known: Known, depth: number): unknown {
  if (SESSION_KEY.test(key) && typeof item === 'string') return hashSessionId(item);
  if (SECRET_KEY.test(key) && typeof item === 'string') return REDACTED;
  // A field the operator named goes whole, whatever it holds.
  if (known.fields.size && known.fields.has(key.toLowerCase())) return REDACTED;
  return scrub(item, known, depth + 1);
}
