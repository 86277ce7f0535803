// Issue 8 point 9 (floods): `*/list_changed` notices from an upstream are coalesced. However many arrive while
// a refetch runs, one follow-up refetch sees them all: a burst of 1,000 costs the upstream about two
// tools/list calls, clients hear of the change once or twice, and the gateway keeps answering meanwhile.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { basicStdio, ROOT, TSX, waitFor } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';

const h = useHarness();
const RAW = path.join(ROOT, 'test/fixtures/servers/d-raw-server.ts');
const text = (result: unknown) => (result as { content: { text: string }[] }).content[0].text;

async function setup() {
  const gw = await h.gateway({
    upstreams: { raw: { command: process.execPath, args: ['--import', TSX, RAW] }, other: basicStdio('o') },
  });
  const client = await h.client(gw);
  let notified = 0;
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => void notified++);
  // The GET stream carries notifications that belong to no request; give it a moment to open.
  await new Promise((r) => setTimeout(r, 300));
  return { gw, client, notifications: () => notified };
}

/** The upstream's tools/list count once it has stopped changing for a while (the refetches are over). */
async function settledListCalls(client: Client): Promise<number> {
  let last = -1;
  for (;;) {
    const now = JSON.parse(text(await client.callTool({ name: 'raw__stats', arguments: {} }))).listCalls;
    if (now === last) return now;
    last = now;
    await new Promise((r) => setTimeout(r, 500));
  }
}

describe('list_changed floods are coalesced', () => {
  it('a burst of 1,000 notices costs about two refetches and one or two client notices', async () => {
    const { client, notifications } = await setup();
    const before = await settledListCalls(client);
    expect(before).toBe(1);
    expect(text(await client.callTool({ name: 'raw__flood', arguments: { count: 1000 } }))).toBe(
      'flooded v1',
    );
    const after = await settledListCalls(client);
    expect(after - before).toBeGreaterThanOrEqual(1);
    expect(after - before).toBeLessThanOrEqual(2);
    await waitFor(() => notifications() > 0);
    expect(notifications()).toBeLessThanOrEqual(2);
    // The one refetch that counted saw the change.
    const tools = (await client.listTools()).tools;
    expect(tools.find((t) => t.name === 'raw__echo')?.description).toBe('echo v1');
  });

  it('the gateway keeps answering every client during floods, and repeated bursts stay bounded', async () => {
    const { gw, client } = await setup();
    const other = await h.client(gw);
    const floods = Array.from({ length: 5 }, () =>
      client.callTool({ name: 'raw__flood', arguments: { count: 2000 } }),
    );
    const started = Date.now();
    // Calls to another upstream and to the flooding one are answered while the notices pour in.
    for (let i = 0; i < 5; i++) {
      expect(text(await other.callTool({ name: 'other__echo', arguments: { text: `e${i}` } }))).toBe(`e${i}`);
      expect(text(await other.callTool({ name: 'raw__echo', arguments: { text: `r${i}` } }))).toBe(`r${i}`);
    }
    await Promise.all(floods);
    expect(Date.now() - started).toBeLessThan(10_000);
    // 10,000 notices in five bursts: at most two refetches per burst, not one per notice.
    const calls = await settledListCalls(client);
    expect(calls).toBeLessThanOrEqual(1 + 2 * 5);
    expect((await other.listTools()).tools.find((t) => t.name === 'raw__echo')?.description).toBe('echo v5');
  });
});
