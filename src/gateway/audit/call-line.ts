// A call record's JSON text, written straight from its parts: the same bytes `JSON.stringify` gives the record
// object (audit.ts builds that object only when a mirror needs it), with the parts that repeat from call to call
// (the item's names; per session, the principal and hashed session) serialised once and reused. In place on the
// bench's G8 target, `JSON.stringify` of the record took ~3.6 µs of every call's CPU.
import type { Principal } from '../../policy/types.js';
import { clip, durationText, principalFields, shapeOf } from './record.js';

/** The fields of one call record, in the record's order (see audit.ts). */
export interface CallFields {
  readonly time: string;
  readonly method: string;
  readonly name?: string;
  readonly upstream?: string;
  readonly original?: string;
  readonly principal: Principal;
  /** The session id as the record shows it (already hashed). */
  readonly session: string;
  /** The session's own object: the principal and session text is remembered by it (a session keeps one
   * principal, where one principal, an API key's, may have many sessions at once). */
  readonly sessionKey?: object;
  readonly outcome: string;
  readonly error?: { readonly code: number; readonly kind: string; readonly message: string };
  readonly durationMs: number;
  readonly traceId?: string;
  /** The request's arguments (their shape is written, never a value); undefined: none carried. */
  readonly args?: unknown;
}

/** Remembered per item object: its names' text, for the name and upstream it was made for. */
interface ItemText {
  readonly name: string | undefined;
  readonly upstream: string | undefined;
  readonly original: string | undefined;
  readonly text: string;
}

/** Remembered per session object: the principal and session text, for the principal and id it was made for. */
interface WhoText {
  readonly principal: Principal;
  readonly session: string;
  readonly text: string;
}

/** The outcomes a record can have, as JSON. */
const OUTCOMES = new Map(['ok', 'isError', 'cancelled', 'error'].map((o) => [o, JSON.stringify(o)]));

const json = JSON.stringify;

export class CallLines {
  private readonly items = new WeakMap<object, ItemText>();
  private readonly who = new WeakMap<object, WhoText>();
  private readonly methods = new Map<string, string>();

  /**
   * The record's JSON text after its opening brace (what the sink chains); `item` is the catalogue's object for
   * what was called (a key for its cached text).
   */
  fieldsText(fields: CallFields, item: object | undefined): string {
    let out = `"time":"${fields.time}","event":"call",${this.methodText(fields.method)}`;
    out += this.itemText(fields, item);
    out += this.whoText(fields);
    out += `,"outcome":${OUTCOMES.get(fields.outcome) ?? json(fields.outcome)}`;
    if (fields.error)
      out += `,"error":${json({ code: fields.error.code, kind: fields.error.kind, message: clip(fields.error.message) })}`;
    // A finite number's JSON is its String() (durations always are finite); anything else goes through JSON.
    const duration = fields.durationMs;
    out += `,"durationMs":${Number.isFinite(duration) ? durationText(duration) : json(duration)}`;
    if (fields.traceId) out += `,"traceId":${json(fields.traceId)}`;
    if (fields.args !== undefined) out += `,"args":${json(shapeOf(fields.args))}`;
    return `${out}}`;
  }

  private methodText(method: string): string {
    let text = this.methods.get(method);
    if (text === undefined) {
      text = `"method":${json(method)}`;
      // The audited methods are a handful; anything else is not remembered.
      if (this.methods.size < 16) this.methods.set(method, text);
    }
    return text;
  }

  private itemText(fields: CallFields, item: object | undefined): string {
    const { name, upstream, original } = fields;
    const known = item && this.items.get(item);
    if (known && known.name === name && known.upstream === upstream && known.original === original)
      return known.text;
    let text = '';
    if (name !== undefined) text += `,"name":${json(clip(name))}`;
    if (upstream !== undefined) text += `,"upstream":${json(upstream)}`;
    if (original !== undefined) text += `,"original":${json(clip(original))}`;
    if (item) this.items.set(item, { name, upstream, original, text });
    return text;
  }

  private whoText({ principal, session, sessionKey }: CallFields): string {
    const known = sessionKey && this.who.get(sessionKey);
    if (known && known.principal === principal && known.session === session) return known.text;
    const text = `,"principal":${json(principalFields(principal))},"session":${json(session)}`;
    if (sessionKey) this.who.set(sessionKey, { principal, session, text });
    return text;
  }
}
