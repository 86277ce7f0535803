// Issue 8 point 6 (time): progress restarts a call's timeout, but a call that keeps reporting progress still
// ends at its upstream's maximum total time (maxTimeout), with an error naming the key; the upstream is told
// to cancel, and the connection keeps serving.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ROOT, TSX } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';

const h = useHarness();
const RAW = path.join(ROOT, 'test/fixtures/servers/d-raw-server.ts');
const raw = (options: Record<string, unknown> = {}) => ({
  command: process.execPath,
  args: ['--import', TSX, RAW],
  ...options,
});
const text = (result: unknown) => (result as { content: { text: string }[] }).content[0].text;

/** Calls progress_forever with a progress token; resolves with how it ended, when, and how much progress came. */
async function progressForever(client: Client, name = 'raw__progress_forever') {
  let progress = 0;
  const started = Date.now();
  const error = await client
    .callTool({ name, arguments: { everyMs: 50 } }, undefined, {
      onprogress: () => progress++,
      timeout: 60_000,
      resetTimeoutOnProgress: true,
    })
    .then(
      () => undefined,
      (e: { code: number; message: string }) => e,
    );
  return { error, elapsed: Date.now() - started, progress };
}

describe('maxTimeout bounds the total time of a call', () => {
  it('a call that reports progress forever ends at maxTimeout, though each progress restarted the timeout', async () => {
    const gw = await h.gateway({ upstreams: { raw: raw({ timeout: '300ms', maxTimeout: '1500ms' }) } });
    const client = await h.client(gw);
    const { error, elapsed, progress } = await progressForever(client);
    expect(error).toMatchObject({
      code: -32001,
      message:
        'MCP error -32001: Upstream request timed out: the call to upstream "raw" ran for its maximum total time of 1500 ms (maxTimeout); progress does not extend a call past it',
    });
    // It outlived its 300 ms timeout thanks to progress, and ended at the deadline, not later.
    expect(progress).toBeGreaterThan(10);
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(4000);
    // The upstream was told to stop, and the same connection still answers.
    const stats = JSON.parse(text(await client.callTool({ name: 'raw__stats', arguments: {} })));
    expect(stats.cancelled).toBe(1);
    expect(text(await client.callTool({ name: 'raw__echo', arguments: { text: 'ok' } }))).toBe('ok');
  });

  it('defaults.maxTimeout applies to upstreams without their own, and an upstream may set a longer one', async () => {
    const gw = await h.gateway({
      defaults: { timeout: '300ms', maxTimeout: '1s' },
      upstreams: { raw: raw(), patient: raw({ maxTimeout: '3s' }) },
    });
    const client = await h.client(gw);
    const [short, long] = await Promise.all([
      progressForever(client),
      progressForever(client, 'patient__progress_forever'),
    ]);
    expect(short.error?.message).toContain('maximum total time of 1000 ms (maxTimeout)');
    expect(short.elapsed).toBeLessThan(2500);
    expect(long.error?.message).toContain('upstream "patient" ran for its maximum total time of 3000 ms');
    expect(long.elapsed).toBeGreaterThanOrEqual(2900);
  });

  it('without progress, a maxTimeout below the timeout still caps the call', async () => {
    const gw = await h.gateway({ upstreams: { raw: raw({ timeout: '20s', maxTimeout: '500ms' }) } });
    const client = await h.client(gw);
    const started = Date.now();
    await expect(
      client.callTool({ name: 'raw__hang', arguments: {} }, undefined, { timeout: 60_000 }),
    ).rejects.toMatchObject({ code: -32001 });
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('a call with a progress token that finishes before maxTimeout is answered normally', async () => {
    const gw = await h.gateway({ upstreams: { raw: raw({ timeout: '300ms', maxTimeout: '5s' }) } });
    const client = await h.client(gw);
    // onprogress makes the client send a progress token, so the gateway arms its own timers.
    const result = await client.callTool({ name: 'raw__echo', arguments: { text: 'quick' } }, undefined, {
      onprogress: () => undefined,
    });
    expect(text(result)).toBe('quick');
  });
});
