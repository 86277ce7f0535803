// Redaction inside a parsed JSON value (tool arguments, a result): every string value is scanned and each secret
// in it becomes `[REDACTED:<kind>]`. Copy on write: the value is never changed in place (a result carrying raw
// bytes is frozen), and a value without secrets comes back as the very same object.
import { replaceSecrets } from './detect.js';

export const redactionLabel = (kind: string) => `[REDACTED:${kind}]`;

/** An AWS secret key is 40 base64 characters, told apart from any hash only by the name it is given. */
const AWS_SECRET_NAME = /secret_?access_?key/i;
const AWS_SECRET_VALUE = /^[A-Za-z0-9/+=]{40}$/;
/** Content types whose `data` is base64 media: a match inside it is chance, and editing it breaks the media. */
const MEDIA = new Set(['image', 'audio']);

export interface Redacted {
  readonly value: unknown;
  /** The kinds found, one entry per secret, in document order; empty when the value is unchanged. */
  readonly kinds: readonly string[];
}

/** The value with its secrets redacted (the same object when there were none). */
export function redactValue(value: unknown): Redacted {
  const kinds: string[] = [];
  const out = walk(value, undefined, kinds);
  return { value: kinds.length ? out : value, kinds };
}

function walk(value: unknown, key: string | undefined, kinds: string[]): unknown {
  if (typeof value === 'string') {
    if (key !== undefined && AWS_SECRET_VALUE.test(value) && AWS_SECRET_NAME.test(key)) {
      kinds.push('aws-secret-access-key');
      return redactionLabel('aws-secret-access-key');
    }
    const replaced = replaceSecrets(value, redactionLabel);
    if (replaced.kinds.length === 0) return value;
    kinds.push(...replaced.kinds);
    return replaced.text;
  }
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item = walk(value[i], undefined, kinds);
      if (item !== value[i]) (copy ??= value.slice())[i] = item;
    }
    return copy ?? value;
  }
  const record = value as Record<string, unknown>;
  const media = typeof record.type === 'string' && MEDIA.has(record.type);
  let copy: Record<string, unknown> | undefined;
  for (const name in record) {
    // Resource blobs and media data are base64: a credential inside them cannot be read, only chance-matched.
    if (name === 'blob' || (name === 'data' && media)) continue;
    const item = walk(record[name], name, kinds);
    // defineProperty: a parsed `"__proto__"` key is an own property, and plain assignment would not replace it.
    if (item !== record[name])
      Object.defineProperty((copy ??= { ...record }), name, {
        value: item,
        enumerable: true,
        writable: true,
        configurable: true,
      });
  }
  return copy ?? value;
}
