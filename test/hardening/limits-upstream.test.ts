// Issue 8 point 5 (upstream part): what an upstream sends is size-capped while it is read. An overlong or
// never-ending stdio line resets that upstream (its calls fail saying why; it comes back with backoff); an
// oversized result fails only its call, over stdio and over HTTP (JSON body, SSE event, GET stream event).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { parseConfig } from '../../src/gateway/config.js';
import { basicStdio, ROOT, TSX, waitFor } from '../helpers/gateway.js';
import { isAlive, makeTempDir, useHarness } from '../helpers/harness.js';

const h = useHarness();
const RAW = path.join(ROOT, 'test/fixtures/servers/d-raw-server.ts');
const HTTP = path.join(ROOT, 'test/fixtures/servers/d-http-server.ts');
const MiB = 1024 * 1024;
const dir = makeTempDir('switchboard-limits-');

const raw = (extra: string[] = []) => ({ command: process.execPath, args: ['--import', TSX, RAW, ...extra] });
const text = (result: unknown) => (result as { content: { text: string }[] }).content[0].text;
const call = (client: Client, name: string, args: Record<string, unknown> = {}) =>
  client.callTool({ name, arguments: args });

/** Calls until the tool answers (an upstream coming back after a reset), or fails after `ms`. */
async function untilAnswers(client: Client, name: string, args: Record<string, unknown>, ms = 15_000) {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await call(client, name, args);
    } catch (error) {
      if (Date.now() > until) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function httpFixture(extra: string[] = []): Promise<string> {
  const child = spawn(process.execPath, ['--import', TSX, HTTP, ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  h.defer(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let seen = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (seen += chunk));
  return waitFor(() => /listening on (\S+)/.exec(seen)?.[1], 20_000);
}

describe('stdio upstream lines are capped (maxLineBytes)', () => {
  it('an overlong line fails every pending call of that upstream with a clear error, the others keep serving, and it comes back', async () => {
    const starts = path.join(dir, 'starts-overlong');
    const gw = await h.gateway({
      upstreams: { raw: { ...raw(['--starts', starts]), maxLineBytes: MiB }, basic: basicStdio('b') },
    });
    const client = await h.client(gw);
    const firstPid = Number(readFileSync(starts, 'utf8').trim());
    const pending = call(client, 'raw__hang');
    const huge = call(client, 'raw__huge_line', { bytes: 2 * MiB });
    const message = `upstream "raw" sent a line longer than ${MiB} bytes (maxLineBytes); its connection was reset`;
    await Promise.all(
      [huge, pending].map((failing) =>
        expect(failing).rejects.toMatchObject({ code: -32603, message: `MCP error -32603: ${message}` }),
      ),
    );
    // The other upstream never noticed; another client is unaffected.
    expect(text(await call(client, 'basic__echo', { text: 'still here' }))).toBe('still here');
    const other = await h.client(gw);
    expect(text(await call(other, 'basic__echo', { text: 'me too' }))).toBe('me too');
    // /readyz says why the upstream is down until it is back.
    const ready = await (await fetch(gw.url.replace(/\/mcp$/, '/readyz'))).json();
    if (ready.upstreams.raw.state === 'down') expect(ready.upstreams.raw.error).toBe(message);
    // The whole process was ended and a new one started with the usual backoff.
    expect(text(await untilAnswers(client, 'raw__echo', { text: 'back' }))).toBe('back');
    await waitFor(() => !isAlive(firstPid));
    expect(readFileSync(starts, 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it('a line that never ends is cut off at the cap instead of being buffered without limit', async () => {
    const gw = await h.gateway({
      upstreams: { raw: { ...raw(), maxLineBytes: 4 * MiB, timeout: '30s' }, basic: basicStdio('b') },
    });
    const client = await h.client(gw);
    const started = Date.now();
    await expect(call(client, 'raw__endless_line')).rejects.toThrow(
      `upstream "raw" sent a line longer than ${4 * MiB} bytes (maxLineBytes)`,
    );
    // Cut off as soon as the cap is passed, not at the 30 s call timeout.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(text(await call(client, 'basic__echo', { text: 'up' }))).toBe('up');
    expect(text(await untilAnswers(client, 'raw__echo', { text: 'back' }))).toBe('back');
  });

  it('lines up to the cap, arriving in many pipe reads, still pass', async () => {
    const gw = await h.gateway({ upstreams: { raw: { ...raw(), maxLineBytes: MiB } } });
    const client = await h.client(gw);
    // A result of 900 KB plus its envelope fits under 1 MiB.
    const result = await call(client, 'raw__huge_line', { bytes: 900 * 1024 });
    expect(text(result)).toHaveLength(900 * 1024);
  });
});

describe('upstream results are capped (maxResultBytes)', () => {
  it('a stdio result over the cap fails only that call; the same process keeps serving', async () => {
    const gw = await h.gateway({ upstreams: { raw: { ...raw(), maxResultBytes: 256 * 1024 } } });
    const client = await h.client(gw);
    const before = JSON.parse(text(await call(client, 'raw__stats'))).pid;
    await expect(call(client, 'raw__big_result', { bytes: 300 * 1024 })).rejects.toMatchObject({
      code: -32603,
      message: `MCP error -32603: upstream "raw" answered with a result larger than ${256 * 1024} bytes (maxResultBytes)`,
    });
    expect(text(await call(client, 'raw__big_result', { bytes: 200 * 1024 }))).toHaveLength(200 * 1024);
    expect(JSON.parse(text(await call(client, 'raw__stats'))).pid).toBe(before);
  });

  it('defaults.maxResultBytes applies to every upstream that does not set its own', async () => {
    const gw = await h.gateway({
      defaults: { maxResultBytes: 100_000 },
      upstreams: { raw: raw(), roomy: { ...raw(), maxResultBytes: 1_000_000 } },
    });
    const client = await h.client(gw);
    await expect(call(client, 'raw__big_result', { bytes: 150_000 })).rejects.toThrow(
      'upstream "raw" answered with a result larger than 100000 bytes (maxResultBytes)',
    );
    expect(text(await call(client, 'roomy__big_result', { bytes: 150_000 }))).toHaveLength(150_000);
  });

  it('an HTTP JSON body, an SSE event and a never-ending SSE line over the cap each fail their call; the upstream stays up', async () => {
    const url = await httpFixture();
    const gw = await h.gateway({
      upstreams: { web: { url, maxResultBytes: MiB }, basic: basicStdio('b') },
    });
    const client = await h.client(gw);
    const error = `upstream "web" answered with more than ${MiB} bytes (maxResultBytes)`;
    for (const tool of ['web__huge_json', 'web__huge_sse', 'web__endless_sse']) {
      await expect(call(client, tool, { bytes: 3 * MiB }), tool).rejects.toMatchObject({
        code: -32603,
        message: `MCP error -32603: ${error}`,
      });
      expect(text(await call(client, 'web__echo', { text: tool }))).toBe(tool);
    }
    // Under the cap, the same tools answer.
    expect(text(await call(client, 'web__huge_json', { bytes: 500_000 }))).toHaveLength(500_000);
    expect(text(await call(client, 'web__huge_sse', { bytes: 500_000 }))).toHaveLength(500_000);
    expect(text(await call(client, 'basic__echo', { text: 'fine' }))).toBe('fine');
  });

  it('an oversized event on the GET stream is dropped and the stream reopened; calls keep working', async () => {
    const url = await httpFixture(['--get-huge', String(2 * MiB)]);
    const gw = await h.gateway({ upstreams: { web: { url, maxResultBytes: MiB } } });
    const client = await h.client(gw);
    // The gateway drops the stream at the cap and opens it again (each time the event is too big again).
    const until = Date.now() + 10_000;
    let gets = 0;
    while (gets < 2 && Date.now() < until) {
      gets = JSON.parse(text(await call(client, 'web__stats'))).gets;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(gets).toBeGreaterThanOrEqual(2);
    expect(text(await call(client, 'web__echo', { text: 'ok' }))).toBe('ok');
  });
});

describe('limit config keys', () => {
  it('have defaults in the tens of MiB and ten minutes', () => {
    const config = parseConfig({ upstreams: {} });
    expect(config.defaults).toMatchObject({
      maxLineBytes: 32 * MiB,
      maxResultBytes: 32 * MiB,
      maxTimeout: 600_000,
    });
    expect(config.sessions).toMatchObject({
      maxUpstreamConnections: 100,
      maxUpstreamConnectionsPerSource: 10,
    });
  });

  it('refuses a cap that is not a positive whole number of bytes', () => {
    expect(() => parseConfig({ upstreams: { a: { command: 'x', maxLineBytes: 0 } } })).toThrow(
      /upstreams\.a\.maxLineBytes/,
    );
    expect(() => parseConfig({ defaults: { maxResultBytes: '1MB' }, upstreams: {} })).toThrow(
      /defaults\.maxResultBytes/,
    );
  });
});
