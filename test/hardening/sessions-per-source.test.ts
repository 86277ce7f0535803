// Issue 8 point 6 (sessions): session creation is limited per source (open sessions and new ones per
// minute) as well as globally; one source exhausting its quota does not stop another (127.0.0.2 is a
// second source on loopback), and the errors name the limit and the key to raise.
import { describe, expect, it } from 'vitest';
import { addressSource, SourceLimits } from '../../src/gateway/stores/source-limits.js';
import { useHarness } from '../helpers/harness.js';
import { INIT_BODY, rawRequest } from './raw-http.js';

const h = useHarness();

async function gateway(sessions: Record<string, unknown>) {
  const gw = await h.gateway({ sessions, upstreams: {} });
  const port = Number(new URL(gw.url).port);
  const init = (from = '127.0.0.1') =>
    rawRequest(
      port,
      `POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\naccept: application/json`,
      INIT_BODY,
      { localAddress: from },
    );
  const call = (sid: string, method: string, from = '127.0.0.1') =>
    rawRequest(
      port,
      `${method} /mcp HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\nmcp-session-id: ${sid}`,
      method === 'POST' ? JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'ping' }) : '',
      { localAddress: from },
    );
  return { gw, init, call };
}

describe('sessions per source', () => {
  it('refuses a source past sessions.maxPerSource with 429 naming the key, while another source still gets in', async () => {
    const { init, call } = await gateway({ maxPerSource: 3, ratePerSource: 0 });
    const mine: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await init();
      expect(res.status).toBe(200);
      mine.push(res.headers['mcp-session-id']);
    }
    const refused = await init();
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toBe('60');
    const error = JSON.parse(refused.body).error;
    expect(error.message).toMatch(/^Too Many Requests: 127\.0\.0\.1 already has 3 open sessions/);
    expect(error.message).toContain('raise sessions.maxPerSource');
    expect(error.data).toEqual({ limit: 'sessions.maxPerSource', retryAfter: 60 });
    // Another source is not affected, and the refused source's open sessions still work.
    expect((await init('127.0.0.2')).status).toBe(200);
    expect(JSON.parse((await call(mine[0], 'POST')).body)).toEqual({ jsonrpc: '2.0', id: 5, result: {} });
    // Ending one of its sessions gives the source its slot back.
    expect((await call(mine[0], 'DELETE')).status).toBe(200);
    expect((await init()).status).toBe(200);
    expect((await init()).status).toBe(429);
  });

  it('keys the source by the connection, not by headers a client can forge', async () => {
    const gw = await h.gateway({ sessions: { maxPerSource: 1, ratePerSource: 0 }, upstreams: {} });
    const port = Number(new URL(gw.url).port);
    const statuses: number[] = [];
    for (const forged of ['10.0.0.1', '10.0.0.2', '2001:db8::1']) {
      const res = await rawRequest(
        port,
        `POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\nx-forwarded-for: ${forged}\r\nx-real-ip: ${forged}\r\nforwarded: for=${forged}`,
        INIT_BODY,
      );
      statuses.push(res.status);
    }
    expect(statuses).toEqual([200, 429, 429]);
  });

  it('frees a source slot when a session expires idle', async () => {
    const { init } = await gateway({ maxPerSource: 2, ratePerSource: 0, idleTimeout: '100ms' });
    expect((await init()).status).toBe(200);
    expect((await init()).status).toBe(200);
    expect((await init()).status).toBe(429);
    await new Promise((r) => setTimeout(r, 1300)); // the sweeper runs every second at the least
    expect((await init()).status).toBe(200);
  });

  it('refuses a source past sessions.ratePerSource with 429 and Retry-After; closing sessions does not refill it', async () => {
    const { init, call } = await gateway({ maxPerSource: 1000, ratePerSource: 5 });
    const opened: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await init();
      expect(res.status).toBe(200);
      opened.push(res.headers['mcp-session-id']);
    }
    const refused = await init();
    expect(refused.status).toBe(429);
    const error = JSON.parse(refused.body).error;
    expect(error.message).toMatch(/opened more than 5 sessions in a minute \(sessions\.ratePerSource\)/);
    expect(error.data.limit).toBe('sessions.ratePerSource');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(12);
    for (const sid of opened) expect((await call(sid, 'DELETE')).status).toBe(200);
    expect((await init()).status).toBe(429);
    expect((await init('127.0.0.2')).status).toBe(200);
  });

  it('answers the global cap with 503 naming sessions.max, whichever source asks', async () => {
    const { init } = await gateway({ max: 3, maxPerSource: 2, ratePerSource: 0 });
    expect((await init()).status).toBe(200);
    expect((await init()).status).toBe(200);
    expect((await init('127.0.0.2')).status).toBe(200);
    const full = await init('127.0.0.3');
    expect(full.status).toBe(503);
    expect(JSON.parse(full.body).error.message).toMatch(/too many open sessions \(sessions\.max\)/);
  });

  it('gives back the rate token when the global cap refuses the session', () => {
    const limits = new SourceLimits({ maxPerSource: 10, ratePerMinute: 1 });
    const use = limits.admit('a', 0);
    limits.refund(use);
    expect(() => limits.admit('a', 0)).not.toThrow();
    expect(() => limits.admit('a', 0)).toThrow(/sessions\.ratePerSource/);
    // A minute later the bucket is full again.
    expect(() => limits.admit('a', 60_000)).not.toThrow();
  });
});

describe('addressSource', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:ffff::1', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002::9', '2001:db8:1:2::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1', 'fe80:0:0:0::/64'],
    [undefined, 'unknown'],
  ])('keys %s as %s (one host cannot spread itself over its /64)', (address, key) => {
    expect(addressSource(address)).toBe(key);
  });
});
