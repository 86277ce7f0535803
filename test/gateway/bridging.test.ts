// Ids, tasks and bridging: client ids never cross sessions, SEP-1686 tasks pass through to their owner only,
// and the stdio front carries callbacks and remote HTTP upstreams to a process-spawning host.
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import {
  basicStdio,
  connectClient,
  INIT,
  rawPost,
  ROOT,
  startGateway,
  startHttpFixture,
  waitFor,
  type RunningGateway,
} from '../helpers/gateway.js';

const EVERYTHING = createRequire(import.meta.url).resolve(
  '@modelcontextprotocol/server-everything/dist/index.js',
);
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function gateway(raw: Record<string, unknown>): Promise<RunningGateway> {
  const gw = await startGateway(raw);
  cleanups.push(gw.close);
  return gw;
}

describe('ids', () => {
  it('keeps colliding client request ids apart: each session gets its own answer', async () => {
    const gw = await gateway({ upstreams: { a: basicStdio('a') } });
    const sessions = await Promise.all(
      [1, 2, 3].map(async () => (await rawPost(gw.url, INIT)).headers.get('mcp-session-id')!),
    );
    const answers = await Promise.all(
      sessions.map((sid, i) =>
        rawPost(
          gw.url,
          JSON.stringify({
            jsonrpc: '2.0',
            id: 7,
            method: 'tools/call',
            params: { name: 'a__echo', arguments: { text: `s${i}` } },
          }),
          { 'mcp-session-id': sid },
        ),
      ),
    );
    expect(answers.map((a) => a.json)).toEqual(
      [0, 1, 2].map((i) => ({
        jsonrpc: '2.0',
        id: 7,
        result: { content: [{ type: 'text', text: `s${i}` }] },
      })),
    );
  });
});

describe('tasks (SEP-1686)', () => {
  it('passes a task-augmented tools/call through and routes tasks/get, tasks/result and tasks/list to its owner only', async () => {
    const gw = await gateway({
      upstreams: { ev: { command: process.execPath, args: [EVERYTHING, 'stdio'] } },
    });
    const owner = await connectClient(gw.url);
    const other = await connectClient(gw.url);
    cleanups.push(
      () => owner.close(),
      () => other.close(),
    );
    expect(owner.getServerCapabilities()?.tasks).toBeDefined();
    const any = z.any();
    const created = await owner.request(
      {
        method: 'tools/call',
        params: {
          name: 'ev__simulate-research-query',
          arguments: { topic: 'gateways' },
          task: { ttl: 60_000 },
        },
      } as any,
      any,
    );
    const taskId = created.task.taskId as string;
    expect(created.task.status).toBe('working');
    const status = await waitFor(async () => true).then(() =>
      owner.request({ method: 'tasks/get', params: { taskId } } as any, any),
    );
    expect(status.taskId).toBe(taskId);
    await expect(
      other.request({ method: 'tasks/get', params: { taskId } } as any, any),
    ).rejects.toMatchObject({ code: -32602 });
    expect(
      (await owner.request({ method: 'tasks/list', params: {} } as any, any)).tasks.map((t: any) => t.taskId),
    ).toContain(taskId);
    expect((await other.request({ method: 'tasks/list', params: {} } as any, any)).tasks).toEqual([]);
    const result = await owner.request({ method: 'tasks/result', params: { taskId } } as any, any, {
      timeout: 30_000,
    });
    expect(JSON.stringify(result.content)).toContain('gateways');
  });
});

describe('stdio front (bridging)', () => {
  it('reaches a remote HTTP upstream and relays sampling to a stdio-only host', async () => {
    const http = await startHttpFixture('remote');
    cleanups.push(http.stop);
    const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-bridge-'));
    const config = path.join(dir, 'gateway.json');
    writeFileSync(
      config,
      JSON.stringify({ upstreams: { remote: { url: http.url }, local: basicStdio('local') } }),
    );
    const host = new Client({ name: 'stdio-host', version: '1' }, { capabilities: { sampling: {} } });
    host.setRequestHandler(CreateMessageRequestSchema, async () => ({
      role: 'assistant',
      model: 'm',
      content: { type: 'text', text: 'from the host' },
    }));
    await host.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: ['--import', 'tsx', path.join(ROOT, 'src/cli.ts'), 'stdio', '--config', config],
        cwd: ROOT,
        stderr: 'pipe',
      }),
    );
    cleanups.push(() => host.close());
    expect((await host.callTool({ name: 'remote__whoami', arguments: {} })).content).toEqual([
      { type: 'text', text: 'remote' },
    ]);
    const sampled = await host.callTool({ name: 'remote__sample', arguments: { prompt: 'hi' } });
    expect(sampled.content).toEqual([{ type: 'text', text: 'sampled: from the host' }]);
    const progress: number[] = [];
    await host.callTool({ name: 'local__progress', arguments: { steps: 4 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(progress).toEqual([1, 2, 3, 4]);
  });
});
