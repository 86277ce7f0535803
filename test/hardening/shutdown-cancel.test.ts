// Shutdown after client cancellations (found by the soak): every POST gets an HTTP answer when its call is
// cancelled, and closing the gateway (or SIGTERM to `serve`) is prompt even when a client left behind a
// connection that never carried a request, or a call is still waiting for its per-session upstream to start.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  basicStdio,
  connectClient,
  ROOT,
  startGateway,
  waitFor,
  type RunningGateway,
} from '../helpers/gateway.js';
import { makeTempDir } from '../helpers/harness.js';

const open: { close(): Promise<void> }[] = [];
const sockets: net.Socket[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.all(open.splice(0).map((o) => o.close().catch(() => {})));
});

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** A raw session: what an SDK client does, minus the SDK, so each POST's HTTP answer can be watched. */
async function rawSession(url: string, capabilities: object = {}) {
  const init = await fetch(url, {
    method: 'POST',
    headers: HEADERS,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities, clientInfo: { name: 'raw', version: '1' } },
    }),
  });
  await init.text();
  const id = init.headers.get('mcp-session-id')!;
  const post = (message: object) =>
    fetch(url, {
      method: 'POST',
      headers: { ...HEADERS, 'mcp-session-id': id },
      body: JSON.stringify({ jsonrpc: '2.0', ...message }),
    });
  (await post({ method: 'notifications/initialized' })).body?.cancel();
  return { id, post };
}

/** A connection that never sends a request: what a client leaves behind when it aborts a request before
 * writing it (the SDK client does, closing right after a cancellation). */
async function bareConnection(url: string): Promise<net.Socket> {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return socket;
}

/** How long closing takes; fails (rather than hanging the run) past `limitMs`. */
async function timedClose(gateway: RunningGateway, limitMs: number): Promise<number> {
  const start = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    gateway.close().then(() => true),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), limitMs))),
  ]);
  clearTimeout(timer);
  expect(closed, `the gateway did not close within ${limitMs} ms`).toBe(true);
  return Date.now() - start;
}

/** The session's call with this id has reached its upstream (it is in flight on a connection). */
function inFlight(gateway: RunningGateway, sessionId: string, requestId: number) {
  return () =>
    gateway.app.runtime.sessions.get(sessionId)?.inflight?.find((e) => e.requestId === requestId)?.connection;
}

