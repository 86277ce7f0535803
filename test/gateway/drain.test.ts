// Graceful drain of a real `serve` process (drain.ts): on SIGTERM /readyz turns 503, a new session is refused
// with 503, the open sessions are still served and their calls in flight finish, GET streams end cleanly, the
// upstreams stop and the process exits 0; a call that outlives shutdown.drainTimeout is cut with a clear error;
// a second SIGTERM stops at once.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { McpError, CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { basicStdio, connectClient, ROOT, TSX, waitFor } from '../helpers/gateway.js';
import { isAlive, makeTempDir, useHarness } from '../helpers/harness.js';

const h = useHarness();
const SLOW_SERVER = path.join(ROOT, 'test/fixtures/servers/slow-server.ts');
const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

interface Served {
  child: ChildProcess;
  /** http://127.0.0.1:PORT */
  base: string;
  exited: Promise<number | null>;
}

/** `switchboard serve` in a process of its own, with a basic and a slow upstream; resolves once it is ready. */
async function serve(drainTimeout: string): Promise<Served> {
  const dir = makeTempDir('drain-');
  const config = path.join(dir, 'gateway.json');
  writeFileSync(
    config,
    JSON.stringify({
      upstreams: {
        basic: basicStdio('basic'),
        slow: { command: process.execPath, args: ['--import', TSX, SLOW_SERVER] },
      },
      shutdown: { drainTimeout },
      logging: { level: 'warn' },
    }),
  );
  const child = spawn(
    process.execPath,
    ['--import', TSX, path.join(ROOT, 'src/cli.ts'), 'serve', '--config', config, '--port', '0'],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  h.defer(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const listening = await waitFor(() => /listening on (\S+)\/mcp/.exec(stderr)?.[1], 30_000);
  const base = listening.replace('0.0.0.0', '127.0.0.1');
  for (let tries = 0; (await fetch(`${base}/readyz`)).status !== 200; tries++) {
    if (tries > 400) throw new Error(`never ready: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, base, exited };
}

async function client(base: string, capabilities = {}) {
  const c = await connectClient(`${base}/mcp`, capabilities);
  h.defer(() => c.close());
  return c;
}

const initialize = (id = 1) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  });

/** A raw session with its GET stream open; `ended` says how the stream ended: 'clean' or the error. */
async function openGetStream(base: string): Promise<{ ended: Promise<string> }> {
  const init = await fetch(`${base}/mcp`, { method: 'POST', headers: HEADERS, body: initialize() });
  expect(init.status).toBe(200);
  const session = init.headers.get('mcp-session-id')!;
  await init.text();
  const headers = { ...HEADERS, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' };
  const body = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });
  expect((await fetch(`${base}/mcp`, { method: 'POST', headers, body })).status).toBe(202);
  const stream = await fetch(`${base}/mcp`, { headers: { ...headers, accept: 'text/event-stream' } });
  expect(stream.status).toBe(200);
  const reader = stream.body!.getReader();
  await reader.read(); // ": stream open"
  const ended = (async () => {
    try {
      while (!(await reader.read()).done);
      return 'clean';
    } catch (error) {
      return `failed: ${(error as Error).message}`;
    }
  })();
  return { ended };
}

/** Waits for /readyz to answer 503 (the drain has begun); returns its body. */
async function untilDraining(base: string): Promise<unknown> {
  for (let tries = 0; ; tries++) {
    const answer = await fetch(`${base}/readyz`);
    if (answer.status === 503) return answer.json();
    if (tries > 200) throw new Error('/readyz never turned 503');
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('graceful drain (serve, SIGTERM)', () => {
  it('refuses new sessions, serves the open ones, finishes the call in flight, then exits 0', async () => {
    const gw = await serve('20s');
    // The slow call: a tool that asks this client to sample, and this client answers only when told to.
    let answerSampling!: () => void;
    const released = new Promise<void>((resolve) => (answerSampling = resolve));
    let sampling!: () => void;
    const asked = new Promise<void>((resolve) => (sampling = resolve));
    const slowClient = await client(gw.base, { sampling: {} });
    slowClient.setRequestHandler(CreateMessageRequestSchema, async () => {
      sampling();
      await released;
      return { model: 'test', role: 'assistant', content: { type: 'text', text: 'late answer' } };
    });
    const other = await client(gw.base);
    const upstreamPid = Number(
      ((await other.callTool({ name: 'basic__pid' })).content as { text: string }[])[0].text,
    );
    const stream = await openGetStream(gw.base);
    const slowCall = slowClient.callTool({ name: 'basic__sample', arguments: { prompt: 'hi' } });
    await asked;

    const signalled = Date.now();
    gw.child.kill('SIGTERM');
    expect(await untilDraining(gw.base)).toMatchObject({ ready: false, draining: true });
    // A new session is refused, with a message that says why.
    const refused = await fetch(`${gw.base}/mcp`, { method: 'POST', headers: HEADERS, body: initialize(7) });
    expect(refused.status).toBe(503);
    const error = ((await refused.json()) as { error: { code: number; message: string } }).error;
    expect(error.code).toBe(-32000);
    expect(error.message).toMatch(/shutting down \(draining\) and opens no new sessions/);
    await expect(client(gw.base)).rejects.toThrow(/shutting down \(draining\)/);
    // The open sessions are still served while the call in flight runs.
    const echoed = await other.callTool({ name: 'basic__echo', arguments: { text: 'still here' } });
    expect(JSON.stringify(echoed.content)).toContain('still here');
    expect(gw.child.exitCode).toBeNull();

    answerSampling();
    const result = await slowCall;
    expect(result.isError).toBeFalsy();
    expect(JSON.stringify(result.content)).toContain('sampled: late answer');
    // Then the GET stream ends cleanly (its client may reconnect elsewhere), upstreams stop, the process exits 0.
    expect(await stream.ended).toBe('clean');
    expect(await gw.exited).toBe(0);
    // Once the call was done, not at the end of the 20 s drain timeout.
    expect(Date.now() - signalled).toBeLessThan(20_000);
    await waitFor(() => !isAlive(upstreamPid), 10_000);
  }, 60_000);

  it('cuts a call that outlives shutdown.drainTimeout with a clear error, and still exits 0', async () => {
    const gw = await serve('1s');
    const c = await client(gw.base);
    let started!: () => void;
    const upstreamHasIt = new Promise<void>((resolve) => (started = resolve));
    // `wait` answers only when cancelled; its progress says it reached the upstream.
    const call = c.callTool({ name: 'slow__wait' }, undefined, { onprogress: () => started() });
    await upstreamHasIt;

    const signalled = Date.now();
    gw.child.kill('SIGTERM');
    const error = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).code).toBe(-32000);
    expect((error as McpError).message).toMatch(
      /shut down before this call finished \(shutdown\.drainTimeout, 1s, passed\); retry it/,
    );
    // Cut at the drain timeout, not before: the drain did wait for it.
    expect(Date.now() - signalled).toBeGreaterThanOrEqual(900);
    expect(await gw.exited).toBe(0);
  }, 60_000);

  it('a second SIGTERM during the drain stops at once', async () => {
    const gw = await serve('10m');
    const c = await client(gw.base);
    let started!: () => void;
    const upstreamHasIt = new Promise<void>((resolve) => (started = resolve));
    const call = c.callTool({ name: 'slow__wait' }, undefined, { onprogress: () => started() });
    await upstreamHasIt;

    gw.child.kill('SIGTERM');
    await untilDraining(gw.base);
    gw.child.kill('SIGTERM');
    // Within the test's own timeout, far below the ten minutes the drain would otherwise wait.
    await expect(call).rejects.toThrow(
      /stopped \(a second signal during its drain\) before this call finished/,
    );
    expect(await gw.exited).toBe(0);
  }, 60_000);
});
