// Issue 10 point 5: only a client's own messages keep its session alive. Upstream traffic looks sessions up
// (logs and notifications from a per-session or shared upstream) and must not keep an abandoned one open.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { INIT, rawPost, ROOT, TSX } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';

const h = useHarness();
const SLOW = path.join(ROOT, 'test/fixtures/servers/h-slow-start.ts');

/** A server that starts at once and sends a log message every 50 ms. */
const chatty = (label: string, scope: 'shared' | 'session') => ({
  command: process.execPath,
  args: ['--import', TSX, SLOW, '--label', label, '--delay', '0', '--tick-ms', '50'],
  scope,
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function openSession(url: string): Promise<(body: object) => ReturnType<typeof rawPost>> {
  const init = await rawPost(url, INIT);
  expect(init.status).toBe(200);
  const id = init.headers.get('mcp-session-id')!;
  const send = (body: object) => rawPost(url, JSON.stringify(body), { 'mcp-session-id': id });
  expect((await send({ jsonrpc: '2.0', method: 'notifications/initialized' })).status).toBe(202);
  return send;
}

describe('idle expiry counts client traffic only', () => {
  it('a session whose client went away expires while per-session and shared upstreams keep logging', async () => {
    const gw = await h.gateway({
      sessions: { idleTimeout: '1s' },
      upstreams: { mine: chatty('mine', 'session'), all: chatty('all', 'shared') },
    });
    const abandoned = await openSession(gw.url);
    // Ask for every log, and start this session's own upstream connection (it logs to this session only).
    const level = await abandoned({
      jsonrpc: '2.0',
      id: 2,
      method: 'logging/setLevel',
      params: { level: 'debug' },
    });
    expect(level.status).toBe(200);
    const call = await abandoned({
      jsonrpc: '2.0',
      id: 3,
      method: 'tools/call',
      params: { name: 'mine__hello', arguments: {} },
    });
    expect(call.text).toContain('hello from mine');

    // Two clients that stay: one sends requests, one only notifications.
    const pinger = await openSession(gw.url);
    const notifier = await openSession(gw.url);
    let stop = false;
    const keepAlive = (async () => {
      while (!stop) {
        await pinger({ jsonrpc: '2.0', id: 9, method: 'ping' });
        await notifier({ jsonrpc: '2.0', method: 'notifications/roots/list_changed' });
        await sleep(250);
      }
    })();
    // Idle timeout 1 s, swept every second: well past it, with 50 ms ticks from both upstreams all along.
    await sleep(3500);
    stop = true;
    await keepAlive;

    const gone = await abandoned({ jsonrpc: '2.0', id: 4, method: 'ping' });
    expect(gone.status).toBe(404);
    expect(gone.json.error.message).toBe('Session not found');
    // The clients that kept talking are still served.
    const alive = await pinger({ jsonrpc: '2.0', id: 10, method: 'ping' });
    expect(alive.json).toEqual({ jsonrpc: '2.0', id: 10, result: {} });
    const stillThere = await notifier({ jsonrpc: '2.0', id: 11, method: 'tools/list' });
    expect(stillThere.status).toBe(200);
    expect(stillThere.json.result.tools.map((t: { name: string }) => t.name)).toContain('all__hello');
  });
});
