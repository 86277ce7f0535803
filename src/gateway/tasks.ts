// Tasks (SEP-1686) through the gateway: a task created by a tools/call belongs to the session that created it
// and lives on the upstream that runs it; tasks/get|result|cancel route there, tasks/list merges only the
// session's own tasks, and status notifications reach only the owner.
import type { JSONRPCNotification } from '@modelcontextprotocol/sdk/types.js';
import { GatewayError } from '../errors.js';
import type { Upstream } from '../upstreams/pool.js';
import { forward } from './dispatch.js';
import type { Runtime } from './runtime.js';
import type { Exchange, Session } from './sessions.js';

export const TASK_METHODS = new Set(['tasks/get', 'tasks/result', 'tasks/cancel', 'tasks/list']);

/** Remembers who owns a task when a tools/call answered with one. */
export function recordTask(runtime: Runtime, session: Session, upstream: Upstream, result: unknown): void {
  const taskId = (result as { task?: { taskId?: unknown } } | undefined)?.task?.taskId;
  if (typeof taskId !== 'string') return;
  (session.tasks ??= new Map()).set(taskId, upstream.name);
  runtime.taskOwners.set(taskId, session);
}

export async function handleTaskRequest(
  runtime: Runtime,
  exchange: Exchange,
  method: string,
  params: Record<string, any>,
): Promise<unknown> {
  const session = exchange.session;
  if (method === 'tasks/list') {
    const mine = session.tasks ?? new Map<string, string>();
    const lists = await Promise.all(
      runtime.upstreams
        .filter(
          (u) => u.state === 'ready' && u.capabilities?.tasks?.list && [...mine.values()].includes(u.name),
        )
        .map((u) =>
          forward(runtime, { ...exchange, connection: undefined }, u, method, {}).catch(() => undefined),
        ),
    );
    // A shared upstream lists every client's tasks; each session sees only its own.
    const tasks = lists.flatMap((r) =>
      ((r as { tasks?: { taskId: string }[] })?.tasks ?? []).filter((t) => mine.has(t.taskId)),
    );
    return { tasks };
  }
  const taskId = String(params.taskId);
  const upstream = runtime.upstream(session.tasks?.get(taskId) ?? '');
  if (!upstream) throw new GatewayError('invalid_params', `Unknown task: ${taskId}`, { data: { taskId } });
  return forward(runtime, exchange, upstream, method, params);
}

/** notifications/tasks/status goes to the session that owns the task, and nowhere else. */
export function deliverTaskStatus(runtime: Runtime, notification: JSONRPCNotification): boolean {
  const taskId = (notification.params as { taskId?: unknown } | undefined)?.taskId;
  if (typeof taskId !== 'string') return false;
  const owner = runtime.taskOwners.get(taskId);
  if (!owner || owner.closed) return false;
  return owner.outlet?.send(notification) ?? false;
}

export function forgetTasks(runtime: Runtime, session: Session): void {
  for (const taskId of session.tasks?.keys() ?? []) runtime.taskOwners.delete(taskId);
}
