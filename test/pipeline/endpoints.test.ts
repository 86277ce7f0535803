// Virtual endpoints end to end: /mcp/<name> serves only the endpoint's subset, answers for anything outside it
// exactly as for a name that does not exist, keeps the gateway's policy on top, and holds its sessions to the
// endpoint they were opened on; /mcp itself still sees everything.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clientAs,
  normalised,
  payload,
  RawSession,
  startPolicyGateway,
  visibilityStdio,
  type PolicyGateway,
} from './visibility-helpers.js';

const a = visibilityStdio('a');
const b = visibilityStdio('b');

describe('virtual endpoints', () => {
  let gw: PolicyGateway;
  let base: string;
  beforeAll(async () => {
    gw = await startPolicyGateway(
      {
        upstreams: { a: a.entry, b: b.entry },
        endpoints: {
          team: { tools: ['a__*', 'b__echo'], prompts: ['b__greet'], resources: ['a://doc/*', 'a://item/*'] },
          empty: { tools: ['nothing__*'] },
        },
        policy: {
          default: 'allow',
          rules: [
            { name: 'no-secrets-for-bob', principals: { subjects: ['bob'] }, deny: { tools: ['*__secret'] } },
          ],
        },
      },
      [],
    );
    base = gw.url;
  });
  afterAll(async () => gw?.close());

  const names = (list: { name?: string; uri?: string; uriTemplate?: string }[]) =>
    list.map((item) => item.name ?? item.uri ?? item.uriTemplate).sort();

  it('an endpoint lists only its subset; /mcp lists everything', async () => {
    const team = await clientAs(`${base}/team`, 'alice');
    const all = await clientAs(base, 'alice');
    try {
      expect(names((await team.listTools()).tools)).toEqual([
        'a__add_tool',
        'a__echo',
        'a__log_later',
        'a__secret',
        'a__touch',
        'b__echo',
      ]);
      expect(names((await team.listPrompts()).prompts)).toEqual(['b__greet']);
      expect((await team.listResources()).resources.map((r) => r.uri).sort()).toEqual([
        'a://doc/open',
        'a://doc/secret',
      ]);
      expect((await team.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate)).toEqual([
        'a://item/{id}',
      ]);
      expect((await all.listTools()).tools).toHaveLength(10);
      expect((await all.listPrompts()).prompts).toHaveLength(4);
      expect(await team.callTool({ name: 'b__echo', arguments: {} })).toMatchObject({
        content: [{ type: 'text', text: 'echo of b' }],
      });
    } finally {
      await Promise.all([team.close(), all.close()]);
    }
  });

  it('the policy still applies on top of the endpoint', async () => {
    const bob = await clientAs(`${base}/team`, 'bob');
    try {
      expect(names((await bob.listTools()).tools)).toEqual([
        'a__add_tool',
        'a__echo',
        'a__log_later',
        'a__touch',
        'b__echo',
      ]);
    } finally {
      await bob.close();
    }
  });

  it('what lies outside the endpoint answers exactly as what does not exist, on every path', async () => {
    const team = await RawSession.open(`${base}/team`, 'alice');
    const same = async (
      method: string,
      params: (name: string) => Record<string, unknown>,
      hidden: string,
    ) => {
      const missing = hidden.replace(/secret|greet|echo|doc|item/, 'nothere');
      const outside = normalised(await team.request(method, params(hidden)), hidden);
      const absent = normalised(await team.request(method, params(missing)), missing);
      expect(payload(outside).error, `${method} ${hidden}`).toBeDefined();
      expect(outside, `${method} ${hidden}`).toEqual(absent);
    };
    await same('tools/call', (name) => ({ name, arguments: {} }), 'b__secret');
    await same('prompts/get', (name) => ({ name }), 'a__greet');
    await same('resources/read', (uri) => ({ uri }), 'b://doc/open');
    await same('resources/read', (uri) => ({ uri }), 'b://item/7');
    await same('resources/subscribe', (uri) => ({ uri }), 'b://doc/open');
    await same(
      'completion/complete',
      (name) => ({ ref: { type: 'ref/prompt', name }, argument: { name: 'x', value: '' } }),
      'a__greet',
    );
    // Nothing reached the upstreams for the refused names.
    expect(b.journal()).not.toMatch(/tools\/call secret|resources\/read b:\/\/doc\/open/);
    expect(a.journal()).not.toMatch(/prompts\/get greet/);
  });

  it('a session belongs to the endpoint it was opened on', async () => {
    const team = await RawSession.open(`${base}/team`, 'alice');
    const list = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
    for (const url of [base, `${base}/empty`]) {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'x-test-subject': 'alice',
          'mcp-session-id': team.id,
        },
        body: list,
      });
      expect(response.status, url).toBe(404);
      expect((await response.json()).error.message).toBe('Session not found');
    }
    expect((await team.post(list)).status).toBe(200);
  });

  it('an unknown endpoint is 404, and the gateway goes on serving', async () => {
    for (const name of ['nope', '__proto__', 'constructor', 'team%2F..']) {
      const response = await fetch(`${base}/${name}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      });
      expect(response.status, name).toBe(404);
      expect(await response.text(), name).not.toContain('team');
    }
    const empty = await clientAs(`${base}/empty`, 'alice');
    try {
      expect((await empty.listTools()).tools).toEqual([]);
      expect((await empty.listPrompts()).prompts).toEqual([]);
    } finally {
      await empty.close();
    }
  });
});
