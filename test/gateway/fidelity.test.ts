// Protocol fidelity: server-to-client requests, progress, logs and resource updates reach exactly the client
// session they belong to, with two real clients side by side.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { basicStdio, waitFor } from '../helpers/gateway.js';
import { isAlive, useHarness } from '../helpers/harness.js';

const EVERYTHING = createRequire(import.meta.url).resolve(
  '@modelcontextprotocol/server-everything/dist/index.js',
);
const everything = { command: process.execPath, args: [EVERYTHING, 'stdio'] };

const h = useHarness();

/** A sampling handler that answers with the client's own name and counts what it was asked. */
function answerSampling(c: Client, name: string) {
  const seen: string[] = [];
  c.setRequestHandler(CreateMessageRequestSchema, async (request) => {
    seen.push(JSON.stringify(request.params.messages));
    return { role: 'assistant', model: 'test', content: { type: 'text', text: `answer from ${name}` } };
  });
  return seen;
}

const text = (result: any) => result.content.map((c: any) => c.text ?? '').join('\n');

describe('server-to-client requests', () => {
  it('routes concurrent sampling requests to the client that caused each (scope: session)', async () => {
    const gw = await h.gateway({ upstreams: { ev: { ...everything, scope: 'session' } } });
    const [one, two] = [await h.client(gw, { sampling: {} }), await h.client(gw, { sampling: {} })];
    const seenOne = answerSampling(one, 'one');
    const seenTwo = answerSampling(two, 'two');
    const [r1, r2] = await Promise.all([
      one.callTool({ name: 'ev__trigger-sampling-request', arguments: { prompt: 'from one' } }),
      two.callTool({ name: 'ev__trigger-sampling-request', arguments: { prompt: 'from two' } }),
    ]);
    expect(text(r1)).toContain('answer from one');
    expect(text(r1)).not.toContain('answer from two');
    expect(text(r2)).toContain('answer from two');
    expect(seenOne).toHaveLength(1);
    expect(seenOne[0]).toContain('from one');
    expect(seenTwo).toHaveLength(1);
    expect(seenTwo[0]).toContain('from two');
  });

  it('on a shared upstream, routes a callback when one client is waiting and refuses it when two are', async () => {
    const gw = await h.gateway({ upstreams: { a: basicStdio('a') } });
    const [one, two] = [await h.client(gw, { sampling: {} }), await h.client(gw, { sampling: {} })];
    const seenOne = answerSampling(one, 'one');
    const seenTwo = answerSampling(two, 'two');
    expect(text(await one.callTool({ name: 'a__sample', arguments: { prompt: 'solo' } }))).toBe(
      'sampled: answer from one',
    );
    // While `two` has a call in flight on the same connection, the origin of a callback is ambiguous.
    const hanging = two.callTool({ name: 'a__hang', arguments: {} }).catch(() => undefined);
    await waitFor(() =>
      [...gw.app.runtime.sessions.all()].some((s) =>
        [...(s.inflight?.values() ?? [])].some((e) => e.connection),
      ),
    );
    await expect(one.callTool({ name: 'a__sample', arguments: { prompt: 'busy' } })).rejects.toMatchObject({
      message: expect.stringContaining('cannot tell which client sampling/createMessage is for'),
    });
    expect(seenOne).toHaveLength(1);
    expect(seenTwo).toHaveLength(0);
    await two.close();
    await hanging;
  });

  it('refuses a callback the calling client did not declare, and delivers it nowhere', async () => {
    const gw = await h.gateway({ upstreams: { a: basicStdio('a') } });
    const without = await h.client(gw, {});
    const bystander = await h.client(gw, { sampling: {} });
    const seen = answerSampling(bystander, 'bystander');
    await expect(without.callTool({ name: 'a__sample', arguments: { prompt: 'x' } })).rejects.toMatchObject({
      message: expect.stringContaining('did not declare the sampling capability'),
    });
    expect(seen).toHaveLength(0);
  });

  it('relays form elicitation and roots/list to the session that asked (server-everything)', async () => {
    const gw = await h.gateway({ upstreams: { ev: { ...everything, scope: 'session' } } });
    const c = await h.client(gw, { elicitation: { form: {} }, roots: { listChanged: true } });
    c.setRequestHandler(ElicitRequestSchema, async () => ({
      action: 'accept',
      content: {
        name: 'Ada',
        check: true,
        firstLine: 'x',
        email: 'ada@example.com',
        homepage: 'https://example.com',
        birthdate: '2000-01-01',
        integer: 3,
        number: 2.5,
        untitledSingleSelectEnum: 'option1',
        titledSingleSelectEnum: 'value1',
        legacyTitledEnum: 'opt1',
        untitledMultipleSelectEnum: ['option1'],
        titledMultipleSelectEnum: ['value1'],
      },
    }));
    c.setRequestHandler(ListRootsRequestSchema, async () => ({
      roots: [{ uri: 'file:///work/only-mine', name: 'mine' }],
    }));
    const elicited = await c.callTool({ name: 'ev__trigger-elicitation-request', arguments: {} });
    expect(text(elicited)).toContain('Ada');
    const roots = await waitFor(async () => true).then(() =>
      c.callTool({ name: 'ev__get-roots-list', arguments: {} }),
    );
    expect(text(roots)).toContain('file:///work/only-mine');
  });
  it('relays URL-mode elicitation to a client that supports it, and refuses it for a form-only client', async () => {
    const gw = await h.gateway({ upstreams: { ev: { ...everything, scope: 'session' } } });
    const urlClient = await h.client(gw, { elicitation: { form: {}, url: {} } });
    const asked: string[] = [];
    urlClient.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(`${request.params.mode}:${(request.params as { url?: string }).url}`);
      return { action: 'accept' };
    });
    const args = { url: 'https://example.com/consent', message: 'Please sign in' };
    const accepted = await urlClient.callTool({ name: 'ev__trigger-url-elicitation', arguments: args });
    expect(text(accepted)).toContain('User completed the URL elicitation flow');
    expect(asked).toEqual(['url:https://example.com/consent']);
    // On a shared upstream the tool is offered to everyone; the gateway refuses URL mode to a form-only client.
    const shared = await h.gateway({ upstreams: { ev: everything } });
    const formOnly = await h.client(shared, { elicitation: { form: {} } });
    let formAsked = 0;
    formOnly.setRequestHandler(ElicitRequestSchema, async () => {
      formAsked++;
      return { action: 'accept', content: {} };
    });
    const refused = await formOnly.callTool({ name: 'ev__trigger-url-elicitation', arguments: args }).then(
      (r) => text(r),
      (e: Error) => e.message,
    );
    expect(refused).toContain('the client does not support URL elicitation');
    expect(formAsked).toBe(0);
  });
});

