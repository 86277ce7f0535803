// The edge limit's store (what @fastify/rate-limit asks for each request's count): with windows in memory it
// answers before `incr` returns, with no promise per request; a counter that answers with a promise (Redis) is
// waited for, and one that cannot count passes the error on.
import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { registerEdgeRateLimit } from '../../src/gateway/front/edge-rate-limit.js';
import { windowCounters, type WindowCounters } from '../../src/gateway/stores/limiter.js';

type Done = (error: Error | null, result?: { current: number; ttl: number }) => void;
interface Store {
  incr(key: string, done: Done): void;
}

/** The store class registerEdgeRateLimit hands to @fastify/rate-limit, taken from its registration. */
async function storeOf(counters: WindowCounters, limit = { max: 2, per: 60_000 }): Promise<Store> {
  let options: { store?: new () => Store } | undefined;
  const app = {
    register: async (_plugin: unknown, given: typeof options) => void (options = given),
  } as unknown as FastifyInstance;
  await registerEdgeRateLimit(app, limit, counters);
  return new options!.store!();
}

describe('the edge store', () => {
  it('in memory: done is called before incr returns, with the count and the ms left of the window', async () => {
    const store = await storeOf(windowCounters(undefined, 'edge:'));
    const seen: unknown[] = [];
    for (let i = 0; i < 3; i++) store.incr('pk', (error, result) => seen.push([error, result]));
    expect(seen).toHaveLength(3);
    expect(seen.map(([error, result]: any) => [error, result.current])).toEqual([
      [null, 1],
      [null, 2],
      [null, 3],
    ]);
    const ttl = (seen[2] as any)[1].ttl as number;
    expect(ttl).toBeGreaterThan(59_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('a counter that answers with a promise: done once it resolves; one that cannot count: done(error)', async () => {
    let fail = false;
    const counters: WindowCounters = () => ({
      take: async () => {
        if (fail) throw new Error('cannot count');
        return { consumed: 7, msBeforeNext: 1234 };
      },
      consume: async () => 0,
    });
    const store = await storeOf(counters);
    const answered = () =>
      new Promise<unknown[]>((resolve) => {
        let early = true;
        store.incr('pk', (error, result) => resolve([early, error, result]));
        early = false;
      });
    expect(await answered()).toEqual([false, null, { current: 7, ttl: 1234 }]);
    fail = true;
    const [early, error] = await answered();
    expect(early).toBe(false);
    expect((error as Error).message).toBe('cannot count');
  });
});
