// What the user is shown when a call needs their approval: the tool, its upstream and a short, bounded summary of
// the arguments, written so that no argument can pass itself off as the gateway's own text or smuggle a secret in
// whole; and the one-checkbox form the answer comes back in.

/** Arguments shown one by one; the rest are counted. */
const MAX_ARGS = 12;
const MAX_KEY_CHARS = 40;
/** A value longer than this is cut: enough to recognise a path or an id, too short to carry a whole key. */
const MAX_VALUE_CHARS = 80;
/** Keys whose values are never shown, whatever a secret scanner before this stage made of them. */
const SENSITIVE_KEY = /pass(word|phrase)?|secret|token|api[-_]?key|auth|credential|private[-_]?key|cookie/i;
/** Characters that could break a line, reorder text or hide it (controls, format and separator characters). */
const UNPRINTABLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/** The form field the user ticks; only `true` in it approves the call. */
export const APPROVE_FIELD = 'approve';

/** The message of the elicitation: what will run, where, and with what (summarised). */
export function approvalMessage(tool: string, upstream: string, args: unknown): string {
  return [
    'Switchboard needs your approval before this call runs.',
    `Tool: ${printable(tool, MAX_VALUE_CHARS)} (upstream "${printable(upstream, MAX_VALUE_CHARS)}")`,
    ...argumentLines(args),
    'Approve this call?',
  ].join('\n');
}

/** A flat form (as form-mode elicitation requires) with one checkbox, off unless the user turns it on. */
export function approvalSchema(tool: string): Record<string, unknown> {
  return {
    type: 'object',
    properties: {
      [APPROVE_FIELD]: {
        type: 'boolean',
        title: 'Approve',
        description: `Run ${printable(tool, MAX_VALUE_CHARS)} with these arguments`,
        default: false,
      },
    },
    required: [APPROVE_FIELD],
  };
}

function argumentLines(args: unknown): string[] {
  if (args === undefined || args === null) return ['Arguments: none'];
  if (typeof args !== 'object' || Array.isArray(args)) return [`Arguments: ${shown(args)}`];
  const keys = Object.keys(args);
  if (keys.length === 0) return ['Arguments: none'];
  const lines = ['Arguments:'];
  for (const key of keys.slice(0, MAX_ARGS)) {
    const value = (args as Record<string, unknown>)[key];
    lines.push(`  ${printable(key, MAX_KEY_CHARS)}: ${SENSITIVE_KEY.test(key) ? '[hidden]' : shown(value)}`);
  }
  if (keys.length > MAX_ARGS) lines.push(`  ... and ${keys.length - MAX_ARGS} more`);
  return lines;
}

/** One value on one line: strings quoted, structures as compact JSON, each cut to the cap. */
function shown(value: unknown): string {
  if (typeof value === 'string') {
    const more = value.length > MAX_VALUE_CHARS ? ` ... (${value.length} characters)` : '';
    return `${escaped(JSON.stringify(truncate(value, MAX_VALUE_CHARS)))}${more}`;
  }
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return printable(text, MAX_VALUE_CHARS);
}

/** Cut to `max` characters (marked with "..."), with every unprintable character written as an escape. */
function printable(text: string, max: number): string {
  return text.length > max ? `${escaped(truncate(text, max))}...` : escaped(text);
}

function escaped(text: string): string {
  return text.replace(UNPRINTABLE, (c) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`);
}

/** The first `max` UTF-16 units, never ending in half a surrogate pair. */
function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const code = text.charCodeAt(max - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}
