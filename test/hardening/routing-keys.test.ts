// Routing state is keyed by where it came from: two upstream connections that both name their task `task-1`
// never see each other's status, whether they are per-session processes or two shared upstreams.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { waitFor } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';
import { wireStdio } from './wire-helpers.js';

const h = useHarness();
const any = z.any();

/** A client that records every notifications/tasks/status it receives. */
async function statusClient(gw: Parameters<typeof h.client>[0]) {
  const client = await h.client(gw);
  const statuses: Record<string, any>[] = [];
  client.fallbackNotificationHandler = async (notification) => {
    if (notification.method === 'notifications/tasks/status') statuses.push(notification.params!);
  };
  return { client, statuses };
}

const createTask = (client: Client, tool: string, label: string) =>
  client.request(
    { method: 'tools/call', params: { name: tool, arguments: { label }, task: { ttl: 60_000 } } } as any,
    any,
  );

describe('task ownership is keyed by upstream connection and task id', () => {
  it('two per-session processes that both name their task task-1 each report status to their own session only', async () => {
    const gw = await h.gateway({ upstreams: { tk: { ...wireStdio(), scope: 'session' } } });
    const a = await statusClient(gw);
    const b = await statusClient(gw);
    expect((await createTask(a.client, 'tk__emit', 'A')).task.taskId).toBe('task-1');
    expect((await createTask(b.client, 'tk__emit', 'B')).task.taskId).toBe('task-1');
    // A's process announces its task-1 while B (the later creator of a task-1) is also connected.
    await a.client.callTool({ name: 'tk__status', arguments: {} });
    await waitFor(() => a.statuses.length > 0);
    expect(a.statuses).toEqual([expect.objectContaining({ taskId: 'task-1', statusMessage: 'A' })]);
    await b.client.callTool({ name: 'tk__status', arguments: {} });
    await waitFor(() => b.statuses.length > 0);
    expect(b.statuses).toEqual([expect.objectContaining({ taskId: 'task-1', statusMessage: 'B' })]);
    expect(a.statuses).toHaveLength(1);
    // Each session's tasks/get reaches its own process.
    const get = (client: Client) =>
      client.request({ method: 'tasks/get', params: { taskId: 'task-1' } } as any, any);
    expect((await get(a.client)).statusMessage).toBe('A');
    expect((await get(b.client)).statusMessage).toBe('B');
  });

  it('a session closing forgets only its own task-1, not another session task of the same name on another upstream', async () => {
    const gw = await h.gateway({ upstreams: { one: wireStdio(), two: wireStdio() } });
    const a = await statusClient(gw);
    const b = await statusClient(gw);
    await createTask(a.client, 'one__emit', 'A');
    await createTask(b.client, 'two__emit', 'B');
    const runtime = gw.app.runtime;
    const bSession = runtime.sessions.get((b.client.transport as StreamableHTTPClientTransport).sessionId!)!;
    runtime.sessions.close(bSession);
    // The notice comes when no call is open, so only the ownership record can route it.
    await a.client.callTool({ name: 'one__status', arguments: { afterMs: 100 } });
    await waitFor(() => a.statuses.length > 0);
    expect(a.statuses).toEqual([expect.objectContaining({ taskId: 'task-1', statusMessage: 'A' })]);
  });

  it('two shared upstreams that both name a task task-1 for different sessions keep their statuses apart', async () => {
    const gw = await h.gateway({ upstreams: { one: wireStdio(), two: wireStdio() } });
    const a = await statusClient(gw);
    const b = await statusClient(gw);
    await createTask(a.client, 'one__emit', 'A on one');
    await createTask(b.client, 'two__emit', 'B on two');
    await a.client.callTool({ name: 'one__status', arguments: {} });
    await waitFor(() => a.statuses.length > 0);
    await b.client.callTool({ name: 'two__status', arguments: {} });
    await waitFor(() => b.statuses.length > 0);
    expect(a.statuses).toEqual([expect.objectContaining({ taskId: 'task-1', statusMessage: 'A on one' })]);
    expect(b.statuses).toEqual([expect.objectContaining({ taskId: 'task-1', statusMessage: 'B on two' })]);
    // Another session cannot read a task it did not create, even by its colliding name.
    const c = await h.client(gw);
    await expect(
      c.request({ method: 'tasks/get', params: { taskId: 'task-1' } } as any, any),
    ).rejects.toMatchObject({ code: -32602 });
  });

  it('one session with task-1 on two upstreams reaches each by a distinct id, in get, list and status', async () => {
    const gw = await h.gateway({ upstreams: { one: wireStdio(), two: wireStdio() } });
    const a = await statusClient(gw);
    expect((await createTask(a.client, 'one__emit', 'first')).task.taskId).toBe('task-1');
    // The second task-1 is published under its upstream's name, so neither shadows the other.
    expect((await createTask(a.client, 'two__emit', 'second')).task.taskId).toBe('two:task-1');
    const get = (taskId: string) => a.client.request({ method: 'tasks/get', params: { taskId } } as any, any);
    expect(await get('task-1')).toMatchObject({ taskId: 'task-1', statusMessage: 'first' });
    expect(await get('two:task-1')).toMatchObject({ taskId: 'two:task-1', statusMessage: 'second' });
    const listed = await a.client.request({ method: 'tasks/list', params: {} } as any, any);
    expect(listed.tasks.map((t: any) => [t.taskId, t.statusMessage]).sort()).toEqual([
      ['task-1', 'first'],
      ['two:task-1', 'second'],
    ]);
    await a.client.callTool({ name: 'two__status', arguments: {} });
    await waitFor(() => a.statuses.length > 0);
    expect(a.statuses).toEqual([expect.objectContaining({ taskId: 'two:task-1', statusMessage: 'second' })]);
    // Another session knows neither name.
    const b = await h.client(gw);
    await expect(
      b.request({ method: 'tasks/get', params: { taskId: 'two:task-1' } } as any, any),
    ).rejects.toMatchObject({ code: -32602 });
  });

  it('an upstream process that guesses the gateway progress tokens of other connections reaches no one', async () => {
    const gw = await h.gateway({ upstreams: { tk: { ...wireStdio(), scope: 'session' } } });
    const a = await h.client(gw);
    const b = await h.client(gw);
    const seen = { a: 0, b: 0 };
    const call = (client: Client, label: 'a' | 'b', input: Record<string, unknown>) =>
      client.callTool({ name: 'tk__emit', arguments: input }, undefined, {
        onprogress: () => seen[label]++,
      });
    // B's call is in flight (its token live on its own connection) while A's process sprays 50 guessed tokens.
    const pendingB = call(b, 'b', { delayMs: 800 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const ra = await call(a, 'a', { guess: 50 });
    const rb = await pendingB;
    expect(ra.content).toEqual([{ type: 'text', text: 'emitted' }]);
    expect(rb.content).toEqual([{ type: 'text', text: 'emitted' }]);
    expect(seen).toEqual({ a: 1, b: 1 });
  });
});
