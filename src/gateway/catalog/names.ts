// Public names for upstream tools and prompts: made fit for the spec's characters, prefixed with the
// upstream's prefix, and shortened with a stable hash past the 64 characters model APIs accept.
import { createHash } from 'node:crypto';

const MAX_NAME = 64;
/** The characters the MCP spec allows in a tool name (1-128 of A-Z a-z 0-9 _ - .). */
const SPEC_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const OUTSIDE_SPEC = /[^A-Za-z0-9_.-]|\.{2,}/g;

/**
 * An upstream's tool or prompt name made fit to publish. A name within the spec's characters is kept as is;
 * otherwise each character outside them (spaces, control and zero-width characters, `/`) and each run of dots
 * becomes `_`, and a short hash of the original is appended, so two bad names never merge into one and the
 * result is the same on every run. Not a string, or empty: undefined (the item is left out).
 */
export function safeName(name: unknown): string | undefined {
  if (typeof name !== 'string' || name === '') return undefined;
  if (SPEC_NAME.test(name) && !name.includes('..')) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 6);
  return `${name.slice(0, 100).replace(OUTSIDE_SPEC, '_')}_${hash}`;
}

/** A public tool or prompt name: prefixed, and shortened with a stable hash past 64 characters. */
export function publicName(prefix: string, separator: string, name: string): string {
  const full = prefix ? `${prefix}${separator}${name}` : name;
  if (full.length <= MAX_NAME) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8);
  return `${full.slice(0, MAX_NAME - hash.length - 1)}_${hash}`;
}
