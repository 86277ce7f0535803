// Tasks (SEP-1686) through the gateway: a task created by a tools/call belongs to the session that created it
// and lives on the upstream connection that runs it; tasks/get|result|cancel route there, tasks/list merges only
// the session's own tasks, and status notifications reach only the owner. Everything is keyed by where a task
// id came from: two upstreams (or two per-session processes) may both call their task `task-1`.
import type { JSONRPCNotification } from '@modelcontextprotocol/sdk/types.js';
import { GatewayError } from '../errors.js';
import type { Connection, Upstream } from '../upstreams/pool.js';
import { forward } from './dispatch.js';
import type { Runtime } from './runtime.js';
import type { Exchange, Session } from './sessions.js';
import { bounded } from './wire/jsonrpc.js';

export const TASK_METHODS = new Set(['tasks/get', 'tasks/result', 'tasks/cancel', 'tasks/list']);

const RELATED_TASK = 'io.modelcontextprotocol/related-task';

/**
 * Task ids a session sees under another name (published -> the upstream's own), only for the rare id that a
 * second upstream of the same session used too: that one is published as `<upstream>:<id>`.
 */
const renamed = new WeakMap<Session, Map<string, string>>();

/** The id this session knows an upstream's task by. */
function publishedId(session: Session, upstreamName: string, taskId: string): string {
  return session.tasks?.get(taskId) === upstreamName || !renamed.get(session)?.size
    ? taskId
    : `${upstreamName}:${taskId}`;
}

/**
 * Remembers who owns a task when a tools/call answered with one; returns the result as the client must see it
 * (the task id renamed when another upstream of this session already uses it).
 */
export function recordTask(
  runtime: Runtime,
  exchange: Exchange,
  upstream: Upstream,
  result: unknown,
): unknown {
  const task = (result as { task?: { taskId?: unknown } } | undefined)?.task;
  const taskId = task?.taskId;
  const connection = exchange.connection;
  if (typeof taskId !== 'string' || !connection) return result;
  const { session } = exchange;
  const tasks = (session.tasks ??= new Map());
  let published = taskId;
  const holder = tasks.get(taskId);
  if (holder !== undefined && holder !== upstream.name) {
    published = `${upstream.name}:${taskId}`;
    let names = renamed.get(session);
    if (!names) renamed.set(session, (names = new Map()));
    names.set(published, taskId);
  }
  tasks.set(published, upstream.name);
  let owners = runtime.taskOwners.get(connection);
  if (!owners) runtime.taskOwners.set(connection, (owners = new Map()));
  owners.set(taskId, session);
  return published === taskId ? result : { ...(result as object), task: { ...task, taskId: published } };
}

export async function handleTaskRequest(
  runtime: Runtime,
  exchange: Exchange,
  method: string,
  params: Record<string, any>,
): Promise<unknown> {
  const session = exchange.session;
  if (method === 'tasks/list') return listTasks(runtime, exchange);
  const taskId = params.taskId;
  if (typeof taskId !== 'string')
    throw new GatewayError('invalid_params', `Invalid params: ${method} needs params.taskId as a string`);
  const owner = session.tasks?.get(taskId);
  const upstream = owner === undefined ? undefined : runtime.upstream(owner);
  if (!upstream)
    throw new GatewayError('invalid_params', `Unknown task: ${bounded(taskId)}`, { data: { taskId } });
  const original = renamed.get(session)?.get(taskId);
  if (original === undefined) return forward(runtime, exchange, upstream, method, params);
  const result = (await forward(runtime, exchange, upstream, method, {
    ...params,
    taskId: original,
  })) as Record<string, any>;
  // The upstream answers with its own id; the client must see the one it asked with.
  if (result?.taskId === original) return { ...result, taskId };
  const related = result?._meta?.[RELATED_TASK];
  if (related?.taskId === original)
    return { ...result, _meta: { ...result._meta, [RELATED_TASK]: { ...related, taskId } } };
  return result;
}

/** A shared upstream lists every client's tasks; each session sees only its own, by the ids it knows them by. */
async function listTasks(runtime: Runtime, exchange: Exchange) {
  const { session } = exchange;
  const mine = session.tasks ?? new Map<string, string>();
  const owners = new Set(mine.values());
  const lists = await Promise.all(
    runtime.upstreams
      .filter((u) => u.state === 'ready' && u.capabilities?.tasks?.list && owners.has(u.name))
      .map(async (u) => {
        const listed = await forward(
          runtime,
          { ...exchange, connection: undefined },
          u,
          'tasks/list',
          {},
        ).catch(() => undefined);
        const tasks = (listed as { tasks?: unknown } | undefined)?.tasks;
        if (!Array.isArray(tasks)) return [];
        return tasks.flatMap((task: { taskId?: unknown }) => {
          if (typeof task?.taskId !== 'string') return [];
          const published = publishedId(session, u.name, task.taskId);
          if (mine.get(published) !== u.name) return [];
          return [published === task.taskId ? task : { ...task, taskId: published }];
        });
      }),
  );
  return { tasks: lists.flat() };
}

/** notifications/tasks/status from this connection goes to the session that owns the task, and nowhere else. */
export function deliverTaskStatus(
  runtime: Runtime,
  connection: Connection,
  notification: JSONRPCNotification,
): boolean {
  const taskId = (notification.params as { taskId?: unknown } | undefined)?.taskId;
  if (typeof taskId !== 'string') return false;
  const owner = runtime.taskOwners.get(connection)?.get(taskId);
  if (!owner || owner.closed || !owner.outlet) return false;
  const published = publishedId(owner, connection.upstream.name, taskId);
  return owner.outlet.send(
    published === taskId
      ? notification
      : { ...notification, params: { ...notification.params, taskId: published } },
  );
}

export function forgetTasks(runtime: Runtime, session: Session): void {
  if (!session.tasks?.size) return;
  for (const [connection, owners] of runtime.taskOwners) {
    for (const [taskId, owner] of owners) if (owner === session) owners.delete(taskId);
    if (owners.size === 0) runtime.taskOwners.delete(connection);
  }
}