describe('closing the gateway after cancelled calls', () => {
  it('answers a cancelled POST with 202 at once, keeps serving others, and then closes promptly', async () => {
    const gateway = await startGateway({ upstreams: { a: basicStdio('a') } });
    open.push(gateway);
    const { id, post } = await rawSession(gateway.url);
    const call = post({ id: 7, method: 'tools/call', params: { name: 'a__hang', arguments: {} } });
    await waitFor(inFlight(gateway, id, 7));
    const cancel = await post({ method: 'notifications/cancelled', params: { requestId: 7 } });
    expect(cancel.status).toBe(202);
    const answer = await call;
    expect(answer.status).toBe(202);
    expect(await answer.text()).toBe('');

    const other = await connectClient(gateway.url);
    open.push(other);
    expect(await other.callTool({ name: 'a__echo', arguments: { text: 'still here' } })).toMatchObject({
      content: [{ type: 'text', text: expect.stringContaining('still here') }],
    });
    await other.close();
    await bareConnection(gateway.url);
    expect(await timedClose(gateway, 3000)).toBeLessThan(3000);
  });

  it('ends a streamed POST (SSE) whose call is cancelled after a related message went out', async () => {
    const gateway = await startGateway({ upstreams: { a: basicStdio('a') } });
    open.push(gateway);
    const { id, post } = await rawSession(gateway.url, { sampling: {} });
    // `sample` asks the client first (so the answer switches to SSE), then waits for an answer never sent.
    const call = await post({ id: 3, method: 'tools/call', params: { name: 'a__sample', arguments: {} } });
    expect(call.headers.get('content-type')).toBe('text/event-stream');
    const body = call.text();
    await waitFor(inFlight(gateway, id, 3));
    (await post({ method: 'notifications/cancelled', params: { requestId: 3 } })).body?.cancel();
    const text = await body;
    expect(text).toContain('sampling/createMessage');
    expect(text).not.toContain('"id":3');
    expect(await timedClose(gateway, 3000)).toBeLessThan(3000);
  });

  it('is not held by a connection that never sent a request', async () => {
    const gateway = await startGateway({ upstreams: { a: basicStdio('a') } });
    open.push(gateway);
    const client = await connectClient(gateway.url);
    await client.callTool({ name: 'a__echo', arguments: { text: 'x' } });
    const bare = await bareConnection(gateway.url);
    // Half a request line too: a client cut off while writing is no different.
    const partial = await bareConnection(gateway.url);
    partial.write('POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    expect(await timedClose(gateway, 3000)).toBeLessThan(3000);
    await waitFor(() => bare.destroyed || bare.readableEnded, 2000);
    await client.close();
  });

  it('answers a call still waiting for its per-session upstream to start, and closes promptly', async () => {
    // The first start (the catalogue's connection) is quick; the per-session one then takes 30 s, so the
    // call waits on the start, not on a request upstream.
    const gateway = await startGateway({ upstreams: { a: basicStdio('a'), slow: slowSessionUpstream() } });
    open.push(gateway);
    const { id, post } = await rawSession(gateway.url);
    const call = post({ id: 5, method: 'tools/call', params: { name: 'slow__echo', arguments: {} } });
    await waitFor(() => gateway.app.runtime.sessions.get(id)?.inflight?.find((e) => e.requestId === 5));
    const elapsed = await timedClose(gateway, 5000);
    expect(elapsed).toBeLessThan(5000);
    const answer = await call;
    expect(answer.status).toBe(200);
    expect((await answer.json()).error).toMatchObject({ code: -32603 });
  }, 20_000);
});

describe('a call cancelled while its per-session upstream starts', () => {
  it('is answered with 202 at once, not when the start finishes, and the session still works', async () => {
    const gateway = await startGateway({ upstreams: { a: basicStdio('a'), slow: slowSessionUpstream() } });
    open.push(gateway);
    const { id, post } = await rawSession(gateway.url);
    const call = post({ id: 9, method: 'tools/call', params: { name: 'slow__echo', arguments: {} } });
    await waitFor(() => gateway.app.runtime.sessions.get(id)?.inflight?.find((e) => e.requestId === 9));
    const start = Date.now();
    (await post({ method: 'notifications/cancelled', params: { requestId: 9 } })).body?.cancel();
    const answer = await call;
    expect({ status: answer.status, fast: Date.now() - start < 2000 }).toEqual({ status: 202, fast: true });
    const echo = await post({
      id: 10,
      method: 'tools/call',
      params: { name: 'a__echo', arguments: { text: 'y' } },
    });
    expect(JSON.stringify(await echo.json())).toContain('y');
  }, 20_000);
});

describe('SIGTERM to `switchboard serve` after cancelled calls', () => {
  const CLI = path.join(ROOT, 'dist/cli.js');

  it('exits promptly with 0 after clients cancelled calls and left a bare connection behind', async () => {
    expect(existsSync(CLI), 'dist/ is missing: npm run build').toBe(true);
    const dir = makeTempDir('switchboard-shutdown-');
    const config = path.join(dir, 'gateway.json');
    writeFileSync(config, JSON.stringify({ upstreams: { a: basicStdio('a') } }));
    const child = spawn(process.execPath, [CLI, 'serve', '--config', config, '--port', '0'], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    const url = await waitFor(() => /listening on (\S+\/mcp)/.exec(stderr)?.[1], 20_000);
    for (let tries = 0; !(await fetch(new URL('/readyz', url))).ok; tries++) {
      expect(tries, 'the upstream did not get ready').toBeLessThan(200);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    // Two SDK clients, as in the soak: each cancels a hanging call, then leaves.
    const answered: number[] = [];
    for (let i = 0; i < 2; i++) {
      const client = new Client({ name: `c${i}`, version: '1' }, { capabilities: {} });
      await client.connect(new StreamableHTTPClientTransport(new URL(url)));
      const call = client.callTool({ name: 'a__hang', arguments: {} }, undefined, {
        signal: AbortSignal.timeout(300),
      });
      await expect(call).rejects.toThrow(/abort/i);
      const cancels = await client.callTool({ name: 'a__cancellations', arguments: {} });
      answered.push(Number((cancels.content as { text: string }[])[0].text));
      await (client.transport as StreamableHTTPClientTransport).terminateSession();
      await client.close();
    }
    expect(answered.at(-1)).toBeGreaterThanOrEqual(1);
    await bareConnection(url);

    const start = Date.now();
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', (exitCode) => resolve(exitCode));
      child.kill('SIGTERM');
    });
    expect({ code, fast: Date.now() - start < 5000 }).toEqual({ code: 0, fast: true });
  }, 40_000);
});

/**
 * A `scope: session` upstream whose first start (the catalogue's connection) is quick and every later one (a
 * client's own process) takes 30 s, so a call waits on the start, not on a request upstream.
 */
function slowSessionUpstream() {
  const started = path.join(makeTempDir('switchboard-slow-'), 'started');
  const slow = basicStdio('slow');
  return {
    command: '/bin/sh',
    args: [
      '-c',
      `if [ -e ${started} ]; then sleep 30; else : > ${started}; fi; exec "$0" "$@"`,
      slow.command,
      ...slow.args,
    ],
    scope: 'session',
    startTimeout: '60s',
  };
}
