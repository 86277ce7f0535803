// Tasks (SEP-1686) through the gateway: a task created by a tools/call belongs to the session that created it
// and lives on the upstream connection that runs it; tasks/get|result|cancel route there, tasks/list merges only
// the session's own tasks, and status notifications reach only the owner. Everything is keyed by where a task
// id came from: two upstreams (or two per-session processes) may both call their task `task-1`. A task whose
// tool the principal may no longer see is, on every path, an unknown task.
import type { JSONRPCNotification } from '@modelcontextprotocol/sdk/types.js';
import type { Visibility } from '../../policy/compose.js';
import type { Principal, Result } from '../../policy/types.js';
import type { Connection, Upstream } from '../../upstreams/pool.js';
import type { RoutedTarget } from '../catalog/types.js';
import type { Forwarder } from '../pipeline/forward.js';
import type { Exchange, Session } from './sessions.js';

export const TASK_METHODS = new Set(['tasks/get', 'tasks/result', 'tasks/cancel', 'tasks/list']);

const RELATED_TASK = 'io.modelcontextprotocol/related-task';

export class TaskBook {
  /** Which session owns each task, by the upstream connection that runs it and then its id. */
  private readonly owners = new Map<Connection, Map<string, Session>>();
  /**
   * Task ids a session sees under another name (published -> the upstream's own), only for the rare id that a
   * second upstream of the same session used too: that one is published as `<upstream>:<id>`.
   */
  private readonly renamed = new WeakMap<Session, Map<string, string>>();

  /** Told of each task recorded (with replicas, the task's owner is written to Redis). */
  onRecorded?: (session: Session, taskId: string) => void;

  constructor(
    private readonly forwarder: Forwarder,
    private readonly upstreams: readonly Upstream[],
    private readonly visibility: Visibility | undefined,
  ) {}

  /**
   * Remembers who owns a task when a tools/call answered with one; returns the result as the client must see it
   * (the task id renamed when another upstream of this session already uses it).
   */
  record(exchange: Exchange, tool: RoutedTarget, result: Result): Result {
    const task = (result.value as { task?: { taskId?: unknown } } | undefined)?.task;
    const taskId = task?.taskId;
    const connection = exchange.connection;
    if (typeof taskId !== 'string' || !connection) return result;
    const { session } = exchange;
    const tasks = (session.tasks ??= new Map());
    let published = taskId;
    const holder = tasks.get(taskId);
    if (holder !== undefined && holder.upstream !== tool.upstream) {
      published = `${tool.upstream}:${taskId}`;
      let names = this.renamed.get(session);
      if (!names) this.renamed.set(session, (names = new Map()));
      names.set(published, taskId);
    }
    tasks.set(published, tool);
    let owners = this.owners.get(connection);
    if (!owners) this.owners.set(connection, (owners = new Map()));
    owners.set(taskId, session);
    this.onRecorded?.(session, published);
    if (published === taskId) return result;
    return { value: { ...(result.value as object), task: { ...task, taskId: published } } };
  }

  /** The tool call behind a task id this session knows, and the upstream's own id for it; undefined when the
   * session has no such task or the principal may no longer see its tool. */
  find(
    session: Session,
    principal: Principal,
    taskId: string,
  ): { tool: RoutedTarget; original: string } | undefined {
    const tool = session.tasks?.get(taskId);
    if (!tool || !this.sees(principal, tool)) return undefined;
    return { tool, original: this.renamed.get(session)?.get(taskId) ?? taskId };
  }

  /** The upstream answers with its own id; the client must see the one it asked with. */
  renameBack(taskId: string, original: string, result: Result): Result {
    if (original === taskId) return result;
    const value = result.value as Record<string, any>;
    if (value?.taskId === original) return { value: { ...value, taskId } };
    const related = value?._meta?.[RELATED_TASK];
    if (related?.taskId === original)
      return { value: { ...value, _meta: { ...value._meta, [RELATED_TASK]: { ...related, taskId } } } };
    return result;
  }

  /** A shared upstream lists every client's tasks; each session sees only its own, by the ids it knows them by. */
  async list(exchange: Exchange): Promise<{ tasks: unknown[] }> {
    const { session, principal } = exchange;
    const mine = session.tasks ?? new Map<string, RoutedTarget>();
    const owners = new Set([...mine.values()].map((t) => t.upstream));
    const lists = await Promise.all(
      this.upstreams
        .filter((u) => u.state === 'ready' && u.capabilities?.tasks?.list && owners.has(u.name))
        .map(async (u) => {
          const listed = await this.forwarder
            .value({ ...exchange, connection: undefined }, u, 'tasks/list', {})
            .catch(() => undefined);
          const tasks = (listed as { tasks?: unknown } | undefined)?.tasks;
          if (!Array.isArray(tasks)) return [];
          return tasks.flatMap((task: { taskId?: unknown }) => {
            if (typeof task?.taskId !== 'string') return [];
            const published = this.publishedId(session, u.name, task.taskId);
            const tool = mine.get(published);
            if (tool?.upstream !== u.name || !this.sees(principal, tool)) return [];
            return [published === task.taskId ? task : { ...task, taskId: published }];
          });
        }),
    );
    return { tasks: lists.flat() };
  }

  /** notifications/tasks/status from this connection goes to the session that owns the task, and nowhere else. */
  deliverStatus(connection: Connection, notification: JSONRPCNotification): boolean {
    const taskId = (notification.params as { taskId?: unknown } | undefined)?.taskId;
    if (typeof taskId !== 'string') return false;
    const owner = this.owners.get(connection)?.get(taskId);
    if (!owner || owner.closed || !owner.outlet) return false;
    const published = this.publishedId(owner, connection.upstream.name, taskId);
    const tool = owner.tasks?.get(published);
    // Handled (dropped) when the owner may no longer see the tool: the status must not reach anyone else.
    if (!tool || !this.sees(owner.principal, tool)) return true;
    return owner.outlet.send(
      published === taskId
        ? notification
        : { ...notification, params: { ...notification.params, taskId: published } },
    );
  }

  forget(session: Session): void {
    if (!session.tasks?.size) return;
    for (const [connection, owners] of this.owners) {
      for (const [taskId, owner] of owners) if (owner === session) owners.delete(taskId);
      if (owners.size === 0) this.owners.delete(connection);
    }
  }

  /** The id this session knows an upstream's task by. */
  private publishedId(session: Session, upstreamName: string, taskId: string): string {
    return session.tasks?.get(taskId)?.upstream === upstreamName || !this.renamed.get(session)?.size
      ? taskId
      : `${upstreamName}:${taskId}`;
  }

  private sees(principal: Principal, tool: RoutedTarget): boolean {
    return !this.visibility || this.visibility.visible(principal, tool);
  }
}