describe('notifications', () => {
  it('maps progress tokens both ways: two clients using the same token each see only their own, before the result', async () => {
    const gw = await h.gateway({ upstreams: { a: basicStdio('a') } });
    const [one, two] = [await h.client(gw), await h.client(gw)];
    const progressOne: number[] = [];
    const progressTwo: number[] = [];
    const [r1, r2] = await Promise.all([
      one.callTool({ name: 'a__progress', arguments: { steps: 3 } }, undefined, {
        onprogress: (p) => progressOne.push(p.progress),
      }),
      two.callTool({ name: 'a__progress', arguments: { steps: 5 } }, undefined, {
        onprogress: (p) => progressTwo.push(p.progress),
      }),
    ]);
    // The SDK's onprogress stops listening once the result arrives, so every count here came before it.
    expect(progressOne).toEqual([1, 2, 3]);
    expect(progressTwo).toEqual([1, 2, 3, 4, 5]);
    expect(text(r1)).toBe('done 3');
    expect(text(r2)).toBe('done 5');
  });

  it("forwards logging/setLevel and delivers a call's log messages to its own client only", async () => {
    const gw = await h.gateway({ upstreams: { a: basicStdio('a') } });
    const [one, two] = [await h.client(gw), await h.client(gw)];
    const logsOne: unknown[] = [];
    const logsTwo: unknown[] = [];
    one.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logsOne.push(n.params.data));
    two.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logsTwo.push(n.params.data));
    await one.setLoggingLevel('debug');
    await two.setLoggingLevel('debug');
    await one.callTool({ name: 'a__log', arguments: { count: 3 } });
    expect(logsOne).toEqual(['log 0 from a', 'log 1 from a', 'log 2 from a']);
    await new Promise((r) => setTimeout(r, 200));
    expect(logsTwo).toEqual([]);
  });

  it('delivers resources/updated only to the sessions subscribed to that URI', async () => {
    const gw = await h.gateway({ upstreams: { a: basicStdio('a') } });
    const [one, two] = [await h.client(gw), await h.client(gw)];
    const updatesOne: string[] = [];
    const updatesTwo: string[] = [];
    one.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updatesOne.push(n.params.uri));
    two.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updatesTwo.push(n.params.uri));
    await new Promise((r) => setTimeout(r, 200)); // let both GET streams open
    await one.subscribeResource({ uri: 'a://static/info' });
    await waitFor(() => updatesOne.length > 0);
    expect(updatesOne).toEqual(['a://static/info']);
    expect(updatesTwo).toEqual([]);
    await expect(one.unsubscribeResource({ uri: 'a://static/info' })).resolves.toEqual({});
  });
});

describe('sessions and scope', () => {
  it('gives each session its own upstream process with scope: session and ends it when the session idles out', async () => {
    const gw = await h.gateway({
      sessions: { idleTimeout: '1s' },
      upstreams: { a: { ...basicStdio('a'), scope: 'session' } },
    });
    const [one, two] = [await h.client(gw), await h.client(gw)];
    const pidOne = Number(text(await one.callTool({ name: 'a__pid', arguments: {} })));
    const pidTwo = Number(text(await two.callTool({ name: 'a__pid', arguments: {} })));
    expect(pidOne).not.toBe(pidTwo);
    expect(Number(text(await one.callTool({ name: 'a__pid', arguments: {} })))).toBe(pidOne);
    // Clients that go away without DELETE (most do) leave their sessions to idle out; an open GET stream
    // would count as activity, so the clients disconnect first.
    await one.close();
    await two.close();
    expect(isAlive(pidOne)).toBe(true);
    await waitFor(() => !isAlive(pidOne) && !isAlive(pidTwo), 15_000);
    expect(gw.app.runtime.sessions.size).toBe(0);
  });
});
