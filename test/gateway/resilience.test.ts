// Broken upstreams: down at start, crashing, hanging or writing garbage are reported and contained, and the
// gateway keeps serving everyone else.
import { describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { basicStdio, waitFor, type RunningGateway } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';

const h = useHarness();

async function setup(upstreams: Record<string, unknown>): Promise<{ gw: RunningGateway; client: Client }> {
  const gw = await h.gateway({ upstreams });
  const client = await h.client(gw);
  return { gw, client };
}

const toolNames = async (client: Client) => (await client.listTools()).tools.map((t) => t.name);

describe('broken upstreams', () => {
  it('serves the healthy upstreams when others are down at start, and reports why', async () => {
    const { gw, client } = await setup({
      good: basicStdio('good'),
      missing: { command: '/nonexistent/binary' },
      unreachable: { url: 'http://127.0.0.1:9/mcp', timeout: '2s' },
    });
    const names = await toolNames(client);
    expect(names).toContain('good__echo');
    expect(names.some((n) => n.startsWith('missing__') || n.startsWith('unreachable__'))).toBe(false);
    const state = gw.app.runtime.readiness().upstreams;
    expect(state.missing).toMatchObject({
      state: 'down',
      error: expect.stringContaining('/nonexistent/binary'),
    });
    expect(state.unreachable).toMatchObject({ state: 'down', error: expect.any(String) });
    expect((await client.callTool({ name: 'good__whoami', arguments: {} })).content).toEqual([
      { type: 'text', text: 'good' },
    ]);
  });

  it('fails the pending call of a crashed upstream at once, hides its items, restarts it, and keeps the others working', async () => {
    const { gw, client } = await setup({ flaky: basicStdio('flaky'), steady: basicStdio('steady') });
    await expect(client.callTool({ name: 'flaky__crash', arguments: {} })).rejects.toMatchObject({
      code: -32603,
    });
    const flaky = gw.app.runtime.upstream('flaky')!;
    expect(['down', 'ready']).toContain(flaky.state);
    expect((await client.callTool({ name: 'steady__whoami', arguments: {} })).content).toEqual([
      { type: 'text', text: 'steady' },
    ]);
    await waitFor(() => flaky.state === 'ready' && flaky.catalog.tools.length > 0, 15_000);
    expect(await toolNames(client)).toContain('flaky__echo');
    expect((await client.callTool({ name: 'flaky__whoami', arguments: {} })).content).toEqual([
      { type: 'text', text: 'flaky' },
    ]);
  });

  it('times out a hanging call with a timeout error and cancels it upstream', async () => {
    const { client } = await setup({ slow: { ...basicStdio('slow'), timeout: '300ms' } });
    await expect(client.callTool({ name: 'slow__hang', arguments: {} })).rejects.toMatchObject({
      code: -32001,
    });
    await waitFor(async () => true);
    const count = await client.callTool({ name: 'slow__cancellations', arguments: {} });
    expect(count.content).toEqual([{ type: 'text', text: '1' }]);
  });

  it('drops stdout lines that are not JSON-RPC and still answers', async () => {
    const { client } = await setup({ noisy: basicStdio('noisy') });
    const result = await client.callTool({ name: 'noisy__garbage', arguments: {} });
    expect(result.content).toEqual([{ type: 'text', text: 'after garbage' }]);
    expect(
      (await client.callTool({ name: 'noisy__echo', arguments: { text: 'still fine' } })).content,
    ).toEqual([{ type: 'text', text: 'still fine' }]);
  });

  it('cancels the upstream call when the client cancels', async () => {
    const { client } = await setup({ c: basicStdio('c') });
    const controller = new AbortController();
    const call = client.callTool({ name: 'c__hang', arguments: {} }, undefined, {
      signal: controller.signal,
    });
    await new Promise((r) => setTimeout(r, 300));
    controller.abort('user pressed stop');
    await expect(call).rejects.toThrow();
    await waitFor(() => true);
    let seen = '0';
    for (let i = 0; i < 40 && seen !== '1'; i++) {
      const count = await client.callTool({ name: 'c__cancellations', arguments: {} });
      seen = (count.content as any)[0].text;
      if (seen !== '1') await new Promise((r) => setTimeout(r, 50));
    }
    expect(seen).toBe('1');
  });
});
