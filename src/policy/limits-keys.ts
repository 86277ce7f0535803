// The keys limits count under, and how a window reads in a message. Every field is length-prefixed, so no
// value can run into the next: subject "a|b" and subject "a" with client "b" are always different principals.
import type { Principal } from './types.js';

/** One key field: its length, a colon, the value. */
export const field = (value: string): string => `${value.length}:${value}`;

/** Principals are long-lived objects (a session's, a cached token's): each is keyed once. */
const keys = new WeakMap<Principal, string>();

/**
 * Who is counted: how the principal was established, its subject and its OAuth client (absent and empty differ).
 * Groups and scopes are left out: they describe a principal, they do not make a different one.
 */
export function principalKey(principal: Principal): string {
  let key = keys.get(principal);
  if (key === undefined) {
    const client = principal.clientId === undefined ? '-' : field(principal.clientId);
    key = `${field(principal.via)}${field(principal.subject)}${client}`;
    keys.set(principal, key);
  }
  return key;
}

/** A window as the config would write it: 60000 -> "1m", 90000 -> "90s", 3600000 -> "1h". */
export function formatDuration(ms: number): string {
  if (ms >= 3_600_000 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
