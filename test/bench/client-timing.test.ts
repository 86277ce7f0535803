// The bench client's latency ends when the answer's last byte arrives: not when the first byte does, and not after
// the client has decoded and parsed a large answer (which is the client's cost, not the target's).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, McpHttpSession } from '../../bench/lib/mcp-client.js';

/** The answer's tail is sent this long after its head. */
const TAIL_DELAY_MS = 150;
let server: http.Server;
let url: URL;
let tailSentAt = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', async () => {
      const { id } = JSON.parse(body);
      // A large answer (a 1,000-item result, as the list cell's) whose last part comes later.
      const items = Array.from({ length: 20_000 }, (_, i) => ({
        name: `tool_${i}`,
        description: 'x'.repeat(40),
      }));
      const text = JSON.stringify({ jsonrpc: '2.0', id, result: { items } });
      const cut = text.length - 10;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(text.slice(0, cut));
      await sleep(TAIL_DELAY_MS);
      tailSentAt = performance.now();
      res.end(text.slice(cut));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`);
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe('the bench client timing an answer', () => {
  it('takes the time of the last byte, before parsing the answer', async () => {
    const agent = createAgent();
    const session = new McpHttpSession(url, agent);
    const started = performance.now();
    const { answer, arrivedAt } = await session.timedRequest('tools/list', '{}');
    const returned = performance.now();
    agent.destroy();
    expect(answer.result.items).toHaveLength(20_000);
    // After the tail was sent (so not the first byte's time)...
    expect(arrivedAt).toBeGreaterThanOrEqual(tailSentAt);
    expect(arrivedAt - started).toBeGreaterThanOrEqual(TAIL_DELAY_MS - 5);
    // ...and before the ~1.5 MB answer was decoded and parsed, which takes this client milliseconds.
    expect(arrivedAt).toBeLessThan(returned);
    expect(returned - arrivedAt).toBeGreaterThan(0.5);
  });
});
