// The undici-based HTTP upstream transport against a real SDK Streamable HTTP server (JSON and SSE answers):
// large results keep the upstream's own bytes, split UTF-8 survives, sockets set TCP_NODELAY, the GET stream
// carries server-initiated messages, and close ends the upstream session with DELETE.
import { randomUUID } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { ToolListChangedNotificationSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { HttpClientTransport } from '../../src/upstreams/http-transport.js';
import { takeRawResult } from '../../src/upstreams/raw-results.js';
import { waitFor } from '../helpers/gateway.js';

/** 200 KB of text whose 2-, 3- and 4-byte characters are bound to straddle socket reads somewhere. */
const BIG = 'aé€😀'.repeat(20_000);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** A stateful SDK server on port 0: one McpServer per session, answering POSTs as JSON or as SSE. */
async function startServer(json: boolean, refuseGet = false) {
  const servers = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer }>();
  const closedSessions: string[] = [];
  /** The Authorization header of every request, in order (`-` for none). */
  const authorizations: string[] = [];
  const httpServer = http.createServer(async (req, res) => {
    authorizations.push(`${req.method} ${req.headers.authorization ?? '-'}`);
    if (refuseGet && req.method === 'GET') return void res.writeHead(405).end();
    const sid = req.headers['mcp-session-id'];
    const existing = typeof sid === 'string' ? servers.get(sid) : undefined;
    if (existing) return existing.transport.handleRequest(req, res);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: json,
      onsessioninitialized: (id) => void servers.set(id, { transport, server }),
      onsessionclosed: (id) => void closedSessions.push(id),
    });
    const server = new McpServer({ name: 'answers', version: '1.0.0' });
    server.registerTool('big', { description: 'A 200 KB text' }, async () => ({
      content: [{ type: 'text', text: BIG }],
    }));
    server.registerTool('small', { description: 'A short text' }, async () => ({
      content: [{ type: 'text', text: 'short' }],
    }));
    await server.connect(transport);
    await transport.handleRequest(req, res);
  });
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const port = (httpServer.address() as AddressInfo).port;
  cleanups.push(async () => {
    for (const { server } of servers.values()) await server.close();
    httpServer.closeAllConnections();
    await new Promise((resolve) => httpServer.close(resolve));
  });
  return { url: new URL(`http://127.0.0.1:${port}/mcp`), port, servers, closedSessions, authorizations };
}

/** An SDK Client over the transport, recording every message the transport hands it. */
async function connect(url: URL, authorization?: () => string | undefined) {
  const limits = { name: 'answers', maxResultBytes: 1024 * 1024 };
  const transport = new HttpClientTransport(url, {}, limits, authorization);
  const client = new Client({ name: 't', version: '1' });
  await client.connect(transport);
  const seen: JSONRPCMessage[] = [];
  const deliver = transport.onmessage!;
  transport.onmessage = (message) => {
    seen.push(message);
    deliver(message);
  };
  return { transport, client, seen };
}

describe('HttpClientTransport answers', () => {
  for (const json of [true, false]) {
    it(`keeps a large result's own bytes, in the pieces they arrived in (${json ? 'JSON' : 'SSE'} answers)`, async () => {
      const { url } = await startServer(json);
      const { client, seen } = await connect(url);
      cleanups.push(() => client.close());
      const result = await client.callTool({ name: 'big', arguments: {} });
      expect(result.content).toEqual([{ type: 'text', text: BIG }]);
      const message = seen.find((m) => 'result' in m) as { result: object };
      const raw = takeRawResult(message.result);
      expect(raw, 'a 200 KB result keeps its bytes').toBeDefined();
      expect(raw!.length, 'several socket reads, never joined into one buffer').toBeGreaterThan(1);
      expect(Buffer.concat(raw!).toString('utf8')).toBe(JSON.stringify(message.result));

      // A small result is re-serialised instead: its bytes are not worth the bookkeeping.
      seen.length = 0;
      await client.callTool({ name: 'small', arguments: {} });
      expect(takeRawResult((seen.find((m) => 'result' in m) as { result: object }).result)).toBeUndefined();
    });
  }

  it('opens sockets with TCP_NODELAY set (a regression costs a delayed-ACK wait per call)', async () => {
    const { url, port } = await startServer(false);
    const sockets: Socket[] = [];
    const onConnected = (message: unknown) => {
      const socket = (message as { socket: Socket }).socket;
      if (socket.remotePort === port) sockets.push(socket);
    };
    diagnosticsChannel.subscribe('undici:client:connected', onConnected);
    cleanups.push(() => void diagnosticsChannel.unsubscribe('undici:client:connected', onConnected));
    const { client } = await connect(url);
    cleanups.push(() => client.close());
    await Promise.all([1, 2, 3].map(() => client.callTool({ name: 'small', arguments: {} })));
    expect(sockets.length).toBeGreaterThan(0);
    for (const socket of sockets) {
      const flag = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'kSetNoDelay');
      expect(flag, 'node:net keeps the noDelay request under the kSetNoDelay symbol').toBeDefined();
      expect((socket as any)[flag!]).toBe(true);
    }
  });

  it('receives server-initiated messages on the GET stream, and ends the session with DELETE on close', async () => {
    const { url, servers, closedSessions } = await startServer(false);
    const { transport, client } = await connect(url);
    let changes = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes++);
    const sessionId = transport.sessionId!;
    const { server } = servers.get(sessionId)!;
    // The stream opens after `initialized`; until it is there the server has nowhere to send, so keep trying.
    await waitFor(() => {
      server.sendToolListChanged();
      return changes > 0;
    });
    await client.close();
    expect(closedSessions).toEqual([sessionId]);
  });

  it('sends the token current at each request, replacing a configured Authorization header', async () => {
    const { url, authorizations } = await startServer(true);
    let token = 'Bearer one';
    const transport = new HttpClientTransport(
      url,
      { Authorization: 'Bearer configured' },
      { name: 'answers', maxResultBytes: 1024 },
      () => token,
    );
    const client = new Client({ name: 't', version: '1' });
    await client.connect(transport);
    token = 'Bearer two';
    await client.callTool({ name: 'small', arguments: {} });
    await client.close();
    const posts = authorizations.filter((line) => line.startsWith('POST'));
    expect(posts[0]).toBe('POST Bearer one');
    expect(posts.at(-1)).toBe('POST Bearer two');
    expect(
      authorizations.filter((line) => !line.endsWith('Bearer one') && !line.endsWith('Bearer two')),
    ).toEqual([]);
  });

  it('asks a server that refuses the GET stream (405) once, not again and again', async () => {
    const { url, authorizations } = await startServer(true, true);
    const { client } = await connect(url);
    cleanups.push(() => client.close());
    await waitFor(() => authorizations.some((line) => line.startsWith('GET')));
    // A stream that ended would be reopened after 0.5 s, then 1 s: wait past both.
    await new Promise((resolve) => setTimeout(resolve, 1700));
    expect(authorizations.filter((line) => line.startsWith('GET'))).toHaveLength(1);
  });
});
