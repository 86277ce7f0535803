// Issue 10 point 5: a client that lists or calls right after `serve` starts (upstreams still connecting) gets
// the whole catalogue, not the upstreams that happened to be first; `initialize`, `ping` and /healthz stay
// immediate; sessions opened during start-up hear one list_changed per kind when it settles.
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/gateway/config.js';
import { createLogger } from '../../src/gateway/logger.js';
import { buildGateway } from '../../src/gateway/server.js';
import { basicStdio, ROOT, TSX } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';

const h = useHarness();
const SLOW = path.join(ROOT, 'test/fixtures/servers/h-slow-start.ts');
const HANG = path.join(ROOT, 'test/fixtures/servers/d-stderr-hang.ts');
const DELAY_MS = 1500;

const slow = (label = 'slow', delay = DELAY_MS) => ({
  command: process.execPath,
  args: ['--import', TSX, SLOW, '--label', label, '--delay', String(delay)],
});

/** As `serve` builds it: listening at once, upstreams still connecting. */
async function servingEarly(upstreams: Record<string, unknown>) {
  const config = parseConfig({ upstreams }, { baseDir: ROOT });
  const app = await buildGateway(config, {
    log: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
    waitForUpstreams: false,
  });
  h.defer(() => app.close());
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url: `${address}/mcp`, base: address, startedAt: performance.now() };
}

async function client(url: string) {
  const c = new Client({ name: 'startup-test', version: '1.0.0' });
  await c.connect(new StreamableHTTPClientTransport(new URL(url)));
  h.defer(() => c.close());
  return c;
}

const names = (items: { name: string }[]) => items.map((item) => item.name).sort();

describe('requests that read the catalogue wait for start-up to settle', () => {
  it('a client that initializes and lists at once sees the slow stdio upstream too', async () => {
    const gw = await servingEarly({ fast: basicStdio('fast'), slow: slow() });
    const c = await client(gw.url);
    // initialize did not wait for the slow upstream.
    expect(performance.now() - gw.startedAt).toBeLessThan(DELAY_MS);
    const [tools, prompts, resources] = await Promise.all([
      c.listTools(),
      c.listPrompts(),
      c.listResources(),
    ]);
    expect(names(tools.tools)).toContain('slow__hello');
    expect(names(tools.tools)).toContain('slow__big');
    expect(names(tools.tools)).toContain('fast__echo');
    expect(names(prompts.prompts)).toContain('slow__greeting');
    expect(resources.resources.map((r) => r.name)).toContain('status');
  });

  it('a call, a prompt and a read of the slow upstream made at once succeed instead of "Unknown tool"', async () => {
    const gw = await servingEarly({ slow: slow() });
    const c = await client(gw.url);
    const [call, prompt, read] = await Promise.all([
      c.callTool({ name: 'slow__hello', arguments: {} }),
      c.getPrompt({ name: 'slow__greeting' }),
      c.readResource({ uri: 'slow://slow/status' }),
    ]);
    expect(call.content).toEqual([{ type: 'text', text: 'hello from slow' }]);
    expect(prompt.messages[0].content).toEqual({ type: 'text', text: 'greetings from slow' });
    expect(read.contents[0]).toMatchObject({ text: 'slow is up' });
  });

  it('an unknown tool asked for during start-up is still refused precisely once it settles', async () => {
    const gw = await servingEarly({ slow: slow() });
    const c = await client(gw.url);
    await expect(c.callTool({ name: 'slow__nope', arguments: {} })).rejects.toThrow(
      'MCP error -32602: Unknown tool: slow__nope',
    );
    // The gateway keeps serving this client and others.
    expect((await c.callTool({ name: 'slow__hello', arguments: {} })).isError).toBeFalsy();
    const other = await client(gw.url);
    expect(names((await other.listTools()).tools)).toEqual(['slow__big', 'slow__hello']);
  });

  it('initialize, ping and /healthz answer at once while an upstream is still starting', async () => {
    const gw = await servingEarly({ slow: slow('slow', 4000) });
    const c = await client(gw.url);
    const t0 = performance.now();
    await c.ping();
    const health = await fetch(`${gw.base}/healthz`);
    expect(health.status).toBe(200);
    expect(performance.now() - t0).toBeLessThan(1000);
    const ready = await (await fetch(`${gw.base}/readyz`)).json();
    expect(ready.ready).toBe(false);
  });

  it('an upstream that hangs at start-up holds early requests back no longer than its start timeout', async () => {
    const hang = { command: process.execPath, args: ['--import', TSX, HANG], startTimeout: '1500ms' };
    const gw = await servingEarly({ fast: basicStdio('fast'), stuck: hang });
    const c = await client(gw.url);
    const t0 = performance.now();
    const result = await c.callTool({ name: 'fast__echo', arguments: { text: 'hi' } });
    const waited = performance.now() - t0;
    expect(result.content).toEqual([{ type: 'text', text: 'hi' }]);
    // It waited for the hung upstream's start to fail (not a minute, not forever).
    expect(waited).toBeGreaterThan(500);
    expect(waited).toBeLessThan(1500 + 5000);
    expect(names((await c.listTools()).tools).every((n) => n.startsWith('fast__'))).toBe(true);
  });
});

describe('sessions opened during start-up hear that the catalogue grew', () => {
  it('a client with its GET stream open gets one list_changed per changed kind when start-up settles', async () => {
    const gw = await servingEarly({ fast: basicStdio('fast'), slow: slow() });
    const c = await client(gw.url);
    const heard = { tools: 0, prompts: 0, resources: 0 };
    c.setNotificationHandler(ToolListChangedNotificationSchema, () => void heard.tools++);
    c.setNotificationHandler(PromptListChangedNotificationSchema, () => void heard.prompts++);
    c.setNotificationHandler(ResourceListChangedNotificationSchema, () => void heard.resources++);
    await expect.poll(() => heard.tools, { timeout: 10_000 }).toBe(1);
    await expect.poll(() => heard.prompts).toBe(1);
    await expect.poll(() => heard.resources).toBe(1);
    // Once only: no second announcement follows.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(heard).toEqual({ tools: 1, prompts: 1, resources: 1 });
    expect(names((await c.listTools()).tools)).toContain('slow__hello');
  });

  it('a session opened after start-up settled hears nothing about it', async () => {
    const gw = await servingEarly({ fast: basicStdio('fast') });
    const first = await client(gw.url);
    await first.listTools(); // waits until settled
    const late = await client(gw.url);
    let heard = 0;
    late.setNotificationHandler(ToolListChangedNotificationSchema, () => void heard++);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(heard).toBe(0);
  });
});
