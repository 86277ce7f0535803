// Session creation limits per source, so one client cannot take the sessions everyone else needs: a cap on
// open sessions and a token bucket of new ones per minute. A source is a client address today (IPv6 by /64,
// since one host holds a whole /64); once auth lands, the principal is the key instead (`principal:<id>`).
import { isIPv6 } from 'node:net';
import { GatewayError } from '../../errors.js';

/** One source's use; the session registry counts `open` down when a session of this source ends. */
export interface SourceUse {
  readonly key: string;
  open: number;
  tokens: number;
  at: number;
}

const MINUTE = 60_000;
/** Idle entries are pruned when the table grows past this, at most once per PRUNE_EVERY_MS. */
const PRUNE_ABOVE = 1024;
const PRUNE_EVERY_MS = 10_000;

export class SourceLimits {
  private readonly sources = new Map<string, SourceUse>();
  private prunedAt = 0;

  constructor(private readonly options: { maxPerSource: number; ratePerMinute: number }) {}

  /** Takes one new-session token from the source, or throws 429 naming the limit and its config key. */
  admit(key: string, now = Date.now()): SourceUse {
    if (this.sources.size > PRUNE_ABOVE && now - this.prunedAt > PRUNE_EVERY_MS) this.prune(now);
    const { maxPerSource, ratePerMinute } = this.options;
    let use = this.sources.get(key);
    if (!use) {
      use = { key, open: 0, tokens: ratePerMinute, at: now };
      this.sources.set(key, use);
    }
    if (use.open >= maxPerSource) {
      throw new GatewayError(
        'rate_limited',
        `Too Many Requests: ${key} already has ${use.open} open sessions, the most one source may hold (sessions.maxPerSource); end some with DELETE /mcp or raise sessions.maxPerSource`,
        { data: { limit: 'sessions.maxPerSource', retryAfter: 60 } },
      );
    }
    if (ratePerMinute > 0) {
      use.tokens = Math.min(ratePerMinute, use.tokens + ((now - use.at) * ratePerMinute) / MINUTE);
      use.at = now;
      if (use.tokens < 1) {
        const retryAfter = Math.ceil(((1 - use.tokens) * MINUTE) / ratePerMinute / 1000);
        throw new GatewayError(
          'rate_limited',
          `Too Many Requests: ${key} opened more than ${ratePerMinute} sessions in a minute (sessions.ratePerSource); retry in ${retryAfter}s or raise sessions.ratePerSource`,
          { data: { limit: 'sessions.ratePerSource', retryAfter } },
        );
      }
      use.tokens -= 1;
    }
    return use;
  }

  /** Gives back the token of a session that was admitted but not created (the global cap was hit). */
  refund(use: SourceUse): void {
    if (this.options.ratePerMinute > 0) use.tokens = Math.min(this.options.ratePerMinute, use.tokens + 1);
  }

  /** Drops sources with no open session whose bucket has refilled: they are indistinguishable from new. */
  private prune(now: number): void {
    this.prunedAt = now;
    for (const [key, use] of this.sources) {
      if (use.open === 0 && (this.options.ratePerMinute === 0 || now - use.at >= MINUTE))
        this.sources.delete(key);
    }
  }
}

/** The source key of a remote address: IPv4 (also when IPv4-mapped), or the /64 prefix of an IPv6 one. */
export function addressSource(address: string | undefined): string {
  if (!address) return 'unknown';
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  if (!isIPv6(address)) return address;
  const [head, tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::')
    ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
    : left;
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}
