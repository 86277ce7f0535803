// Ids, tasks and bridging: client ids never cross sessions, SEP-1686 tasks pass through to their owner only,
// and the stdio front carries callbacks and remote HTTP upstreams to a process-spawning host.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { writeFileSync } from 'node:fs';
import { basicStdio, INIT, rawPost, ROOT, startHttpFixture, waitFor } from '../helpers/gateway.js';
import { makeTempDir, useHarness } from '../helpers/harness.js';

const EVERYTHING = createRequire(import.meta.url).resolve(
  '@modelcontextprotocol/server-everything/dist/index.js',
);
const h = useHarness();

describe('ids', () => {
  it('keeps colliding client request ids apart: each session gets its own answer', async () => {
    const gw = await h.gateway({ upstreams: { a: basicStdio('a') } });
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
    const gw = await h.gateway({
      upstreams: { ev: { command: process.execPath, args: [EVERYTHING, 'stdio'] } },
    });
    const owner = await h.client(gw);
    const other = await h.client(gw);
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
    h.defer(http.stop);
    const dir = makeTempDir('switchboard-bridge-');
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
    h.defer(() => host.close());
    expect((await host.callTool({ name: 'remote__whoami', arguments: {} })).content).toEqual([
      { type: 'text', text: 'remote' },
    ]);
    const sampled = await host.callTool({ name: 'remote__sample', arguments: { prompt: 'hi' } });
    expect(sampled.content).toEqual([{ type: 'text', text: 'sampled: from the host' }]);
  });

  it('writes every progress notification of a call to stdout before its response, with the client token', async () => {
    const dir = makeTempDir('switchboard-bridge-');
    const config = path.join(dir, 'gateway.json');
    writeFileSync(config, JSON.stringify({ upstreams: { local: basicStdio('local') } }));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(ROOT, 'src/cli.ts'), 'stdio', '--config', config],
      {
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'ignore'],
      },
    );
    h.defer(() => child.kill('SIGTERM'));
    const lines: any[] = [];
    let buffer = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const parts = (buffer + chunk).split('\n');
      buffer = parts.pop()!;
      for (const part of parts) if (part) lines.push(JSON.parse(part));
    });
    const send = (message: object) => child.stdin.write(JSON.stringify(message) + '\n');
    send(JSON.parse(INIT));
    await waitFor(() => lines.some((l) => l.id === 1), 20_000);
    send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const call = { name: 'local__progress', arguments: { steps: 4 }, _meta: { progressToken: 'tok' } };
    send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: call });
    await waitFor(() => lines.some((l) => l.id === 2), 20_000);
    const after = lines.slice(lines.findIndex((l) => l.id === 1) + 1);
    expect(
      after.map((l) => (l.method ? `${l.params.progressToken}:${l.params.progress}` : `result:${l.id}`)),
    ).toEqual(['tok:1', 'tok:2', 'tok:3', 'tok:4', 'result:2']);
  });
});
