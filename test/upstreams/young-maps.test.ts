// The SDK client's per-request maps are replaced by fresh copies (so their tables are allocated young): a call in
// flight across a refresh still gets its answer, and a closed client is let go.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { keepMapsYoung, refresh } from '../../src/upstreams/young-maps.js';

const maps = (client: Client) => {
  const fields = client as unknown as Record<string, Map<unknown, unknown>>;
  return [fields._responseHandlers, fields._progressHandlers, fields._timeoutInfo];
};

describe('keepMapsYoung', () => {
  it('keeps the calls in flight across a refresh and lets a closed client go', async () => {
    const server = new McpServer({ name: 'slow', version: '1.0.0' });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    server.registerTool('wait', { inputSchema: { n: z.number() } }, async ({ n }) => {
      await held;
      return { content: [{ type: 'text', text: String(n) }] };
    });
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const client = new Client({ name: 't', version: '1.0.0' });
    await client.connect(clientSide);
    keepMapsYoung(client);

    const calls = [1, 2, 3].map((n) => client.callTool({ name: 'wait', arguments: { n } }));
    await new Promise((resolve) => setImmediate(resolve));
    const before = maps(client);
    expect(before.every((map) => map instanceof Map)).toBe(true);
    expect(before[0].size).toBe(3);
    refresh();
    const after = maps(client);
    after.forEach((map, i) => {
      expect(map).not.toBe(before[i]);
      expect([...map.keys()]).toEqual([...before[i].keys()]);
    });
    release();
    const texts = (await Promise.all(calls)).map((r) => (r.content as { text: string }[])[0].text);
    expect(texts).toEqual(['1', '2', '3']);
    expect(maps(client)[0].size).toBe(0);

    await client.close();
    const closed = maps(client);
    refresh();
    // Closed: its maps are left as they are (the client is no longer refreshed).
    maps(client).forEach((map, i) => expect(map).toBe(closed[i]));
    await server.close();
  });
});
