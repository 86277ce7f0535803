// Issue 8 point 2: the Host/Origin guard covers every request the router would serve, whatever the spelling
// of the request target, and /readyz too; /healthz stays open on purpose (liveness probes, reveals nothing).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { INIT_BODY, rawRequest } from './raw-http.js';

let gw: RunningGateway;
let port: number;
let goodHost: string;
beforeAll(async () => {
  gw = await startGateway({ upstreams: {} });
  const url = new URL(gw.url);
  port = Number(url.port);
  goodHost = url.host;
});
afterAll(() => gw?.close());

/** Ways to spell a target that a router might send to /mcp (or that a naive prefix check might miss). */
const MCP_TARGETS = [
  '/mcp',
  '/mcp/',
  '//mcp',
  '///mcp',
  '/MCP',
  '/Mcp',
  '/./mcp',
  '/../mcp',
  '/mcp/.',
  '/x/../mcp',
  '/%6Dcp',
  '/%6dcp',
  '/m%63p',
  '/%6D%63%70',
  '/mcp?x=1',
  '/mcp?',
  '/mcp;x',
  '/mcp;x=1?y',
  '/mcp#frag',
  '/mcp%3Fx',
  '/mcp%2F',
  '/mcp%20',
  '/mcp%00',
  '/%2Fmcp',
  '/mcp/../mcp',
  'http://evil.example.com/mcp',
  'http://127.0.0.1/mcp',
  'HTTP://evil.example.com/mcp?x',
  'https://evil.example.com:443/mcp',
  'mcp',
  '*',
];
const METHODS = ['POST', 'GET', 'DELETE', 'HEAD', 'OPTIONS', 'PUT', 'PATCH'];

async function send(method: string, target: string, headers: string) {
  const body = method === 'POST' || method === 'PUT' || method === 'PATCH' ? INIT_BODY : '';
  const type = body
    ? '\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream'
    : '';
  try {
    return await rawRequest(port, `${method} ${target} HTTP/1.1${headers}${type}`, body);
  } catch {
    return { status: 0, headers: {}, body: '' }; // the server refused the request line outright
  }
}

describe('Host/Origin guard on every spelling of /mcp', () => {
  it('answers a foreign Host with 403 (or 400/404, never the endpoint) for every target and method', async () => {
    const reached: string[] = [];
    for (const target of MCP_TARGETS) {
      for (const method of METHODS) {
        const good = await send(method, target, `\r\nhost: ${goodHost}`);
        const evil = await send(method, target, '\r\nhost: evil.example.com');
        const evilOrigin = await send(
          method,
          target,
          `\r\nhost: ${goodHost}\r\norigin: http://evil.example.com`,
        );
        // A spelling the router serves must be refused with the guard's 403; one it does not serve may be 404.
        for (const [label, res] of [
          ['host', evil],
          ['origin', evilOrigin],
        ] as const) {
          // 0 or a bare 400: Node's HTTP parser refused the request line before any route was looked up.
          const refusedByParser = res.status === 0 || (res.status === 400 && !res.body.includes('jsonrpc'));
          const fine = res.status === 403 || refusedByParser || (res.status === 404 && good.status === 404);
          if (!fine)
            reached.push(`${method} ${target} (bad ${label}): ${res.status}, good Host: ${good.status}`);
          if (res.status === 403 && method !== 'HEAD') {
            expect(JSON.parse(res.body).error.message).toMatch(
              /^Forbidden: (Host|Origin) ".*" is not allowed/,
            );
          }
        }
      }
    }
    expect(reached).toEqual([]);
  }, 120_000);

  it('serves the plain spelling with a good Host, so the refusals above are the guard and not the router', async () => {
    const ok = await send('POST', '/mcp', `\r\nhost: ${goodHost}`);
    expect(ok.status).toBe(200);
    expect(ok.headers['mcp-session-id']).toBeTruthy();
    const encoded = await send('POST', '/%6Dcp', `\r\nhost: ${goodHost}`);
    expect(encoded.status).toBe(200);
    const query = await send('POST', '/mcp?x=1', `\r\nhost: ${goodHost}`);
    expect(query.status).toBe(200);
  });

  it('refuses an absolute-form target whose authority is foreign even when the Host header is allowed', async () => {
    const res = await send('POST', 'http://evil.example.com/mcp', `\r\nhost: ${goodHost}`);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body).error.message).toMatch(/Host "evil.example.com" is not allowed/);
    const own = await send('POST', `http://${goodHost}/mcp`, `\r\nhost: ${goodHost}`);
    expect(own.status).toBe(200);
  });

  it('refuses a missing Host, an empty one, and look-alike hosts', async () => {
    for (const host of [
      '',
      '\r\nhost: ',
      '\r\nhost: 127.0.0.1.evil.example.com',
      '\r\nhost: localhost.evil.example.com',
      '\r\nhost: evil.example.com:80@127.0.0.1',
      '\r\nhost: evil.example.com#@127.0.0.1',
      '\r\nhost: [::1].evil.example.com',
    ]) {
      const res = await send('POST', '/mcp', host);
      expect([400, 403], `Host line ${JSON.stringify(host)}`).toContain(res.status);
    }
  });

  it('guards /readyz in every spelling and keeps /healthz open', async () => {
    for (const target of ['/readyz', '/readyz/', '//readyz', '/%72eadyz', '/readyz?x', '/readyz;x']) {
      const res = await send('GET', target, '\r\nhost: evil.example.com');
      expect([403, 404], target).toContain(res.status);
    }
    expect((await send('GET', '/readyz', '\r\nhost: evil.example.com')).status).toBe(403);
    expect((await send('GET', '/readyz', `\r\nhost: ${goodHost}`)).status).toBe(200);
    const health = await send('GET', '/healthz', '\r\nhost: evil.example.com');
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: 'ok' });
    expect((await send('HEAD', '/healthz', '\r\nhost: 10.0.0.7:8080')).status).toBe(200);
    // Only the exact target is open: other spellings of it are guarded like everything else.
    for (const target of [
      '/healthz/',
      '//healthz',
      '/%68ealthz',
      '/healthz?x',
      'http://evil.example.com/healthz',
    ])
      expect((await send('GET', target, '\r\nhost: evil.example.com')).status, target).toBe(403);
  });

  it('still serves a well-behaved client after all the refusals', async () => {
    const res = await send('POST', '/mcp', `\r\nhost: ${goodHost}`);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).result.serverInfo.name).toBe('switchboard');
  });
});
