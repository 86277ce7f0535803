// Three replicas behind haproxy (round robin, no stickiness) share client sessions through Redis: one session's
// calls land on every replica and all succeed.
import { describe, expect, it } from 'vitest';
import { useCluster } from './harness.js';

const startCluster = useCluster();

describe('a session behind a round-robin balancer (3 replicas, redis:)', () => {
  it('makes 200 calls that all succeed and land on all three replicas', async () => {
    const cluster = await startCluster();
    const before = await Promise.all(cluster.replicas.map((r) => cluster.callsServed(r)));
    const client = await cluster.client();
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('c__echo');

    for (let i = 0; i < 200; i++) {
      const result = await client.callTool({ name: 'c__echo', arguments: { text: `call ${i}` } });
      expect(result.isError).toBeFalsy();
      expect(result.content).toEqual([{ type: 'text', text: `call ${i}` }]);
    }

    const after = await Promise.all(cluster.replicas.map((r) => cluster.callsServed(r)));
    const served = after.map((n, i) => n - before[i]);
    // Every call was counted once, somewhere; round robin gives each replica a fair share of them.
    expect(served.reduce((a, b) => a + b, 0)).toBe(200);
    for (const n of served) expect(n).toBeGreaterThanOrEqual(40);
    // The upstream ran on each replica: three different upstream processes answered `pid`.
    const pids = new Set<string>();
    for (let i = 0; i < 6; i++)
      pids.add(((await client.callTool({ name: 'c__pid' })).content as { text: string }[])[0].text);
    expect(pids.size).toBe(3);
  }, 60_000);
});
