// A shared upstream that crashed and is restarting (found by the soak): its tools and prompts are out of the
// lists, but a call to a name it published is told the upstream is unavailable (-32603, upstream_unavailable,
// with its last error), never "Unknown tool"; names that never existed or are hidden stay unknown.
import { existsSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { basicStdio, connectClient, startGateway, waitFor } from '../helpers/gateway.js';
import { makeTempDir } from '../helpers/harness.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close().catch(() => {})));
});

/** The error a call ends with (the test fails if it succeeds). */
async function callError(client: Client, name: string): Promise<McpError> {
  const error = await client.callTool({ name, arguments: { text: 'x' } }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `${name} should fail`).toBeInstanceOf(McpError);
  return error as McpError;
}

async function toolNames(client: Client): Promise<string[]> {
  return (await client.listTools()).tools.map((t) => t.name);
}

/** A gateway whose `flaky` upstream starts at once, but waits to restart while the hold file exists. */
async function flakyGateway() {
  const hold = path.join(makeTempDir('switchboard-restart-'), 'hold');
  const basic = basicStdio('flaky');
  const gateway = await startGateway({
    upstreams: {
      flaky: {
        command: '/bin/sh',
        args: [
          '-c',
          `while [ -e ${hold} ]; do sleep 0.05; done; exec "$0" "$@"`,
          basic.command,
          ...basic.args,
        ],
        tools: { deny: ['add'] },
      },
      steady: basicStdio('steady'),
    },
  });
  open.push({ close: async () => (existsSync(hold) && unlinkSync(hold), gateway.close()) });
  const flaky = gateway.app.runtime.upstream('flaky')!;
  return {
    gateway,
    flaky,
    /** Crashes the upstream and waits until it is down; it stays down until `release()`. */
    async crash(client: Client) {
      writeFileSync(hold, '');
      await client.callTool({ name: 'flaky__crash', arguments: {} }).catch(() => {});
      await waitFor(() => flaky.state === 'down');
    },
    async release() {
      unlinkSync(hold);
      await waitFor(() => flaky.state === 'ready', 20_000);
    },
  };
}

describe('calls to a shared upstream while it restarts', () => {
  it('get upstream_unavailable naming the upstream and its last error, then work once it is back', async () => {
    const { gateway, crash, release } = await flakyGateway();
    const client = await connectClient(gateway.url);
    open.push(client);
    expect(await toolNames(client)).toContain('flaky__echo');
    await crash(client);

    const error = await callError(client, 'flaky__echo');
    expect(error.code).toBe(-32603);
    expect(error.message).toContain(
      'Upstream unavailable: "flaky", which serves flaky__echo, is down and restarting (last error: connection closed',
    );
    expect(error.data).toEqual({ upstream: 'flaky', state: 'down' });
    // The router keeps the name apart from the live ones while its upstream restarts.
    expect(gateway.app.runtime.router.tool('flaky__echo')).toBeUndefined();
    expect(gateway.app.runtime.router.down('tools', 'flaky__echo')).toMatchObject({ upstream: 'flaky' });
    // Out of the lists while down (the design), and the gateway keeps serving the rest.
    const listed = await toolNames(client);
    expect(listed.filter((n) => n.startsWith('flaky__'))).toEqual([]);
    expect(listed).toContain('steady__echo');
    const steady = await client.callTool({ name: 'steady__echo', arguments: { text: 'ok' } });
    expect(JSON.stringify(steady.content)).toContain('ok');

    await release();
    const back = await client.callTool({ name: 'flaky__echo', arguments: { text: 'back' } });
    expect(JSON.stringify(back.content)).toContain('back');
    expect(await toolNames(client)).toContain('flaky__echo');
  }, 30_000);

  it('keeps names that never existed, or that tools.deny hides, exactly as unknown as before', async () => {
    const { gateway, crash } = await flakyGateway();
    const client = await connectClient(gateway.url);
    open.push(client);
    const unknown = [
      'flaky__nope',
      'flaky__add',
      'flaky',
      'flaky__',
      'constructor',
      '__proto__',
      'nope__echo',
    ];
    const before = await Promise.all(unknown.map((name) => callError(client, name)));
    await crash(client);
    for (const [i, name] of unknown.entries()) {
      const during = await callError(client, name);
      expect(during.code).toBe(-32602);
      expect(during.message).toBe(`MCP error -32602: Unknown tool: ${name}`);
      expect({ code: during.code, message: during.message }).toEqual({
        code: before[i].code,
        message: before[i].message,
      });
    }
  }, 30_000);

  it('gives every session the same answer, prompts included', async () => {
    const { gateway, crash } = await flakyGateway();
    const first = await connectClient(gateway.url);
    open.push(first);
    await crash(first);
    // A session opened during the gap never saw the names listed; the answer is the same.
    const late = await connectClient(gateway.url);
    open.push(late);
    expect((await callError(late, 'flaky__add_tool')).code).toBe(-32603);
    const prompt = await late.getPrompt({ name: 'flaky__greet', arguments: { who: 'x' } }).then(
      () => undefined,
      (e: unknown) => e as McpError,
    );
    expect(prompt).toMatchObject({ code: -32603, data: { upstream: 'flaky', state: 'down' } });
    const unknownPrompt = await late.getPrompt({ name: 'flaky__nope' }).catch((e: McpError) => e);
    expect(unknownPrompt).toMatchObject({
      code: -32602,
      message: 'MCP error -32602: Unknown prompt: flaky__nope',
    });
  }, 30_000);

  it('makes a tool unknown once the upstream is back without it', async () => {
    const { gateway, crash, release } = await flakyGateway();
    const client = await connectClient(gateway.url);
    open.push(client);
    // A tool the first process added at run time: the restarted process does not have it.
    await client.callTool({ name: 'flaky__add_tool', arguments: { name: 'extra' } });
    for (let tries = 0; !(await toolNames(client)).includes('flaky__extra'); tries++) {
      expect(tries).toBeLessThan(100);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await crash(client);
    expect((await callError(client, 'flaky__extra')).code).toBe(-32603);
    await release();
    const gone = await callError(client, 'flaky__extra');
    expect({ code: gone.code, message: gone.message }).toEqual({
      code: -32602,
      message: 'MCP error -32602: Unknown tool: flaky__extra',
    });
  }, 30_000);
});
