// Window counters for the rate limits (the rules' `limits:`, the HTTP edge limit): rate-limiter-flexible in this
// process, or in Redis when `redis:` is configured, so every replica counts against the same window. While Redis
// is down each replica counts in its own memory (the insurance limiter): limits keep holding, per replica.
import {
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
  type RateLimiterAbstract,
} from 'rate-limiter-flexible';
import { createLimitsPolicy, type RateCounter } from '../../policy/limits.js';
import type { Policy } from '../../policy/types.js';
import type { GatewayConfig } from '../config.js';
import type { SharedRedis } from './redis.js';

/** A window's count for one key after taking a point. */
export interface WindowUse {
  /** Points taken in the current window, this one included (past the limit, the call is refused). */
  readonly consumed: number;
  /** ms until the window ends and its points are free again. */
  readonly msBeforeNext: number;
}

export interface WindowCounter extends RateCounter {
  take(key: string): Promise<WindowUse>;
}

export type WindowCounters = (window: { readonly points: number; readonly perMs: number }) => WindowCounter;

/**
 * Counters under `namespace` (e.g. `limit:`), in Redis under the configured key prefix when `redis` is given.
 * Memory stays bounded: an entry lives until its window ends, and keys name only principals that authenticated
 * and items that exist (unknown names fail at resolution, before any limit is asked).
 */
export function windowCounters(redis: SharedRedis | undefined, namespace: string): WindowCounters {
  return ({ points, perMs }) => {
    // Windows are whole seconds (Redis expires keys in seconds); the schema asks for whole seconds already.
    const duration = Math.max(1, Math.ceil(perMs / 1000));
    const memory = () => new RateLimiterMemory({ points, duration, keyPrefix: '' });
    const limiter: RateLimiterAbstract = redis
      ? new RateLimiterRedis({
          storeClient: redis.connection(),
          points,
          duration,
          keyPrefix: `${redis.keyPrefix}${namespace}`.replace(/:$/, ''),
          // Not connected: count in memory at once rather than queue the call behind a reconnect.
          rejectIfRedisNotReady: true,
          insuranceLimiter: memory(),
        })
      : memory();
    const take = async (key: string): Promise<WindowUse> => {
      let res: RateLimiterRes;
      try {
        res = await limiter.consume(key);
      } catch (refused) {
        // Past the limit the library rejects with the count; anything else means it could not count at all.
        if (!(refused instanceof RateLimiterRes)) throw refused;
        res = refused;
      }
      return { consumed: res.consumedPoints, msBeforeNext: Math.max(1, res.msBeforeNext) };
    };
    return {
      take,
      async consume(key) {
        const use = await take(key);
        return use.consumed > points ? use.msBeforeNext : 0;
      },
    };
  };
}

/**
 * The limits stage the config asks for (rules with `limits:`, upstreams with `maxConcurrent`), counting windows
 * in `redis` when given; undefined when nothing is limited.
 */
export function configuredLimits(config: GatewayConfig, redis: SharedRedis | undefined): Policy | undefined {
  const upstreams = new Map<string, number>();
  for (const [name, upstream] of Object.entries(config.upstreams))
    if (upstream.enabled && upstream.maxConcurrent !== undefined) upstreams.set(name, upstream.maxConcurrent);
  return createLimitsPolicy({
    rules: config.policy?.rules ?? [],
    upstreams,
    counters: windowCounters(redis, 'limit:'),
  });
}
