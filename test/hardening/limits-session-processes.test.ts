// Issue 8 point 6 (processes): `scope: session` upstreams start a connection (for stdio, a process) per client
// session, so live ones are capped per source (client address) and in total, with an error naming the limit;
// a session that ends gives its slot back, and sessions already served keep working.
import { describe, expect, it } from 'vitest';
import { basicStdio, waitFor } from '../helpers/gateway.js';
import { isAlive, useHarness } from '../helpers/harness.js';
import { INIT_BODY, rawRequest } from './raw-http.js';

const h = useHarness();

/** A client over raw HTTP from a chosen loopback address (a second source is 127.0.0.2). */
async function rawClient(port: number, from: string) {
  const head = (sid?: string) =>
    `POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream${sid ? `\r\nmcp-session-id: ${sid}` : ''}`;
  const init = await rawRequest(port, head(), INIT_BODY, { localAddress: from });
  const sid = init.headers['mcp-session-id'];
  await rawRequest(port, head(sid), JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), {
    localAddress: from,
  });
  let id = 10;
  return {
    sid,
    /** tools/call; resolves with the JSON-RPC answer (result or error). */
    async call(
      name: string,
    ): Promise<{ result?: any; error?: { code: number; message: string; data?: any } }> {
      const body = JSON.stringify({
        jsonrpc: '2.0',
        id: id++,
        method: 'tools/call',
        params: { name, arguments: {} },
      });
      const res = await rawRequest(port, head(sid), body, { localAddress: from, timeoutMs: 30_000 });
      const text = res.headers['content-type']?.includes('text/event-stream')
        ? res.body
            .split('\n')
            .find((l) => l.startsWith('data: '))!
            .slice(6)
        : res.body;
      return JSON.parse(text);
    },
    end: () =>
      rawRequest(port, `DELETE /mcp HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nmcp-session-id: ${sid}`, '', {
        localAddress: from,
      }),
  };
}

async function gateway(sessions: Record<string, unknown>) {
  const gw = await h.gateway({
    sessions,
    upstreams: { mine: { ...basicStdio('per-session'), scope: 'session' }, shared: basicStdio('shared') },
  });
  return { gw, port: Number(new URL(gw.url).port) };
}

const pidOf = (answer: { result?: any }) => Number(answer.result.content[0].text);

describe('scope: session processes are capped', () => {
  it('per source: past sessions.maxUpstreamConnectionsPerSource a call is refused by name, other sources and shared upstreams still work', async () => {
    const { port } = await gateway({ maxUpstreamConnections: 10, maxUpstreamConnectionsPerSource: 2 });
    const first = await rawClient(port, '127.0.0.1');
    const second = await rawClient(port, '127.0.0.1');
    const third = await rawClient(port, '127.0.0.1');
    const firstPid = pidOf(await first.call('mine__pid'));
    expect(pidOf(await second.call('mine__pid'))).not.toBe(firstPid);
    const refused = await third.call('mine__pid');
    expect(refused.error).toMatchObject({
      code: -32000,
      message:
        'upstream "mine" (scope: session) cannot start another connection for 127.0.0.1: it already holds 2, the most one source may (sessions.maxUpstreamConnectionsPerSource); close other sessions first',
      data: { limit: 'sessions.maxUpstreamConnectionsPerSource' },
    });
    // The refused session still reaches shared upstreams; the served ones keep their processes.
    expect((await third.call('shared__whoami')).result.content[0].text).toBe('shared');
    expect(pidOf(await first.call('mine__pid'))).toBe(firstPid);
    // Another source is not held back by this one.
    const elsewhere = await rawClient(port, '127.0.0.2');
    expect(pidOf(await elsewhere.call('mine__pid'))).toBeGreaterThan(0);
    // Ending a session ends its process and frees its slot.
    expect((await first.end()).status).toBe(200);
    await waitFor(() => !isAlive(firstPid));
    // The slot comes back once the process's pipes have closed, a moment after it exits.
    const deadline = Date.now() + 10_000;
    let answer = await third.call('mine__pid');
    while (answer.error && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      answer = await third.call('mine__pid');
    }
    expect(pidOf(answer)).toBeGreaterThan(0);
  });

  it('in total: past sessions.maxUpstreamConnections a call is refused by name, whatever the source', async () => {
    const { port } = await gateway({ maxUpstreamConnections: 2, maxUpstreamConnectionsPerSource: 10 });
    const a = await rawClient(port, '127.0.0.1');
    const b = await rawClient(port, '127.0.0.2');
    const c = await rawClient(port, '127.0.0.3');
    expect((await a.call('mine__whoami')).result).toBeDefined();
    expect((await b.call('mine__whoami')).result).toBeDefined();
    const refused = await c.call('mine__whoami');
    expect(refused.error).toMatchObject({
      code: -32000,
      message:
        'upstream "mine" (scope: session) cannot start another connection: the gateway already holds 2, its limit (sessions.maxUpstreamConnections)',
    });
    expect((await a.call('mine__whoami')).result.content[0].text).toBe('per-session');
  });

  it('a per-session process that crashes gives its slot back', async () => {
    const { port } = await gateway({ maxUpstreamConnections: 1, maxUpstreamConnectionsPerSource: 1 });
    const a = await rawClient(port, '127.0.0.1');
    const pid = pidOf(await a.call('mine__pid'));
    expect((await a.call('mine__crash')).error).toBeDefined();
    await waitFor(() => !isAlive(pid));
    // Its own next call starts a new process within the same budget.
    const next = await a.call('mine__pid');
    expect(pidOf(next)).not.toBe(pid);
  });
});
