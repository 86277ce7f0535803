// The lean HTTP upstream transport: a real SDK Client through it to a real Streamable HTTP server, and its SSE
// parser (TCP_NODELAY on its sockets: http-answers.test.ts).
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { HttpClientTransport } from '../../src/upstreams/http-transport.js';
import { SseParser, type SseEvent } from '../../src/upstreams/sse-parser.js';
import { startHttpFixture } from '../helpers/gateway.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('HttpClientTransport', () => {
  it('carries a session to a Streamable HTTP server', async () => {
    const fixture = await startHttpFixture('nodelay');
    cleanups.push(fixture.stop);
    const transport = new HttpClientTransport(new URL(fixture.url), { 'x-test': '1' });
    const client = new Client({ name: 't', version: '1' });
    await client.connect(transport);
    cleanups.push(() => client.close());
    expect(transport.sessionId).toMatch(/.+/);
    expect((await client.callTool({ name: 'whoami', arguments: {} })).content).toEqual([
      { type: 'text', text: 'nodelay' },
    ]);
  });

  it('reports an HTTP failure with its status as code', async () => {
    const fixture = await startHttpFixture('status');
    cleanups.push(fixture.stop);
    // A request without a session is refused by the server with 400.
    const transport = new HttpClientTransport(new URL(fixture.url), {});
    const error = await transport.send({ jsonrpc: '2.0', id: 1, method: 'ping' }).catch((e) => e);
    expect(error).toMatchObject({
      code: 400,
      message: expect.stringMatching(/^HTTP 400 from http:\/\/127\.0\.0\.1/),
    });
    await transport.close();
  });
});

describe('SseParser', () => {
  it('joins events split anywhere across chunks, multi-line data, ids, and skips comments', () => {
    const events: SseEvent[] = [];
    const parser = new SseParser((e) => events.push(e));
    const text = ': hello\n\nid: 7\nevent: message\ndata: {"a":\ndata: 1}\n\r\nevent: other\ndata: x\n\n';
    for (const piece of text.match(/.{1,3}/gs)!) parser.push(piece);
    expect(events).toEqual([
      { event: 'message', data: '{"a":\n1}', id: '7' },
      { event: 'other', data: 'x', id: '7' },
    ]);
  });
});
