// One of three replicas stopped gracefully (SIGTERM) while ten sessions call through the balancer: /readyz turns
// 503 so haproxy takes it out of the rotation, it serves what still reaches it, finishes its calls and exits 0;
// not one call fails.
import { describe, expect, it } from 'vitest';
import { isAlive } from '../helpers/harness.js';
import { useCluster } from './harness.js';
import { childPids } from './observe.js';
import { startLoad } from './load.js';

const startCluster = useCluster();
const SESSIONS = 10;

describe('a replica drained mid-run (SIGTERM, 3 replicas, redis:)', () => {
  it('fails no call: the sessions move to the other replicas and the replica exits 0', async () => {
    const cluster = await startCluster();
    const load = await startLoad(cluster, SESSIONS);
    await load.untilEachSucceeds(20);

    const victim = cluster.replicas[2];
    const upstreams = childPids(victim.pid);
    expect(await cluster.callsServed(victim)).toBeGreaterThan(0);
    cluster.kill(victim, 'SIGTERM');
    expect(await victim.exited).toEqual({ code: 0, signal: null });
    const exitedAt = Date.now();

    // Every session goes on through the two replicas left.
    await load.untilEachSucceeds(30);
    await load.stop();

    const failed = load.outcomes.filter((o) => o.error);
    expect(failed).toEqual([]);
    expect(load.outcomes.filter((o) => o.startedAt > exitedAt).length).toBeGreaterThanOrEqual(SESSIONS * 30);
    // The balancer took it out on its health check; its upstream stopped with it.
    await expect.poll(() => cluster.serverStates(), { timeout: 5000 }).toEqual(['UP', 'UP', 'DOWN']);
    expect(upstreams.filter(isAlive)).toEqual([]);
    // No request was answered with an error status by any replica on the way.
    expect(cluster.routed().filter((r) => r.status >= 500 || r.status < 0)).toEqual([]);
  }, 60_000);
});
