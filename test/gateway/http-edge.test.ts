// The HTTP edge: parse errors, batches, sessions, body limit, Host/Origin, bodiless DELETE/GET, health and
// readiness.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicStdio, INIT, rawPost, startGateway, type RunningGateway } from '../helpers/gateway.js';

let gw: RunningGateway;
beforeAll(async () => {
  gw = await startGateway({
    http: { bodyLimit: 1024 },
    upstreams: { a: basicStdio('a'), dead: { command: '/nonexistent/server' } },
  });
});
afterAll(() => gw?.close());

async function session(): Promise<string> {
  const init = await rawPost(gw.url, INIT);
  expect(init.status).toBe(200);
  return init.headers.get('mcp-session-id')!;
}

describe('HTTP edge', () => {
  it('answers malformed JSON with 400 and a JSON-RPC parse error', async () => {
    const res = await rawPost(gw.url, '{"jsonrpc":"2.0",');
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
  });

  it('rejects JSON-RPC batches with 400 invalid request', async () => {
    const res = await rawPost(gw.url, `[${INIT}]`);
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({
      code: -32600,
      message: expect.stringContaining('batches are not supported'),
    });
  });

  it('an initialize refused for bad params leaves no session behind', async () => {
    const before = gw.app.runtime.sessions.size;
    const bad = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: 'everything',
        clientInfo: { name: 'x', version: '1' },
      },
    });
    const res = await rawPost(gw.url, bad);
    expect(res.json.error).toMatchObject({ code: -32602 });
    const id = res.headers.get('mcp-session-id');
    expect(gw.app.runtime.sessions.size).toBe(before);
    if (id) {
      const ping = await rawPost(gw.url, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping' }), {
        'mcp-session-id': id,
      });
      expect(ping.status).toBe(404);
    }
  });

  it('answers a request without a session id with 400, and an unknown session with 404', async () => {
    const list = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    const missing = await rawPost(gw.url, list);
    expect(missing.status).toBe(400);
    expect(missing.json.error.message).toMatch(/Mcp-Session-Id header is required/);
    const unknown = await rawPost(gw.url, list, { 'mcp-session-id': 'no-such-session' });
    expect(unknown.status).toBe(404);
  });

  it('answers a body over the limit with 413', async () => {
    const sid = await session();
    const big = JSON.stringify({
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'a__echo', arguments: { text: 'x'.repeat(2000) } },
    });
    const res = await rawPost(gw.url, big, { 'mcp-session-id': sid });
    expect(res.status).toBe(413);
    expect(res.json.error.code).toBe(-32600);
  });

  it('refuses a foreign Host or Origin with 403 (DNS rebinding) and accepts its own', async () => {
    const evil = await rawPost(gw.url, INIT, { host: 'evil.example.com', origin: 'http://evil.example.com' });
    expect(evil.status).toBe(403);
    const badOrigin = await rawPost(gw.url, INIT, { origin: 'http://evil.example.com' });
    expect(badOrigin.status).toBe(403);
    const own = new URL(gw.url);
    const ok = await rawPost(gw.url, INIT, { origin: `http://${own.host}` });
    expect(ok.status).toBe(200);
  });

  it('answers a tool call with application/json when nothing needs to stream', async () => {
    const sid = await session();
    const call = JSON.stringify({
      jsonrpc: '2.0',
      id: 'x1',
      method: 'tools/call',
      params: { name: 'a__echo', arguments: { text: 'hi' } },
    });
    const res = await rawPost(gw.url, call, { 'mcp-session-id': sid });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(res.json).toEqual({
      jsonrpc: '2.0',
      id: 'x1',
      result: { content: [{ type: 'text', text: 'hi' }] },
    });
  });

  it('ends a session on DELETE; the id is unknown afterwards', async () => {
    const sid = await session();
    const del = await fetch(gw.url, { method: 'DELETE', headers: { 'mcp-session-id': sid } });
    expect(del.status).toBe(200);
    const after = await rawPost(gw.url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }), {
      'mcp-session-id': sid,
    });
    expect(after.status).toBe(404);
  });

  it('accepts DELETE and GET labelled application/json with no body (as the SDK server does)', async () => {
    for (const type of ['application/json', 'application/json; charset=utf-8']) {
      const sid = await session();
      const del = await fetch(gw.url, {
        method: 'DELETE',
        headers: { 'mcp-session-id': sid, 'content-type': type },
      });
      expect(del.status).toBe(200);
      const after = await rawPost(gw.url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }), {
        'mcp-session-id': sid,
      });
      expect(after.status).toBe(404);
    }
    const sid = await session();
    const controller = new AbortController();
    const stream = await fetch(gw.url, {
      headers: { 'mcp-session-id': sid, 'content-type': 'application/json', accept: 'text/event-stream' },
      signal: controller.signal,
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('content-type')).toBe('text/event-stream');
    controller.abort();
    // An unknown session is still looked at, not hidden behind a parse error.
    const unknown = await fetch(gw.url, {
      method: 'DELETE',
      headers: { 'mcp-session-id': 'no-such-session', 'content-type': 'application/json' },
    });
    expect(unknown.status).toBe(404);
  });

  it('still answers a POST with an empty JSON body with 400 parse error', async () => {
    const res = await rawPost(gw.url, '');
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe(-32700);
    expect((await rawPost(gw.url, INIT)).status).toBe(200);
  });

  it('serves /healthz, and /readyz with each upstream state', async () => {
    const base = gw.url.replace(/\/mcp$/, '');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    const body = await ready.json();
    expect(body.upstreams.a).toMatchObject({ state: 'ready', tools: 15 });
    expect(body.upstreams.dead).toMatchObject({
      state: 'down',
      error: expect.stringContaining('/nonexistent/server'),
    });
  });
});

describe('session cap', () => {
  it('answers initialize with 503 when sessions.max are open, and serves the open ones', async () => {
    const capped = await startGateway({ sessions: { max: 2 }, upstreams: { a: basicStdio('a') } });
    try {
      const first = await rawPost(capped.url, INIT);
      await rawPost(capped.url, INIT);
      const third = await rawPost(capped.url, INIT);
      expect(third.status).toBe(503);
      expect(third.json.error.message).toMatch(/too many open sessions/);
      const ping = await rawPost(capped.url, JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'ping' }), {
        'mcp-session-id': first.headers.get('mcp-session-id')!,
      });
      expect(ping.json).toEqual({ jsonrpc: '2.0', id: 5, result: {} });
    } finally {
      await capped.close();
    }
  });
});
