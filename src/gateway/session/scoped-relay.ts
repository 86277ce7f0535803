// `scope: session` upstreams with replicas (`redis:`): a session's own upstream connection lives on the replica
// that opened it (its owner, recorded in Redis); a call that reaches another replica is relayed to the owner,
// with progress and server-to-client requests relayed back. When the owner is gone, the next replica that needs
// the connection opens it anew (its per-session state starts over) and becomes the owner. Task requests are
// relayed the same way, to the replica whose connection runs the task.
import { randomUUID } from 'node:crypto';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { ERROR_KINDS, GatewayError, type ErrorKind } from '../../errors.js';
import type { Result } from '../../policy/types.js';
import type { Upstream } from '../../upstreams/pool.js';
import type { BusMessage, ClusterBus } from '../stores/cluster-bus.js';
import type { SharedRedis } from '../stores/redis.js';
import type { Exchange, Session } from './sessions.js';
import { CallAbort } from './call-abort.js';

/** How the owner sends a request on its own connection (the Forwarder). */
export type SendUpstream = (
  exchange: Exchange,
  upstream: Upstream,
  method: string,
  params: Record<string, any>,
) => Promise<Result>;

/** How often a relayed call checks that the owner is still alive (its heartbeat lasts 3 s). */
const OWNER_CHECK_MS = 1000;

interface Waiting {
  exchange: Exchange;
  resolve(result: Result): void;
  reject(error: unknown): void;
}

/** An error as it crosses the bus: a GatewayError keeps its kind, an upstream's error its code. */
interface WireError {
  kind?: string;
  code?: number;
  message: string;
  data?: unknown;
  upstreamCode?: number;
}

export class ScopedRelay {
  private readonly waiting = new Map<string, Waiting>();
  /** Calls run here for other replicas, by relay key: cancelled when the client cancels there. */
  private readonly running = new Map<string, CallAbort>();
  /** When each session's claims were last kept alive, by upstream: goes with the session (no growth). */
  private readonly touched = new WeakMap<Session, Map<string, number>>();

  constructor(
    private readonly bus: ClusterBus,
    private readonly redis: SharedRedis,
    private readonly ttlMs: number,
    private readonly log: Logger,
    private readonly deps: {
      session(id: string): Session | Promise<Session | undefined> | undefined;
      upstream(name: string): Upstream | undefined;
      send: SendUpstream;
      /** Runs a client request through this replica's routes (and policies), for a relayed task request. */
      route(exchange: Exchange, method: string, params: Record<string, any>): Promise<Result>;
    },
  ) {
    bus.on('fwd', (m) => void this.serve(m));
    bus.on('fwd-cancel', (m) =>
      this.running.get(String(m.key))?.abort(new GatewayError('cancelled', 'cancelled by the client')),
    );
    bus.on('fwd-msg', (m) => this.waiting.get(String(m.key))?.exchange.related.send(m.m as JSONRPCMessage));
    bus.on('fwd-done', (m) => {
      const waiting = this.waiting.get(String(m.key));
      if (!waiting) return;
      if (m.error) waiting.reject(fromWire(m.error as WireError));
      else waiting.resolve({ value: m.value });
    });
  }

  /**
   * The replica to relay this session's call to, or undefined when this replica holds (or now claims) the
   * connection. Only asked when this replica has no connection for the session yet.
   */
  async ownerElsewhere(session: Session, upstream: Upstream): Promise<string | undefined> {
    const key = this.ownerKey(session.id, upstream.name);
    const redis = this.redis.connection();
    const me = this.bus.replica;
    const claimed = await redis.set(key, me, 'PX', this.ttlMs, 'NX').catch(() => 'OK');
    if (claimed === 'OK') return undefined;
    const owner = await redis.get(key).catch(() => null);
    if (!owner || owner === me) return undefined;
    if (await this.bus.alive(owner)) return owner;
    // The owner is gone, and the connection with it: this replica opens a new one.
    await redis.set(key, me, 'PX', this.ttlMs).catch(() => {});
    this.log.warn(
      { upstream: upstream.name },
      'the replica holding a session connection is gone: a new one is opened here (its per-session state starts over)',
    );
    return undefined;
  }

  /** This replica used its own connection for the session: the claim stays alive while the session is used. */
  keepClaim(session: Session, upstream: Upstream): void {
    const now = Date.now();
    let times = this.touched.get(session);
    if (!times) this.touched.set(session, (times = new Map()));
    if (now - (times.get(upstream.name) ?? 0) < this.ttlMs / 4) return;
    times.set(upstream.name, now);
    this.redis
      .connection()
      .pexpire(this.ownerKey(session.id, upstream.name), this.ttlMs)
      .catch(() => {});
  }

