// The coarse HTTP request limit per principal (`http.rateLimit`), with @fastify/rate-limit: keyed by whom the
// authenticate hook established (anonymous callers by their address: they all share one subject), counted by
// the gateway's window counters (Redis when configured), 429 with Retry-After past it, and an audit record of
// each refusal when the audit log is on. /healthz is never limited.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError } from '../../errors.js';
import { formatDuration, principalKey } from '../../policy/limits-keys.js';
import { addressSource } from '../stores/source-limits.js';
import type { WindowCounters } from '../stores/limiter.js';

export interface EdgeLimit {
  readonly max: number;
  /** The window, ms. */
  readonly per: number;
}

/** Whom a request is counted against. */
function edgeKey(request: FastifyRequest): string {
  const principal = request.principal;
  if (principal && principal.via !== 'anonymous') return `p${principalKey(principal)}`;
  return `a${addressSource(request.ip)}`;
}

const isHealthz = (url: string | undefined) => url === '/healthz' || !!url?.startsWith('/healthz?');

/**
 * Registers the limit on every route declared after it (call it before the routes). Its hook is a route-level
 * onRequest hook, and those run after the app's own onRequest hooks: the Host guard and authentication have
 * run, so a refused or unauthenticated request never spends a point.
 */
export async function registerEdgeRateLimit(
  app: FastifyInstance,
  limit: EdgeLimit,
  counters: WindowCounters,
): Promise<void> {
  const counter = counters({ points: limit.max, perMs: limit.per });
  const window = formatDuration(limit.per);
  // The runtime is decorated before the routes are registered; an app without one (a bare test app) audits nothing.
  const audit = (app.runtime as FastifyInstance['runtime'] | undefined)?.audit;
  // @fastify/rate-limit's store seam, backed by the same counters as the rules' limits (memory, or Redis with
  // an in-memory fallback), instead of its own Redis store, which has no fallback while Redis is down.
  class EdgeStore {
    // In memory the count is there at once and `done` is called before incr returns: no promise per request.
    incr(key: string, done: (error: Error | null, result?: { current: number; ttl: number }) => void) {
      const use = counter.take(key);
      if (use instanceof Promise)
        use.then(
          (counted) => done(null, { current: counted.consumed, ttl: counted.msBeforeNext }),
          (error: Error) => done(error),
        );
      else done(null, { current: use.consumed, ttl: use.msBeforeNext });
    }
    child() {
      return this;
    }
  }
  await app.register(rateLimit, {
    hook: 'onRequest',
    max: limit.max,
    timeWindow: limit.per,
    store: EdgeStore,
    keyGenerator: edgeKey,
    allowList: (request) => isHealthz(request.raw.url),
    // The x-ratelimit-* headers go on the 429 alone (with Retry-After), not on every answer it lets by: the edge
    // limit is a coarse shield, not a quota a client paces itself by, and three headers on each answer cost the
    // hot path their formatting and bytes (MCP clients do not read them; `limits:` refusals say when to retry).
    addHeadersOnExceeding: {
      'x-ratelimit-limit': false,
      'x-ratelimit-remaining': false,
      'x-ratelimit-reset': false,
    },
    // Runs only for a refused request: the audit costs the requests it lets by nothing.
    errorResponseBuilder: (request, context) => {
      const retryAfter = Math.max(1, Math.ceil(context.ttl / 1000));
      audit?.onRateLimited({
        method: request.method,
        path: request.url.split('?')[0],
        remote: request.ip,
        principal: request.principal,
        limit: 'http.rateLimit',
        max: limit.max,
        per: window,
        retryAfter,
      });
      return new GatewayError(
        'rate_limited',
        `Too Many Requests: more than ${limit.max} requests per ${window} from one principal (http.rateLimit); retry in ${retryAfter}s`,
        { data: { limit: 'http.rateLimit', retryAfter } },
      );
    },
  });
}
