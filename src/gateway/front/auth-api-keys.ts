// API keys: opaque bearer tokens the operator hands out, stored only as SHA-256 digests. The set is one Map,
// replaced by one assignment (config reload swaps it whole, so a request sees the old set or the new one).
import * as crypto from 'node:crypto';
import type { Principal } from '../../policy/types.js';

export interface ApiKeyEntry {
  subject: string;
  groups?: readonly string[];
  scopes?: readonly string[];
  /** The key's SHA-256 in hex, optionally after `sha256:`. */
  sha256?: string;
  /** The key itself (from the environment); only its digest is kept. */
  key?: string;
}

interface Stored {
  principal: Principal;
}

/**
 * SHA-256 of a presented token in base64: the one hash the cached path pays, the key of every mode's cache.
 * The one-shot crypto.hash (Node >= 20.12) costs about a third of createHash's object per call.
 */
export const tokenDigest: (token: string) => string =
  typeof crypto.hash === 'function'
    ? (token) => crypto.hash('sha256', token, 'base64')
    : (token) => crypto.createHash('sha256').update(token).digest('base64');

export class ApiKeys {
  private keys = new Map<string, Stored>();
  /** Counts `replace`s: what a connection remembered of an earlier set no longer holds (auth-connection-keys). */
  generation = 0;

  constructor(entries: readonly ApiKeyEntry[] = []) {
    this.replace(entries);
  }

  get size(): number {
    return this.keys.size;
  }

  /** Swaps the whole key set at once: keys left out stop working on the next request. */
  replace(entries: readonly ApiKeyEntry[]): void {
    const next = new Map<string, Stored>();
    for (const entry of entries) {
      const digest =
        entry.key !== undefined
          ? Buffer.from(tokenDigest(entry.key), 'base64')
          : Buffer.from(entry.sha256!.replace(/^sha256:/i, ''), 'hex');
      const principal: Principal = Object.freeze({
        subject: entry.subject,
        groups: Object.freeze([...(entry.groups ?? [])]),
        scopes: Object.freeze([...(entry.scopes ?? [])]),
        via: 'apiKey',
      });
      next.set(digest.toString('base64'), { principal });
    }
    this.keys = next;
    this.generation++;
  }

  /**
   * The principal of the key whose digest (base64, from tokenDigest) this is: one Map lookup. What is compared
   * is the SHA-256 of the presented token, never the key: timing can tell an attacker at most how much of a
   * digest matched, which SHA-256's preimage resistance makes worthless (a constant-time compare after the
   * lookup, as this once did, compared a string the Map had already found equal, and cost a Buffer per call).
   */
  match(digest: string): Principal | undefined {
    return this.keys.get(digest)?.principal;
  }
}
