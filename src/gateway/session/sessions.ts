// Client sessions: a small record per session, a registry with a cap, and idle expiry (most clients never
// send DELETE). Kept lean: an idle session holds a few fields and no objects it does not need yet.
import { randomUUID } from 'node:crypto';
import type {
  ClientCapabilities,
  JSONRPCMessage,
  LoggingLevel,
  RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import type { Principal, Result } from '../../policy/types.js';
import type { Connection } from '../../upstreams/pool.js';
import type { RoutedTarget } from '../catalog/types.js';
import type { SourceUse } from '../stores/source-limits.js';
import type { CallAbort } from './call-abort.js';
import type { Slots } from './slots.js';

/** Where messages for a client go: the SSE stream of one POST, the session's GET stream, or stdout. */
export interface Outlet {
  /** Returns false when the message could not be delivered (no stream open). */
  send(message: JSONRPCMessage): boolean;
  /** Ends the stream (GET streams, when their session ends). */
  close?(): void;
  /** The replica holding the stream, when it is not this one (`redis:`; cluster-sessions.ts). */
  readonly remote?: string;
}

/** What the pipeline tells the other replicas of changes to a session they may hold copies of (`redis:`). */
export interface SessionSharing {
  /** Settles once the other replicas can know of it. */
  levelSet(session: Session, level: LoggingLevel): Promise<void>;
  /** A subscription this replica's upstream now holds (or no longer holds). */
  subscribed(session: Session, uri: string, on: boolean): void;
  /** An unsubscribe for a subscription this replica does not hold: the replica that holds it tells its upstream. */
  unsubscribeElsewhere(session: Session, uri: string): void;
  /** A task this replica created: other replicas send its tasks/get|result|cancel here. */
  taskCreated(session: Session, taskId: string): void;
  /** A task request for a task this replica does not hold: answered by the replica that does (undefined: none). */
  taskElsewhere(
    exchange: Exchange,
    method: string,
    params: Record<string, any>,
    taskId: string,
  ): Promise<Result | undefined>;
  /** The session's tasks that other replicas run, for tasks/list. */
  tasksElsewhere(exchange: Exchange): Promise<unknown[]>;
}

/** One client request in flight. */
export interface Exchange {
  readonly session: Session;
  /** Who sent this request (established for the request; the session's own principal is the same identity). */
  readonly principal: Principal;
  readonly requestId: RequestId;
  readonly controller: CallAbort;
  /** Messages tied to this request (progress, logs, server-to-client requests), sent before its response. */
  readonly related: Outlet;
  /** The gateway's own request on the session's behalf (a log level passed on to an upstream, a request relayed
   * from another replica's word): no client waits on its stream, so what an upstream sends never goes to it. */
  readonly internal?: boolean;
  /** The caller's raw token on this request (`Authorization: Bearer`): the subject of a token exchange.
   * Never logged, never forwarded. */
  readonly bearer?: string;
  connection?: Connection;
  /** Tracing's state for this request, opaque here (telemetry/tracing-spans.ts owns it). The exchange holds it
   * rather than a WeakMap keyed by exchanges: such a table gains an entry per request, and once it lives in old
   * space each entry keeps its request alive through the young GC. */
  trace?: object;
}

export interface Session {
  readonly id: string;
  /** The identity that opened the session: a request from anyone else finds no such session. */
  readonly principal: Principal;
  protocolVersion: string;
  clientCapabilities: ClientCapabilities;
  /** Set once `initialize` has been answered with a result (an HTTP session whose initialize failed is closed). */
  initialized?: boolean;
  lastSeen: number;
  logLevel?: LoggingLevel;
  /** Messages that belong to no request (list_changed, resource updates): the GET stream, or stdout. */
  outlet?: Outlet;
  /** Its client requests being answered (slots, not a Map by id: see slots.ts). */
  inflight?: Slots<Exchange>;
  /** Server-to-client requests waiting for the client's answer, by the id the gateway gave them. */
  awaiting?: Map<RequestId, (message: JSONRPCMessage) => void>;
  nextOutgoingId: number;
  /** With `redis:`, the ids of server-to-client requests carry the replica that asks (`<replica>~<n>`), so an
   * answer arriving at another replica finds its way back. */
  idPrefix?: string;
  /** When this replica last kept the session alive in Redis. */
  touchedAt?: number;
  subscriptions?: Set<string>;
  /** Tasks this session created, by the task id it knows: the tool call that created each. */
  tasks?: Map<string, RoutedTarget>;
  /** Upstreams holding a per-session connection for this session. */
  scopedUpstreams?: Set<string>;
  /** The source that opened it (HTTP front), whose open-session count this session holds. */
  source?: SourceUse;
  closed: boolean;
}

export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  private sweeper?: NodeJS.Timeout;

  constructor(
    private readonly options: {
      idleTimeoutMs: number;
      max: number;
      onClose: (session: Session) => void;
      /** Shared sessions (`redis:`): an idle local copy holding subscriptions stays until its session ends. */
      holdSubscribed?: boolean;
    },
  ) {
    if (options.idleTimeoutMs > 0) {
      const every = Math.max(1000, Math.min(60_000, options.idleTimeoutMs / 4));
      this.sweeper = setInterval(() => this.sweep(), every);
      this.sweeper.unref();
    }
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Returns undefined when the registry is full. */
  create(
    fields: Pick<Session, 'protocolVersion' | 'clientCapabilities' | 'principal'> & {
      id?: string;
      source?: SourceUse;
    },
  ) {
    if (this.sessions.size >= this.options.max) this.sweep();
    if (this.sessions.size >= this.options.max) return undefined;
    const session: Session = {
      id: fields.id ?? randomUUID(),
      principal: fields.principal,
      protocolVersion: fields.protocolVersion,
      clientCapabilities: fields.clientCapabilities,
      lastSeen: Date.now(),
      nextOutgoingId: 1,
      closed: false,
    };
    if (fields.source) {
      session.source = fields.source;
      fields.source.open++;
    }
    this.sessions.set(session.id, session);
    return session;
  }

  /**
   * A lookup only: it does not count as activity. Upstream traffic looks sessions up too, and a chatty upstream
   * must not keep a session alive whose client went away; the fronts refresh `lastSeen` on the client's own messages.
   */
  get(id: string): Session | undefined {
    return this.sessions.get(id);
  }

  all(): IterableIterator<Session> {
    return this.sessions.values();
  }

  close(session: Session): void {
    if (session.closed) return;
    session.closed = true;
    this.sessions.delete(session.id);
    if (session.source) session.source.open--;
    this.options.onClose(session);
  }

  closeAll(): void {
    for (const session of [...this.sessions.values()]) this.close(session);
    clearInterval(this.sweeper);
  }

  /** Ends sessions idle past the timeout; a session with a request in flight or an open stream is not idle. */
  sweep(now = Date.now()): void {
    const limit = now - this.options.idleTimeoutMs;
    for (const session of this.sessions.values()) {
      if (session.lastSeen >= limit || session.inflight?.size || (session.outlet && !session.outlet.remote))
        continue;
      if (this.options.holdSubscribed && session.subscriptions?.size) continue;
      this.close(session);
    }
  }
}
