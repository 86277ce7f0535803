// Nothing an upstream sends is trusted as a JavaScript value: notifications, requests and responses with
// prototype names or wrong types are dropped with a log line (or answered), the gateway never exits, and the
// upstream and everyone else keep working. Also: a shared upstream's start-up roots/list gets no roots, quietly.
import { describe, expect, it } from 'vitest';
import { basicStdio, connectClient } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';
import { gatewayWithLog, wireStdio } from './wire-helpers.js';

const h = useHarness();
const line = (message: unknown) => JSON.stringify(message);
const note = (method: unknown, params?: unknown) =>
  line(params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params });

const BAD_LINES: Record<string, string[]> = {
  'notifications named after Object.prototype members': [
    'constructor',
    '__proto__',
    'toString',
    'hasOwnProperty',
    'valueOf',
  ].map((method) => note(method)),
  'notifications whose method is not a string': [5, null, {}, ['notifications/tools/list_changed'], true].map(
    (method) => note(method),
  ),
  'notifications whose params are not an object': ['text', 5, null, true].map((params) =>
    note('notifications/tools/list_changed', params),
  ),
  'known notifications with wrong-typed fields': [
    note('notifications/resources/updated', { uri: { toString: 1 } }),
    note('notifications/resources/updated', {}),
    note('notifications/progress', { progressToken: {}, progress: 1 }),
    note('notifications/progress', { progressToken: '__proto__', progress: 'x' }),
    note('notifications/message', { level: 'constructor', data: 'x' }),
    note('notifications/message', { level: 5 }),
    note('notifications/tasks/status', { taskId: { a: 1 } }),
    note('notifications/tasks/status', { taskId: '__proto__' }),
    note('notifications/cancelled', { requestId: '__proto__' }),
  ],
  'requests with prototype names and odd ids': [
    line({ jsonrpc: '2.0', id: 'u1', method: 'constructor' }),
    line({ jsonrpc: '2.0', id: 'u2', method: '__proto__', params: { x: 1 } }),
    line({ jsonrpc: '2.0', id: { a: 1 }, method: 'roots/list' }),
    line({ jsonrpc: '2.0', id: 'u3', method: 7 }),
    line({ jsonrpc: '2.0', id: 'u4', method: 'sampling/createMessage', params: 'text' }),
  ],
  'responses to requests never sent': [
    line({ jsonrpc: '2.0', id: 424242, result: {} }),
    line({ jsonrpc: '2.0', id: 'toString', error: { code: 'x', message: 5 } }),
    line({ jsonrpc: '2.0', id: null, result: null }),
    '{"jsonrpc":"2.0","id":1e308,"result":{"__proto__":{"polluted":true}}}',
  ],
  'lines that are not JSON-RPC': ['not json', '[]', '{"jsonrpc":"1.0"}', '{"jsonrpc":"2.0"}', 'null', '"x"'],
};

describe('what an upstream sends', () => {
  it.each(Object.entries(BAD_LINES))(
    '%s leave the gateway, the upstream and others working',
    async (_, lines) => {
      const gw = await gatewayWithLog({ upstreams: { w: wireStdio(), ok: basicStdio('ok') } }, 'warn');
      h.defer(gw.close);
      const client = await connectClient(gw.url);
      h.defer(() => client.close());
      // The emitting call still gets exactly one answer (a response line may have been taken for it: any answer).
      const emitted = await client.callTool({ name: 'w__emit', arguments: { lines } }).then(
        (r) => r.content,
        (e: Error) => e.message,
      );
      expect(emitted).toBeDefined();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(gw.app.runtime.upstream('w')!.state).toBe('ready');
      expect((await client.callTool({ name: 'w__emit', arguments: {} })).content).toEqual([
        { type: 'text', text: 'emitted' },
      ]);
      expect((await client.callTool({ name: 'ok__echo', arguments: { text: 'hi' } })).content).toEqual([
        { type: 'text', text: 'hi' },
      ]);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    },
  );

  it('logs a malformed notification once as dropped, naming its upstream', async () => {
    const gw = await gatewayWithLog({ upstreams: { w: wireStdio() } }, 'warn');
    h.defer(gw.close);
    const client = await connectClient(gw.url);
    h.defer(() => client.close());
    await client.callTool({ name: 'w__emit', arguments: { lines: [note(5), note('x/y', 'text')] } });
    const dropped = gw.lines.filter((l) => l.msg === 'malformed notification from the upstream dropped');
    expect(dropped).toEqual([
      expect.objectContaining({ upstream: 'w', method: 'number', params: 'undefined' }),
      expect.objectContaining({ upstream: 'w', method: 'x/y', params: 'string' }),
    ]);
  });
});

describe('roots/list from a shared upstream with no client session', () => {
  it('is answered with an empty roots list and logged at debug, not as an error', async () => {
    const gw = await gatewayWithLog({ upstreams: { w: wireStdio({ askRoots: true }) } }, 'debug');
    h.defer(gw.close);
    const client = await connectClient(gw.url);
    h.defer(() => client.close());
    const answer = await client.callTool({ name: 'w__roots_answer', arguments: {} });
    expect(JSON.parse((answer.content as { text: string }[])[0].text)).toEqual({
      jsonrpc: '2.0',
      id: 'roots-1',
      result: { roots: [] },
    });
    expect(gw.lines).toContainEqual(
      expect.objectContaining({
        level: 20,
        upstream: 'w',
        msg: 'roots/list with no client session: answered with no roots',
      }),
    );
    expect(gw.lines.filter((l) => l.level >= 50)).toEqual([]);
  });
});
