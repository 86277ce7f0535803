// Sessions shared by replicas (`redis:`): a replica takes up a session it has not seen from the directory in
// Redis, keeps a local copy, and relays over the bus what belongs to another replica: messages for the stream
// that replica holds, a client's answer to a question that replica asked, the client's notifications.
import type {
  JSONRPCMessage,
  JSONRPCNotification,
  LoggingLevel,
  RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { BusMessage, ClusterBus } from '../stores/cluster-bus.js';
import type { SessionDirectory } from '../stores/session-directory.js';
import { handleResponse } from './ask-client.js';
import { levelIndex } from './lifecycle.js';
import { GatewayError } from '../../errors.js';
import type { Result } from '../../policy/types.js';
import type { ScopedRelay } from './scoped-relay.js';
import { StreamClaims } from './stream-claims.js';
import type { Exchange, Outlet, Session, SessionRegistry, SessionSharing } from './sessions.js';

/** What this replica does with a relayed message once it has the session's local copy. */
export interface ClusterHooks {
  /** A client notification (cancellation, roots changed) that arrived at another replica. */
  notification(session: Session, notification: JSONRPCNotification): void;
  /** An unsubscribe that arrived at another replica, for a subscription this replica's upstream holds. */
  unsubscribe(session: Session, uri: string): void;
  /** A log level set through another replica (already the session's): this replica's shared upstreams follow. */
  level(session: Session): void;
}

/** Separates the replica from the number in the ids of server-to-client requests (`<replica>~<n>`). */
const ID_MARK = '~';
const REAP_EVERY_MS = 60_000;
const SESSION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class ClusterSessions implements SessionSharing {
  private readonly loading = new Map<string, Promise<Session | undefined>>();
  private readonly touchEveryMs: number;
  private reaper?: NodeJS.Timeout;
  private readonly streams: StreamClaims;
  /** Relays whole requests (task requests) to the replica that can answer them; set by the wiring. */
  relay?: ScopedRelay;

  constructor(
    private readonly bus: ClusterBus,
    private readonly directory: SessionDirectory,
    private readonly sessions: SessionRegistry,
    private readonly log: Logger,
    ttlMs: number,
    private readonly hooks: ClusterHooks,
  ) {
    this.touchEveryMs = ttlMs / 4;
    this.streams = new StreamClaims(bus, directory, (id, owner) => this.remoteOutlet(id, owner));
    const local = (message: BusMessage) =>
      typeof message.id === 'string' ? this.sessions.get(message.id) : undefined;
    bus.on('out', (m) => {
      const outlet = local(m)?.outlet;
      if (outlet && !outlet.remote) outlet.send(m.m as JSONRPCMessage);
    });
    bus.on('answer', (m) => {
      const session = local(m);
      if (session) handleResponse(session, m.m as JSONRPCMessage);
    });
    bus.on('note', (m) => {
      const session = local(m);
      if (session) hooks.notification(session, m.m as JSONRPCNotification);
    });
    bus.on('level', (m) => {
      const session = local(m);
      if (!session || levelIndex(m.level as LoggingLevel) === -1) return;
      session.logLevel = m.level as LoggingLevel;
      hooks.level(session);
    });
    bus.on('stream', (m) => {
      const session = local(m);
      if (session && typeof m.claim === 'number')
        this.streams.heard(session, typeof m.owner === 'string' ? m.owner : null, m.claim);
    });
    bus.on('closed', (m) => {
      const session = local(m);
      if (session) this.sessions.close(session);
    });
    bus.on('unsub', (m) => {
      const session = local(m);
      if (session && typeof m.uri === 'string' && session.subscriptions?.has(m.uri))
        hooks.unsubscribe(session, m.uri);
    });
  }

  get replica(): string {
    return this.bus.replica;
  }

  /** Joins the bus; now and then lets go of idle copies kept for their subscriptions whose session has ended. */
  async start(idleTimeoutMs: number): Promise<void> {
    await this.bus.start();
    if (idleTimeoutMs <= 0) return;
    this.reaper = setInterval(() => {
      const limit = Date.now() - idleTimeoutMs;
      const idle = [...this.sessions.all()].filter(
        (s) => s.subscriptions?.size && s.lastSeen < limit && !s.inflight?.size,
      );
      if (idle.length === 0) return;
      void this.endedElsewhere(idle).then((ended) => ended.forEach((s) => this.sessions.close(s)));
    }, REAP_EVERY_MS);
    this.reaper.unref();
  }

  stop(): Promise<void> {
    clearInterval(this.reaper);
    return this.bus.stop();
  }

  /** A session this replica has no copy of: taken up from Redis (undefined: there is none by that id). */
  find(id: string): Promise<Session | undefined> {
    // The gateway's ids are UUIDs: anything else is unknown without asking Redis (a flood of made-up ids costs
    // no round trip).
    if (!SESSION_ID.test(id)) return Promise.resolve(undefined);
    let pending = this.loading.get(id);
    if (!pending) {
      pending = this.takeUp(id).finally(() => this.loading.delete(id));
      this.loading.set(id, pending);
    }
    return pending;
  }

  /** A session this replica opened: written to Redis before its initialize is answered. */
  async opened(session: Session): Promise<void> {
    session.idPrefix = this.bus.replica + ID_MARK;
    session.touchedAt = Date.now();
    await this.directory.save(session.id, session);
  }

  /** The client was heard from: keeps the session alive in Redis (a write a few times per idle timeout). */
  touched(session: Session, now: number): void {
    if (now - (session.touchedAt ?? 0) < this.touchEveryMs) return;
    session.touchedAt = now;
    this.directory.touch(session.id);
  }

  /** DELETE: the session ends on every replica. */
  ended(session: Session): Promise<unknown> {
    void this.bus.broadcast({ t: 'closed', id: session.id });
    return this.directory.remove(session.id).catch(() => {});
  }

  /** This replica opened the session's GET stream: the others send its messages here, and end theirs. */
  streamOpened(session: Session, outlet: Outlet): Promise<void> {
    return this.streams.opened(session, outlet);
  }

  /** The GET stream here ended: unless another replica has taken over meanwhile, nobody holds one now. */
  streamClosed(session: Session, outlet: Outlet): Promise<void> {
    return this.streams.closed(session, outlet);
  }

  /**
   * A client's answer to a server-to-client request: when another replica asked (its mark is in the id), it goes
   * there; returns whether it was relayed.
   */
  answer(session: Session, message: JSONRPCMessage): boolean {
    const owner = ownerOf((message as { id?: RequestId }).id);
    if (owner === undefined || owner === this.bus.replica) return false;
    this.bus.send(owner, { t: 'answer', id: session.id, m: message });
    return true;
  }

  /** A client notification: every replica that runs something for this session may need it. */
  notified(session: Session, notification: JSONRPCNotification): void {
    if (notification.method === 'notifications/initialized') return;
    void this.bus.broadcast({ t: 'note', id: session.id, m: notification });
  }

  /** Answered once Redis has passed the level on: the client's next request finds it on any replica. */
  async levelSet(session: Session, level: LoggingLevel): Promise<void> {
    await Promise.all([
      this.directory.setLevel(session.id, level).catch(() => {}),
      this.bus.broadcast({ t: 'level', id: session.id, level }),
    ]);
  }

  /** A subscription this replica's upstream holds (or no longer holds). */
  subscribed(session: Session, uri: string, on: boolean): void {
    this.directory.subscribed(session.id, uri, on ? this.bus.replica : undefined).catch(() => {});
  }

  /** An unsubscribe for a subscription another replica holds: that replica tells its upstream. */
  unsubscribeElsewhere(session: Session, uri: string): void {
    void this.bus.broadcast({ t: 'unsub', id: session.id, uri });
  }

  taskCreated(session: Session, taskId: string): void {
    this.directory.taskAt(session.id, taskId, this.bus.replica).catch(() => {});
  }

  async taskElsewhere(
    exchange: Exchange,
    method: string,
    params: Record<string, any>,
    taskId: string,
  ): Promise<Result | undefined> {
    const owner = await this.directory.taskOwner(exchange.session.id, taskId).catch(() => undefined);
    if (!owner || owner === this.bus.replica || !this.relay) return undefined;
    return this.relay.route(owner, exchange, method, params);
  }

  async tasksElsewhere(exchange: Exchange): Promise<unknown[]> {
    const relay = this.relay;
    const replicas = await this.directory.taskReplicas(exchange.session.id).catch(() => new Set<string>());
    replicas.delete(this.bus.replica);
    if (!relay || replicas.size === 0) return [];
    // A replica that cannot answer leaves its tasks out of the list rather than failing it.
    const lists = await Promise.all(
      [...replicas].map((owner) =>
        relay.route(owner, exchange, 'tasks/list', {}).then(
          (result) => (result.value as { tasks?: unknown[] })?.tasks ?? [],
          () => [],
        ),
      ),
    );
    return lists.flat();
  }

  /** Of the local copies that look idle but hold subscriptions, those whose session has ended everywhere. */
  private async endedElsewhere(candidates: Session[]): Promise<Session[]> {
    const alive = await this.directory.existing(candidates.map((s) => s.id)).catch(() => undefined);
    return alive ? candidates.filter((s) => !alive.has(s.id)) : [];
  }

  private async takeUp(id: string): Promise<Session | undefined> {
    const record = await this.directory.load(id).catch((error: Error) => {
      this.log.warn({ err: error.message }, 'redis: a session could not be looked up');
      return undefined;
    });
    if (!record) return undefined;
    // Another request for it may have been answered meanwhile (the copy made then is the one).
    const existing = this.sessions.get(id);
    if (existing) return existing;
    const session = this.sessions.create({ ...record, id });
    if (!session)
      throw new GatewayError(
        'overloaded',
        'Service Unavailable: too many open sessions on this replica (sessions.max); try again later',
      );
    session.initialized = true;
    session.idPrefix = this.bus.replica + ID_MARK;
    session.touchedAt = Date.now();
    if (record.logLevel) session.logLevel = record.logLevel;
    this.streams.adopt(session, record.stream, record.streamClaim);
    return session;
  }

  /** The session's stream on another replica: messages go there over the bus. */
  private remoteOutlet(id: string, owner: string): Outlet {
    return {
      remote: owner,
      send: (message) => {
        this.bus.send(owner, { t: 'out', id, m: message });
        return true;
      },
    };
  }
}

/** The replica whose mark a server-to-client request id carries. */
function ownerOf(id: RequestId | undefined): string | undefined {
  if (typeof id !== 'string') return undefined;
  const at = id.indexOf(ID_MARK);
  return at > 0 ? id.slice(0, at) : undefined;
}
