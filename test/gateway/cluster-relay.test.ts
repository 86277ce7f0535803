// What replicas relay to each other (redis:): messages for the GET stream another replica holds (a resource
// update, a log line), a stream taken over by a newer GET, a client's cancellation, and the calls of a
// `scope: session` upstream, which stay on the replica that opened its connection until that replica is gone.
import {
  CreateMessageRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { basicStdio, TSX } from '../helpers/gateway.js';
import { WIRE_SERVER } from '../pipeline/visibility-helpers.js';
import { INITIALIZE, post, startReplicas, until, type Replicas } from './cluster-helpers.js';

let replicas: Replicas | undefined;
afterEach(async () => {
  await replicas?.close();
  replicas = undefined;
});

describe('replicas relay what belongs to another (redis:)', () => {
  it('a resource update reaches the subscriber whose GET stream another replica holds', async () => {
    replicas = await startReplicas(3, { upstreams: { a: basicStdio('a') } });
    const client = await replicas.client();
    const updates: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
    // The SDK client opens its GET stream after initialize; the subscribe goes wherever the turn sends it.
    await until(() =>
      [...replicas!.gateways].some((g) =>
        [...g.app.runtime.sessions.all()].some((s) => s.outlet && !s.outlet.remote),
      ),
    );
    for (const uri of ['a://static/info', 'shared://common']) await client.subscribeResource({ uri });
    await until(() => updates.length === 2);
    expect(updates.sort()).toEqual(['a://static/info', 'shared://common']);
  });

  it('a newer GET stream on another replica takes over; the older one is ended', async () => {
    replicas = await startReplicas(2, { upstreams: { a: basicStdio('a') } });
    const [one, two] = replicas.gateways;
    const opened = await post(one.url, INITIALIZE);
    const headers = { 'mcp-session-id': opened.session!, accept: 'text/event-stream' };
    const first = await fetch(one.url, { headers });
    expect(first.status).toBe(200);
    const firstBody = first.body!.getReader();
    const second = await fetch(two.url, { headers });
    expect(second.status).toBe(200);
    // The first stream ends once the second replica announces it holds the session's stream.
    const ended = async () => {
      for (;;) if ((await firstBody.read()).done) return true;
    };
    expect(await Promise.race([ended(), new Promise((r) => setTimeout(() => r(false), 3000))])).toBe(true);
    // A second GET on the replica that holds the stream is still a conflict.
    expect((await fetch(two.url, { headers })).status).toBe(409);
    await second.body!.cancel();
  });

  it("a log level set through one replica filters the logs another replica's upstream sends", async () => {
    replicas = await startReplicas(2, { upstreams: { a: basicStdio('a') } });
    const client = await replicas.client();
    const logs: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
    await client.setLoggingLevel('error');
    // Each call reaches the other replica in turn: info logs are below the level everywhere.
    for (let i = 0; i < 4; i++) await client.callTool({ name: 'a__log', arguments: { count: 2 } });
    expect(logs).toEqual([]);
    await client.setLoggingLevel('debug');
    await client.callTool({ name: 'a__log', arguments: { count: 2 } });
    await until(() => logs.length === 2);
  });

  it("a client's cancellation reaches the replica running the call", async () => {
    replicas = await startReplicas(2, { upstreams: { a: basicStdio('a') } });
    const client = await replicas.client();
    for (let i = 0; i < 2; i++) {
      const controller = new AbortController();
      const hanging = client.callTool({ name: 'a__hang', arguments: {} }, undefined, {
        signal: controller.signal,
      });
      await new Promise((r) => setTimeout(r, 200));
      controller.abort('enough');
      await expect(hanging).rejects.toThrow();
    }
    // Both upstream processes (one per replica) were told; together they count two cancellations.
    let cancelled = 0;
    await until(async () => {
      cancelled = 0;
      for (let i = 0; i < 2; i++) {
        const result = await post(replicas!.gateways[i].url, INITIALIZE).then(async (opened) =>
          post(
            replicas!.gateways[i].url,
            {
              jsonrpc: '2.0',
              id: 2,
              method: 'tools/call',
              params: { name: 'a__cancellations', arguments: {} },
            },
            { 'mcp-session-id': opened.session! },
          ),
        );
        cancelled += Number(result.body.result.content[0].text);
      }
      return cancelled === 2;
    });
  });

  it('a scope: session upstream keeps one process per session whichever replica a call reaches, with progress and sampling relayed', async () => {
    replicas = await startReplicas(3, { upstreams: { mine: { ...basicStdio('mine'), scope: 'session' } } });
    const client = await replicas.client({ sampling: {} });
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({
      role: 'assistant',
      model: 'test',
      content: { type: 'text', text: 'relayed' },
    }));
    const pids = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const pid = await client.callTool({ name: 'mine__pid', arguments: {} });
      pids.add((pid.content as any)[0].text);
      const progress: number[] = [];
      const done = await client.callTool({ name: 'mine__progress', arguments: { steps: 2 } }, undefined, {
        onprogress: (p) => void progress.push(p.progress),
      });
      expect((done.content as any)[0].text).toBe('done 2');
      expect(progress).toEqual([1, 2]);
      const sampled = await client.callTool({ name: 'mine__sample', arguments: { prompt: 'x' } });
      expect((sampled.content as any)[0].text).toBe('sampled: relayed');
    }
    expect(pids.size).toBe(1);
  });

  it('when the replica holding a session connection is gone, the next call opens a new one elsewhere', async () => {
    replicas = await startReplicas(2, { upstreams: { mine: { ...basicStdio('mine'), scope: 'session' } } });
    const client = await replicas.client();
    const pidOf = async () =>
      ((await client.callTool({ name: 'mine__pid', arguments: {} })).content as any)[0].text;
    const before = await pidOf();
    const sessionId = (client.transport as any).sessionId as string;
    const owner = replicas.indexOf((await replicas.redis.get(`${replicas.prefix}scoped:${sessionId}:mine`))!);
    expect(owner).toBeGreaterThanOrEqual(0);
    await replicas.gateways[owner].close();
    replicas.only([1 - owner]);
    const after = await pidOf();
    expect(after).not.toBe(before);
    expect(await pidOf()).toBe(after);
  });
});

