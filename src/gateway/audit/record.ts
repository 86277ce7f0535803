// What an audit record says about a request, built so that no argument value and no raw session id can reach
// it: the principal's identity fields, the session as a salted hash, the arguments' shape (keys, types,
// lengths, to a bounded depth), and the trace id of the span the request runs in.
import { createHash, randomBytes } from 'node:crypto';
import { trace } from '@opentelemetry/api';
import type { Principal } from '../../policy/types.js';

const MAX_DEPTH = 4;
const MAX_KEYS = 32;
const MAX_ITEMS = 8;
const MAX_KEY_LENGTH = 64;
/** How much of a name or a message a record keeps. */
const MAX_TEXT = 512;

type Shown = Pick<Principal, 'subject' | 'groups' | 'via' | 'clientId' | 'endpoint'>;

/** The principal as a record shows it (built field by field: it runs for every audited call). */
export function principalFields(principal: Principal) {
  const fields: { -readonly [K in keyof Shown]: Shown[K] } = {
    subject: principal.subject,
    groups: principal.groups,
    via: principal.via,
  };
  if (principal.clientId !== undefined) fields.clientId = principal.clientId;
  if (principal.endpoint !== undefined) fields.endpoint = principal.endpoint;
  return fields;
}

/**
 * Session ids as hashes: records of one session correlate, but a record never holds an id that could be
 * replayed. The salt is `hashKey` when set (stable across restarts and replicas), else random per process.
 */
export function sessionHasher(key: string | undefined): (id: string) => string {
  const salt = key ?? randomBytes(32).toString('hex');
  const known = new Map<string, string>();
  return (id) => {
    let hashed = known.get(id);
    if (hashed === undefined) {
      hashed = createHash('sha256').update(salt).update('\0').update(id).digest('hex').slice(0, 32);
      // Sessions end; the cache must not grow with them.
      if (known.size >= 10_000) known.clear();
      known.set(id, hashed);
    }
    return hashed;
  };
}

/**
 * The shape of an arguments value: `string(12)`, `number`, `boolean`, `null`; an object as its keys with their
 * shapes, an array as `{ array: length, items: [...] }` (the first few); deeper than MAX_DEPTH, only the kind.
 */
export function shapeOf(value: unknown, depth = 0): unknown {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return `string(${value.length})`;
    case 'number':
    case 'boolean':
      return typeof value;
    case 'object':
      break;
    default:
      return typeof value;
  }
  if (Array.isArray(value)) {
    if (depth >= MAX_DEPTH) return `array(${value.length})`;
    return { array: value.length, items: value.slice(0, MAX_ITEMS).map((item) => shapeOf(item, depth + 1)) };
  }
  if (depth >= MAX_DEPTH) return 'object';
  const shape: Record<string, unknown> = {};
  let count = 0;
  for (const key of Object.keys(value as object)) {
    if (count++ === MAX_KEYS) {
      shape['…'] = `${Object.keys(value as object).length - MAX_KEYS} more keys`;
      break;
    }
    const name = key.length > MAX_KEY_LENGTH ? `${key.slice(0, MAX_KEY_LENGTH)}…(${key.length})` : key;
    shape[name] = shapeOf((value as Record<string, unknown>)[key], depth + 1);
  }
  return shape;
}

let lastMs = Number.NaN;
let lastIso = '';
let lastSecond = Number.NaN;
/** `YYYY-MM-DDTHH:mm:ss.` of lastSecond. */
let secondText = '';

/** `new Date().toISOString()`: records written in the same millisecond (most of them under load) share the
 * string, and a Date is formatted once per second (formatting one cost more than the rest of a record). */
export function isoNow(): string {
  return isoAt(Date.now());
}

/** `new Date(ms).toISOString()` for a time in years 0-9999 (what Date.now() gives), from the caches above. */
export function isoAt(ms: number): string {
  if (ms === lastMs) return lastIso;
  const second = Math.floor(ms / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    secondText = new Date(second * 1000).toISOString().slice(0, 20);
  }
  const milli = ms - second * 1000;
  lastMs = ms;
  lastIso = `${secondText}${milli < 10 ? '00' : milli < 100 ? '0' : ''}${milli}Z`;
  return lastIso;
}

/** Fraction digits of a duration's thousandths, trailing zeros dropped (index: the thousandths, 1-999). */
const THOUSANDTHS = Array.from({ length: 1000 }, (_, n) =>
  String(n + 1000)
    .slice(1)
    .replace(/0+$/, ''),
);

/**
 * `String(ms)` for a duration rounded to the microsecond (`Math.round(x * 1000) / 1000`), from integers: V8 (on
 * Node 20) turns such a fraction into its shortest text through its slow double-to-string path, ~1 µs a record
 * in place on the bench's G8 target. Any other number is left to `String`.
 */
export function durationText(ms: number): string {
  const micros = Math.round(ms * 1000);
  // Below 2^43 µs (~100 days) the three-decimal text is the shortest that reads back as `ms`.
  if (!(micros >= 0 && micros < 2 ** 43) || micros / 1000 !== ms) return String(ms);
  const whole = Math.floor(micros / 1000);
  const thousandths = micros - whole * 1000;
  return thousandths === 0 ? `${whole}` : `${whole}.${THOUSANDTHS[thousandths]}`;
}

export function clip(text: string): string {
  return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}

const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;
const NO_TRACE = '0'.repeat(32);

/** The trace id of the active span (when tracing runs), else of the client's `_meta.traceparent`, if any. */
export function traceIdOf(meta: unknown): string | undefined {
  const active = trace.getActiveSpan()?.spanContext().traceId;
  if (active && active !== NO_TRACE) return active;
  const parent = (meta as { traceparent?: unknown } | undefined)?.traceparent;
  if (typeof parent !== 'string') return undefined;
  const id = TRACEPARENT.exec(parent)?.[1];
  return id && id !== NO_TRACE ? id : undefined;
}
