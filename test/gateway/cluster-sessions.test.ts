// Sessions shared through Redis: any replica serves any request of a session, DELETE ends it everywhere, a
// session id stays bound to its identity on every replica, and a client's answer to a server-to-client request
// finds the replica that asked, whichever replica it reaches.
import { createHash } from 'node:crypto';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { basicStdio } from '../helpers/gateway.js';
import { INITIALIZE, post, startReplicas, type Replicas } from './cluster-helpers.js';

let replicas: Replicas | undefined;
afterEach(async () => {
  await replicas?.close();
  replicas = undefined;
});

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const call = (id: number, text: string) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'a__echo', arguments: { text } },
});

describe('sessions shared by replicas (redis:)', () => {
  it('a session opened on one replica is served by another, and DELETE there ends it on both', async () => {
    replicas = await startReplicas(2, { upstreams: { a: basicStdio('a') } });
    const [one, two] = replicas.gateways;
    const opened = await post(one.url, INITIALIZE);
    expect(opened.status).toBe(200);
    const headers = { 'mcp-session-id': opened.session! };
    const answered = await post(two.url, call(2, 'over there'), headers);
    expect(answered.body.result.content[0].text).toBe('over there');
    expect((await post(one.url, call(3, 'back here'), headers)).body.result.content[0].text).toBe(
      'back here',
    );
    const deleted = await fetch(two.url, { method: 'DELETE', headers });
    expect(deleted.status).toBe(200);
    for (const gateway of [one, two]) {
      const after = await post(gateway.url, call(4, 'gone'), headers);
      expect(after.status).toBe(404);
      expect(after.body.error.message).toBe('Session not found');
    }
  });

  it('an unknown session id is 404 on every replica, and the others keep serving', async () => {
    replicas = await startReplicas(2, { upstreams: { a: basicStdio('a') } });
    const [one, two] = replicas.gateways;
    const opened = await post(one.url, INITIALIZE);
    for (const id of ['no-such-session', `${opened.session}x`, '../../etc', '*']) {
      const answer = await post(two.url, call(2, 'x'), { 'mcp-session-id': id });
      expect(answer.status).toBe(404);
    }
    const fine = await post(two.url, call(3, 'still'), { 'mcp-session-id': opened.session! });
    expect(fine.body.result.content[0].text).toBe('still');
  });

  it('a session id presented by another identity is unknown on the other replica too', async () => {
    const keys = { ci: 'sb_ci_cluster_key_0123456789', ops: 'sb_ops_cluster_key_0123456789' };
    replicas = await startReplicas(2, {
      upstreams: { a: basicStdio('a') },
      auth: {
        resource: 'http://127.0.0.1/mcp',
        apiKeys: [
          { subject: 'ci-bot', sha256: `sha256:${sha256(keys.ci)}` },
          { subject: 'ops', sha256: `sha256:${sha256(keys.ops)}` },
        ],
      },
    });
    const [one, two] = replicas.gateways;
    const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
    const opened = await post(one.url, INITIALIZE, bearer(keys.ci));
    expect(opened.status).toBe(200);
    const stolen = await post(two.url, call(2, 'x'), {
      ...bearer(keys.ops),
      'mcp-session-id': opened.session!,
    });
    expect(stolen.status).toBe(404);
    const own = await post(two.url, call(3, 'mine'), {
      ...bearer(keys.ci),
      'mcp-session-id': opened.session!,
    });
    expect(own.body.result.content[0].text).toBe('mine');
  });

  it('sampling asked on one replica is answered through whichever replica the answer reaches', async () => {
    replicas = await startReplicas(3, { upstreams: { a: basicStdio('a') } });
    const clients = await Promise.all(['left', 'right'].map(() => replicas!.client({ sampling: {} })));
    clients.forEach((client, i) =>
      client.setRequestHandler(CreateMessageRequestSchema, async (request) => ({
        role: 'assistant',
        model: 'test',
        content: { type: 'text', text: `client${i}:${(request.params.messages[0].content as any).text}` },
      })),
    );
    for (let round = 0; round < 4; round++) {
      const results = await Promise.all(
        clients.map((client, i) =>
          client.callTool({ name: 'a__sample', arguments: { prompt: `q${round}-${i}` } }),
        ),
      );
      results.forEach((result, i) =>
        expect((result.content as any)[0].text).toBe(`sampled: client${i}:q${round}-${i}`),
      );
    }
  });

  it('a session opened while Redis cannot take it is still served by the replica that opened it', async () => {
    const { startGateway } = await import('../helpers/gateway.js');
    const gateway = await startGateway({
      upstreams: { a: basicStdio('a') },
      // Nothing listens here: sharing fails, the session stays local.
      redis: { url: 'redis://127.0.0.1:1', keyPrefix: 'sbtest-down:' },
    });
    try {
      const opened = await post(gateway.url, INITIALIZE);
      expect(opened.status).toBe(200);
      const answer = await post(gateway.url, call(2, 'local'), { 'mcp-session-id': opened.session! });
      expect(answer.body.result.content[0].text).toBe('local');
    } finally {
      await gateway.close();
    }
  });
});
