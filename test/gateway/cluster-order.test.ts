// Replicas that hear of a session's changes in another order than they happened (redis:): the news of GET streams
// carries the claim number Redis gave each stream, so late news of an older one changes nothing; a log level
// set through one replica is in force on every other once the client has its answer.
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { basicStdio } from '../helpers/gateway.js';
import { INITIALIZE, post, startReplicas, until, type Replicas } from './cluster-helpers.js';

let replicas: Replicas | undefined;
afterEach(async () => {
  await replicas?.close();
  replicas = undefined;
});

describe('replicas hearing of changes out of order (redis:)', () => {
  it('late news of an older stream, opened or closed, neither ends the newer stream nor moves its messages', async () => {
    replicas = await startReplicas(2, { upstreams: { a: basicStdio('a') } });
    const [one, two] = replicas.gateways;
    const [replicaOne, replicaTwo] = [one, two].map((g) => g.app.runtime.cluster!.replica);
    const id = (await post(one.url, INITIALIZE)).session!;
    const key = `${replicas.prefix}session:${id}`;
    const headers = { 'mcp-session-id': id, accept: 'text/event-stream' };
    const first = await fetch(one.url, { headers });
    expect(first.status).toBe(200);
    await until(async () => (await replicas!.redis.hget(key, 'streamClaim')) === '1');
    const second = await fetch(two.url, { headers });
    expect(second.status).toBe(200);
    await until(async () => (await replicas!.redis.hget(key, 'streamClaim')) === '2');
    const firstBody = first.body!.getReader();
    for (;;) if ((await firstBody.read()).done) break;
    await until(() => one.app.runtime.sessions.get(id)?.outlet?.remote === replicaTwo);

    // What the bus brings late when two replicas announce at once: stream 1 opened on replica one, then closed.
    for (const owner of [replicaOne, null])
      await replicas.redis.publish(
        `${replicas.prefix}bus:all`,
        JSON.stringify({ t: 'stream', id, owner, claim: 1, from: 'another-replica' }),
      );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(two.app.runtime.sessions.get(id)?.outlet?.remote).toBeUndefined();
    expect(one.app.runtime.sessions.get(id)?.outlet?.remote).toBe(replicaTwo);
    expect(await replicas.redis.hget(key, 'stream')).toBe(replicaTwo);
    // The newer stream is still the session's: a second GET where it is open is a conflict.
    expect((await fetch(two.url, { headers })).status).toBe(409);
    // A message replica one has for the session reaches the newer stream on replica two.
    one.app.runtime.sessions.get(id)!.outlet!.send({
      jsonrpc: '2.0',
      method: 'notifications/message',
      params: { level: 'info', data: 'via one' },
    });
    const secondBody = second.body!.pipeThrough(new TextDecoderStream()).getReader();
    let seen = '';
    while (!seen.includes('via one')) {
      const { value, done } = await secondBody.read();
      if (done) throw new Error(`the newer stream ended; it carried: ${seen}`);
      seen += value;
    }
    await secondBody.cancel();
    // Once the newer stream is closed by its client, nobody holds one; the older claim released nothing.
    await until(async () => (await replicas!.redis.hget(key, 'stream')) === null);
    await until(() => one.app.runtime.sessions.get(id)?.outlet === undefined);
  });

  it('a log level set through one replica filters the very next call on another', async () => {
    replicas = await startReplicas(2, { upstreams: { a: basicStdio('a') } });
    const client = await replicas.client();
    const logs: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
    for (let round = 0; round < 6; round++) {
      const [here, there] = round % 2 ? [1, 0] : [0, 1];
      // Odd rounds turn logs off through one replica, even rounds on through the other; the call goes elsewhere.
      replicas.only([here]);
      await client.setLoggingLevel(round % 2 ? 'error' : 'debug');
      replicas.only([there]);
      const before = logs.length;
      await client.callTool({ name: 'a__log', arguments: { count: 1 } });
      if (round % 2) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect(logs.length).toBe(before);
      } else await until(() => logs.length === before + 1);
    }
    expect(logs).toEqual(['log 0 from a', 'log 0 from a', 'log 0 from a']);
  });
});
