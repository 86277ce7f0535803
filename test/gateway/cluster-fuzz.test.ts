// Attacking shared sessions: made-up session ids (any string a header can carry) and junk published on the
// replicas' bus never crash a replica, never reach another client's session, and leave it serving.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicStdio } from '../helpers/gateway.js';
import { INITIALIZE, post, startReplicas, type Replicas } from './cluster-helpers.js';

let replicas: Replicas;
let session: string;
beforeAll(async () => {
  replicas = await startReplicas(2, { upstreams: { a: basicStdio('a') } });
  session = (await post(replicas.gateways[0].url, INITIALIZE)).session!;
});
afterAll(() => replicas.close());

const echo = {
  jsonrpc: '2.0',
  id: 9,
  method: 'tools/call',
  params: { name: 'a__echo', arguments: { text: 'ok' } },
};
const stillServing = async () => {
  const answer = await post(replicas.gateways[1].url, echo, { 'mcp-session-id': session });
  expect(answer.body.result.content[0].text).toBe('ok');
};

describe('shared sessions under attack', () => {
  it('any made-up session id is 404 on a replica that never saw it, and the real session is still served', async () => {
    // Header-safe strings: printable ASCII, near-misses of the real id, UUID-shaped strangers.
    const idArb = fc.oneof(
      fc.string({
        unit: fc.constantFrom(...'abcdef0123456789-*?[]:/\\%{}_ '.split('')),
        minLength: 1,
        maxLength: 60,
      }),
      fc.uuid(),
      fc
        .nat({ max: 35 })
        .map((i) => session.slice(0, i) + (session[i] === 'a' ? 'b' : 'a') + session.slice(i + 1)),
      fc.constantFrom(session.toUpperCase(), `${session}*`, '*', 'session:*'),
    );
    await fc.assert(
      fc.asyncProperty(idArb, async (id) => {
        // HTTP trims a header value's surrounding spaces: a padded real id is the real id.
        if (id.trim() === '' || id.trim() === session) return;
        const answer = await post(replicas.gateways[1].url, echo, { 'mcp-session-id': id });
        expect(answer.status).toBe(404);
      }),
      { numRuns: 150 },
    );
    await stillServing();
  });

  it('junk on the bus (bad JSON, unknown kinds, wrong field types, prototype keys) is ignored', async () => {
    const replica = replicas.gateways[0].app.runtime.cluster!.replica;
    const channels = [`${replicas.prefix}bus:${replica}`, `${replicas.prefix}bus:all`];
    const messageArb = fc.oneof(
      fc.string(),
      fc.json(),
      fc
        .record({
          t: fc.constantFrom(
            'out',
            'answer',
            'note',
            'level',
            'stream',
            'closed',
            'unsub',
            'fwd',
            'fwd-done',
            'fwd-msg',
            'fwd-cancel',
            '__proto__',
            'constructor',
            'toString',
          ),
          id: fc.oneof(fc.constant(session), fc.string(), fc.integer(), fc.constant(null)),
          key: fc.oneof(fc.string(), fc.constant('__proto__')),
          m: fc.jsonValue(),
          error: fc.oneof(fc.constant({ kind: 'toString', message: 'x' }), fc.jsonValue()),
        })
        .filter((m) => !(m.t === 'closed' && m.id === session))
        .map((m) => JSON.stringify(m)),
    );
    await fc.assert(
      fc.asyncProperty(messageArb, fc.constantFrom(...channels), async (text, channel) => {
        await replicas.redis.publish(channel, text);
      }),
      { numRuns: 300 },
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    await stillServing();
    const direct = await post(replicas.gateways[0].url, echo, { 'mcp-session-id': session });
    expect(direct.body.result.content[0].text).toBe('ok');
  });
});
