// The coarse HTTP limit (`http.rateLimit`) over raw HTTP: 429 with Retry-After and the gateway's error body past
// it, counted per principal after authentication (another principal, or a bad key, spends nothing of it),
// anonymous callers by address, and /healthz never limited.
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { INIT, rawPost, startGateway, type RunningGateway } from '../helpers/gateway.js';

const KEYS = { bot: 'ci-bot-key-0123456789abcdef', ann: 'ann-key-0123456789abcdef' };
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

let gw: RunningGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

/** A GET from a chosen loopback source address (fetch cannot pick one). */
function getFrom(url: string, localAddress: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { localAddress }, (response) => {
      response.resume();
      resolve(response.statusCode!);
    });
    request.on('error', reject);
  });
}

const INITIALIZED = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });

describe('the HTTP edge limit', () => {
  it('refuses a principal past max with 429, Retry-After and the gateway error body; others are still served', async () => {
    gw = await startGateway({
      upstreams: {},
      http: { rateLimit: { max: 3, per: '1m' } },
      auth: {
        resource: 'http://127.0.0.1/mcp',
        apiKeys: [
          { subject: 'ci-bot', key: KEYS.bot },
          { subject: 'ann', key: KEYS.ann },
        ],
      },
    });
    // A request whose key is wrong is refused by authentication first and spends nothing.
    for (let i = 0; i < 5; i++)
      expect((await rawPost(gw.url, INIT, bearer('wrong-key-0123456789abcdef'))).status).toBe(401);
    const opened = await rawPost(gw.url, INIT, bearer(KEYS.bot));
    expect(opened.status).toBe(200);
    // Two notifications in the session: answered 202 by fastify itself (the calls' answers are written raw).
    const session = { ...bearer(KEYS.bot), 'mcp-session-id': opened.headers.get('mcp-session-id')! };
    for (let i = 0; i < 2; i++) {
      const allowed = await rawPost(gw.url, INITIALIZED, session);
      expect(allowed.status).toBe(202);
      // The x-ratelimit-* headers are for the refusal alone: an answer the limit lets by carries none.
      expect([...allowed.headers.keys()].filter((name) => name.startsWith('x-ratelimit'))).toEqual([]);
    }
    const refused = await rawPost(gw.url, INIT, bearer(KEYS.bot));
    expect(refused.status).toBe(429);
    expect(refused.headers.get('x-ratelimit-limit')).toBe('3');
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('content-type')).toMatch(/^application\/json/);
    expect(refused.json).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: {
        code: -32000,
        message: `Too Many Requests: more than 3 requests per 1m from one principal (http.rateLimit); retry in ${retryAfter}s`,
        data: { limit: 'http.rateLimit', retryAfter },
      },
    });
    // Keyed by the principal the auth hook established: the same address, another key, a window of its own.
    expect((await rawPost(gw.url, INIT, bearer(KEYS.ann))).status).toBe(200);
    const healthz = gw.url.replace(/\/mcp$/, '/healthz');
    for (let i = 0; i < 10; i++) expect((await fetch(healthz)).status).toBe(200);
  });

  it('counts anonymous callers by their address, since they all share one subject', async () => {
    gw = await startGateway({ upstreams: {}, http: { rateLimit: { max: 2, per: '1m' } } });
    const readyz = gw.url.replace(/\/mcp$/, '/readyz');
    expect(await getFrom(readyz, '127.0.0.1')).toBe(200);
    expect(await getFrom(readyz, '127.0.0.1')).toBe(200);
    expect(await getFrom(readyz, '127.0.0.1')).toBe(429);
    expect(await getFrom(readyz, '127.0.0.2')).toBe(200);
    const healthz = gw.url.replace(/\/mcp$/, '/healthz');
    for (let i = 0; i < 5; i++) expect(await getFrom(healthz, '127.0.0.1')).toBe(200);
  });
});
