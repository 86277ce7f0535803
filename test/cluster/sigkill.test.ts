// One of three replicas killed (SIGKILL) while ten sessions call through the balancer: the sessions live in
// Redis, so every one of them goes on through the other replicas; at most the calls that were in flight on the
// dead replica fail (one per session at most), and with an error that says what happened.
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { isAlive } from '../helpers/harness.js';
import { useCluster } from './harness.js';
import { childPids } from './observe.js';
import { startLoad } from './load.js';

const startCluster = useCluster();
const SESSIONS = 10;

describe('a replica killed mid-run (SIGKILL, 3 replicas, redis:)', () => {
  it('loses no session: each one makes successful calls after the kill; only in-flight calls may fail', async () => {
    const cluster = await startCluster();
    const load = await startLoad(cluster, SESSIONS);
    await load.untilEachSucceeds(20);

    const victim = cluster.replicas[1];
    const upstreams = childPids(victim.pid);
    expect(upstreams.length).toBeGreaterThan(0);
    const servedBefore = await cluster.callsServed(victim);
    expect(servedBefore).toBeGreaterThan(0);
    const killedAt = Date.now();
    cluster.kill(victim, 'SIGKILL');
    expect(await victim.exited).toEqual({ code: null, signal: 'SIGKILL' });
    // The process is gone some ms after the signal: until then it still took requests.
    const diedAt = Date.now();

    // Every session goes on: 30 more successful calls each, through the two replicas left.
    await load.untilEachSucceeds(30);
    await load.stop();

    // A call can fail only if it was in flight when the replica died: started before it was gone. Each session has
    // at most one call in flight, so at most ten fail; the error says the request was cut, not a wrong answer.
    const failed = load.outcomes.filter((o) => o.error);
    for (const call of failed) {
      expect(call.startedAt).toBeLessThanOrEqual(diedAt);
      // haproxy answers a request the dead replica cut with its own 502 page ("502 Bad Gateway").
      expect(call.error).toMatch(
        /HTTP 50[234]|\b50[234] Bad Gateway|replica|fetch failed|terminated|socket/i,
      );
    }
    expect(failed.length).toBeLessThanOrEqual(SESSIONS);
    const failedPerSession = new Map<number, number>();
    for (const call of failed)
      failedPerSession.set(call.session, (failedPerSession.get(call.session) ?? 0) + 1);
    for (const count of failedPerSession.values()) expect(count).toBe(1);
    // Before the kill nothing failed.
    expect(load.outcomes.filter((o) => o.error && o.endedAt < killedAt)).toEqual([]);
    // What haproxy did with the requests the dead replica had: replayed elsewhere (retry-on empty-response).
    const replayed = cluster.routed().filter((r) => r.retries !== '0').length;
    const errors = failed.map((f) => f.error);
    console.info(
      `sigkill: ${load.outcomes.length} calls, ${failed.length} failed ${errors}; ${replayed} replayed`,
    );

    // The balancer saw the replica go (its health check) and the dead replica's upstream ended with it.
    await expect.poll(() => cluster.serverStates(), { timeout: 5000 }).toEqual(['UP', 'DOWN', 'UP']);
    await expect.poll(() => upstreams.filter(isAlive), { timeout: 5000 }).toEqual([]);
  }, 60_000);

  // An answer already streaming (SSE: a question to the client, progress) cannot be replayed by the balancer;
  // the stream's priming event lets the SDK client resume it on another replica, which says the answer is lost.
  it('a call whose answer was streaming from the killed replica fails soon with a clear error', async () => {
    const cluster = await startCluster();
    const client = await cluster.client({ sampling: {} });
    let asked!: () => void;
    const question = new Promise<void>((resolve) => (asked = resolve));
    client.setRequestHandler(CreateMessageRequestSchema, () => {
      asked();
      return new Promise(() => {}); // never answered: the call stays in flight on its replica
    });
    const call = client.callTool({ name: 'c__ask', arguments: { question: 'q' } });
    const outcome = call.then(
      () => 'answered',
      (error: Error) => error.message,
    );
    await question;
    const busy = await Promise.all(
      cluster.replicas.map((r) => cluster.metric(r, 'switchboard_requests_in_flight')),
    );
    const victim = cluster.replicas[busy.findIndex((n) => n > 0)];
    const killedAt = Date.now();
    cluster.kill(victim, 'SIGKILL');

    expect(await outcome).not.toMatch(/timed out/);
    expect(await outcome).toMatch(/replica|gone|unavailable|retry/i);
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    // The session goes on.
    const next = await client.callTool({ name: 'c__echo', arguments: { text: 'after' } });
    expect(next.content).toEqual([{ type: 'text', text: 'after' }]);
  }, 90_000);
});
