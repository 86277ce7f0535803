// notifications/resources/updated behind a round-robin balancer: the replica that took the subscribe tells its
// own upstream, which emits the update; the replica holding the subscriber's GET stream is another one, and the
// change itself is made through any replica. The update reaches the subscriber, and only it.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { useCluster, type Cluster } from './harness.js';
import { until } from './observe.js';

const startCluster = useCluster();
const URI = 'notes://board';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The session's record in Redis: which replica id holds its stream and which holds a subscription. */
async function record(cluster: Cluster, client: Client) {
  const session = (client.transport as StreamableHTTPClientTransport).sessionId!;
  return cluster.redis.hgetall(`${cluster.prefix}session:${session}`);
}

/** A client that records the updates it is sent, once its GET stream is open (Redis names its replica). */
async function listeningClient(cluster: Cluster) {
  const client = await cluster.client();
  const updates: string[] = [];
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
  const stream = await until('the GET stream', async () => (await record(cluster, client)).stream);
  return { client, updates, stream };
}

describe('resource updates across replicas (3 replicas, redis:)', () => {
  it('reach a subscriber whose GET stream is on another replica than the subscribe and the change', async () => {
    const cluster = await startCluster();
    const ids = await Promise.all(cluster.replicas.map((r) => cluster.replicaId(r)));
    const subscriber = await listeningClient(cluster);
    // A second session with a stream of its own that subscribes to nothing: it must hear nothing.
    const bystander = await listeningClient(cluster);

    // Subscribe until the subscribe lands on a replica other than the stream's (round robin: the next one).
    let holder = '';
    for (let tries = 0; tries < 6; tries++) {
      await subscriber.client.subscribeResource({ uri: URI });
      holder = (await record(cluster, subscriber.client))[`sub:${URI}`];
      if (holder !== subscriber.stream) break;
      await subscriber.client.unsubscribeResource({ uri: URI });
    }
    expect(ids).toContain(holder);
    expect(ids).toContain(subscriber.stream);
    expect(holder).not.toBe(subscriber.stream);
    const third = cluster.replicas[ids.findIndex((id) => id !== holder && id !== subscriber.stream)];

    // Change the note through the balancer, from another session, until a change has gone through each
    // replica; every change reaches the subscriber.
    const changer = await cluster.client();
    const touchedOn = new Set<number>();
    for (let i = 0; i < 6 && touchedOn.size < 3; i++) {
      const before = await Promise.all(cluster.replicas.map((r) => cluster.callsServed(r)));
      const heard = subscriber.updates.length;
      expect(
        (await changer.callTool({ name: 'c__touch', arguments: { name: 'board' } })).isError,
      ).toBeFalsy();
      const after = await Promise.all(cluster.replicas.map((r) => cluster.callsServed(r)));
      touchedOn.add(after.findIndex((n, r) => n > before[r]));
      await until(`update ${i} reaches the subscriber`, () => subscriber.updates.length > heard);
    }
    expect(touchedOn).toContain(third.index);
    expect(new Set(subscriber.updates)).toEqual(new Set([URI]));
    // The subscription still sits where it was taken, and the stream where it was opened: these were relays.
    const now = await record(cluster, subscriber.client);
    expect([now.stream, now[`sub:${URI}`]]).toEqual([subscriber.stream, holder]);

    // After an unsubscribe (through whichever replica), changes reach no one.
    await subscriber.client.unsubscribeResource({ uri: URI });
    await until(
      'the unsubscribe recorded',
      async () => !(await record(cluster, subscriber.client))[`sub:${URI}`],
    );
    const heard = subscriber.updates.length;
    await changer.callTool({ name: 'c__touch', arguments: { name: 'board' } });
    await sleep(500);
    expect(subscriber.updates.length).toBe(heard);
    expect(bystander.updates).toEqual([]);
  }, 60_000);
});
