// What the switchboard-redis target adds to the bare gateway's config: `redis:` on the local Redis, under a key
// prefix of this run's own, whose keys (sessions, heartbeats) are removed when the target stops.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { SecuredSetup } from './secured.js';

const REDIS_URL = 'redis://127.0.0.1:6379';

export function benchRedis(): SecuredSetup {
  const keyPrefix = `switchboard-bench:${randomUUID()}:`;
  return {
    config: { redis: { url: REDIS_URL, keyPrefix } },
    async stop() {
      const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        await redis.connect();
        for (let cursor = '0'; ;) {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 1000);
          if (keys.length) await redis.del(...keys);
          if ((cursor = next) === '0') break;
        }
      } catch (error) {
        console.error(
          `! could not remove the bench's Redis keys (${keyPrefix}*): ${(error as Error).message}`,
        );
      } finally {
        redis.disconnect();
      }
    },
  };
}