  /** Relays the call to the owner and waits for its answer (or for the owner to go away). */
  forward(
    owner: string,
    exchange: Exchange,
    upstream: Upstream,
    method: string,
    params: Record<string, any>,
  ): Promise<Result> {
    const lost = `the replica holding this session's connection to upstream "${upstream.name}" stopped before answering; call again (a new connection is opened)`;
    return this.relay(owner, exchange, { upstream: upstream.name, method, params }, lost, () =>
      this.redis
        .connection()
        .del(this.ownerKey(exchange.session.id, upstream.name))
        .catch(() => {}),
    );
  }

  /** Relays a whole client request (a task's get, result or cancel) to the replica that can answer it. */
  route(owner: string, exchange: Exchange, method: string, params: Record<string, any>): Promise<Result> {
    const lost = `the replica running this task stopped before answering (${method}); the task is lost`;
    return this.relay(owner, exchange, { route: true, method, params }, lost);
  }

  private relay(
    owner: string,
    exchange: Exchange,
    payload: { upstream?: string; route?: true; method: string; params: Record<string, any> },
    lost: string,
    onLost?: () => void,
  ): Promise<Result> {
    const key = randomUUID();
    const { signal } = exchange.controller;
    return new Promise<Result>((resolve, reject) => {
      const done = () => {
        clearInterval(check);
        signal.removeEventListener('abort', onAbort);
        this.waiting.delete(key);
      };
      const fail = (error: unknown) => {
        done();
        reject(error);
      };
      const onAbort = () => {
        this.bus.send(owner, { t: 'fwd-cancel', key });
        fail(signal.reason);
      };
      const check = setInterval(() => {
        void this.bus.alive(owner).then((alive) => {
          if (alive || !this.waiting.has(key)) return;
          onLost?.();
          fail(new GatewayError('upstream_unavailable', lost));
        });
      }, OWNER_CHECK_MS);
      this.waiting.set(key, {
        exchange,
        resolve: (result) => {
          done();
          resolve(result);
        },
        reject: fail,
      });
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.bus.send(owner, { t: 'fwd', key, id: exchange.session.id, ...payload });
    });
  }

  /** A call another replica relayed here: sent on this replica's connection, its messages and answer sent back. */
  private async serve(message: BusMessage): Promise<void> {
    const {
      key,
      from,
      id,
      upstream: name,
      route,
      method,
      params,
    } = message as BusMessage & Record<string, any>;
    if (typeof key !== 'string' || typeof from !== 'string' || typeof id !== 'string') return;
    const reply = (fields: object) => this.bus.send(from, { t: 'fwd-done', key, ...fields });
    try {
      const session = await this.deps.session(id);
      const upstream = typeof name === 'string' ? this.deps.upstream(name) : undefined;
      if (!session) throw new GatewayError('session_not_found', 'Session not found');
      if (!upstream && route !== true)
        throw new GatewayError('upstream_unavailable', `upstream "${String(name)}" is not configured here`);
      const controller = new CallAbort();
      this.running.set(key, controller);
      const exchange: Exchange = {
        session,
        principal: session.principal,
        requestId: key,
        controller,
        related: {
          send: (m) => {
            this.bus.send(from, { t: 'fwd-msg', key, m });
            return true;
          },
        },
      };
      session.lastSeen = Date.now();
      const args = params && typeof params === 'object' ? params : {};
      const result =
        route === true
          ? await this.deps.route(exchange, String(method), args)
          : await this.deps.send(exchange, upstream!, String(method), args);
      reply({ value: result.value });
    } catch (error) {
      reply({ error: toWire(error) });
    } finally {
      this.running.delete(key);
    }
  }

  private ownerKey(session: string, upstream: string): string {
    return `${this.redis.keyPrefix}scoped:${session}:${upstream}`;
  }
}

function toWire(error: unknown): WireError {
  if (error instanceof GatewayError)
    return { kind: error.kind, message: error.message, data: error.data, upstreamCode: error.upstreamCode };
  const { code, data } = error as { code?: unknown; data?: unknown };
  const message = error instanceof Error ? error.message.replace(/^MCP error -?\d+: /, '') : String(error);
  return { code: typeof code === 'number' ? code : undefined, message, data };
}

function fromWire(error: WireError): Error {
  // Own keys only: a kind such as `toString` from the bus is not a kind.
  if (error.kind && Object.hasOwn(ERROR_KINDS, error.kind))
    return new GatewayError(error.kind as ErrorKind, error.message, {
      data: error.data,
      upstreamCode: error.upstreamCode,
    });
  return new McpError(error.code ?? ERROR_KINDS.internal.code, error.message, error.data);
}
