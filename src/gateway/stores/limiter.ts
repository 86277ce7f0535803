// Window counters for the rate limits (the rules' `limits:`, the HTTP edge limit): in this process, counted
// synchronously, or in Redis when `redis:` is configured (rate-limiter-flexible), so every replica counts against
// the same window. While Redis is down each replica counts in its own memory (the insurance limiter): limits keep
// holding, per replica.
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { createLimitsPolicy, type RateCounter } from '../../policy/limits.js';
import type { Policy } from '../../policy/types.js';
import type { GatewayConfig } from '../config.js';
import { MemoryWindows, type WindowUse } from './memory-window.js';
import type { SharedRedis } from './redis.js';

export type { WindowUse } from './memory-window.js';

/** Answers at once when counting in memory; a promise only when the count is asked of Redis. */
export interface WindowCounter extends RateCounter {
  take(key: string): WindowUse | Promise<WindowUse>;
}

export type WindowCounters = (window: { readonly points: number; readonly perMs: number }) => WindowCounter;

/**
 * Counters under `namespace` (e.g. `limit:`), in Redis under the configured key prefix when `redis` is given.
 * Memory stays bounded: an entry lives until its window ends (in this process, at most one window longer while
 * no call comes), and keys name only principals that authenticated and items that exist (unknown names fail at
 * resolution, before any limit is asked).
 */
export function windowCounters(redis: SharedRedis | undefined, namespace: string): WindowCounters {
  return ({ points, perMs }) => {
    // Windows are whole seconds (Redis expires keys in seconds); the schema asks for whole seconds already.
    const duration = Math.max(1, Math.ceil(perMs / 1000));
    /** What `consume` answers: 0 within the window's points, else the wait until they are free again. */
    const waitOf = (use: WindowUse) => (use.consumed > points ? use.msBeforeNext : 0);
    if (!redis) {
      const windows = new MemoryWindows(duration * 1000);
      return { take: (key) => windows.take(key), consume: (key) => waitOf(windows.take(key)) };
    }
    const limiter = new RateLimiterRedis({
      storeClient: redis.connection(),
      points,
      duration,
      keyPrefix: `${redis.keyPrefix}${namespace}`.replace(/:$/, ''),
      // Not connected: count in memory at once rather than queue the call behind a reconnect.
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory({ points, duration, keyPrefix: '' }),
    });
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
      consume: (key) => take(key).then(waitOf),
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