describe('tasks with replicas (redis:)', () => {
  it('task requests reach the replica whose upstream runs the task, its errors passed through', async () => {
    const wire = { command: process.execPath, args: ['--import', TSX, WIRE_SERVER, '--tools', '["job"]'] };
    replicas = await startReplicas(2, { upstreams: { w: wire } });
    const [one, two] = replicas.gateways;
    const opened = await post(one.url, INITIALIZE);
    const headers = { 'mcp-session-id': opened.session! };
    const request = (url: string, id: number, method: string, params: object) =>
      post(url, { jsonrpc: '2.0', id, method, params }, headers);
    const created = await request(one.url, 2, 'tools/call', {
      name: 'w__job',
      arguments: { label: 'made on one' },
      task: { ttl: 60_000 },
    });
    const taskId = created.body.result.task.taskId;
    const got = await request(two.url, 3, 'tasks/get', { taskId });
    expect(got.body.result).toMatchObject({ taskId, statusMessage: 'made on one' });
    // The fixture has no tasks/cancel: its own error, from the process on replica one, comes back unchanged.
    const cancelled = await request(two.url, 4, 'tasks/cancel', { taskId });
    expect(cancelled.body.error).toEqual({ code: -32601, message: 'Error: no method tasks/cancel' });
    const listed = await request(two.url, 6, 'tasks/list', {});
    expect(listed.body.result.tasks).toMatchObject([{ taskId, statusMessage: 'made on one' }]);
    // A task id no replica created is unknown everywhere.
    const unknown = await request(two.url, 5, 'tasks/get', { taskId: 'task-none' });
    expect(unknown.body.error.message).toBe('Unknown task: task-none');
  });
});
