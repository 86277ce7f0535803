// Sessions shared through Redis (`redis:`), wired: the bus, the directory and the relays (answers, streams,
// `scope: session` calls), with what a relayed client notification or unsubscribe runs on this replica. Absent without `redis:` (nothing added per request).
import type { JSONRPCNotification } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { Upstream } from '../upstreams/pool.js';
import type { GatewayConfig } from './config.js';
import type { Forwarder } from './pipeline/forward.js';
import { routeRequest, type RouteRunner } from './pipeline/routes.js';
import { ClusterSessions } from './session/cluster-sessions.js';
import { followLevel, handleNotification } from './session/lifecycle.js';
import { ScopedRelay } from './session/scoped-relay.js';
import type { TaskBook } from './session/tasks.js';
import type { Exchange, Session, SessionRegistry } from './session/sessions.js';
import { ClusterBus } from './stores/cluster-bus.js';
import type { SharedRedis } from './stores/redis.js';
import { SessionDirectory } from './stores/session-directory.js';
import { CallAbort } from './session/call-abort.js';

/** A session that is idle for ever (idleTimeout 0) still leaves Redis a day after its client was last heard. */
const NO_EXPIRY_TTL_MS = 24 * 60 * 60 * 1000;

export function shareSessions(
  config: GatewayConfig,
  redis: SharedRedis,
  sessions: SessionRegistry,
  log: Logger,
  upstream: (name: string) => Upstream | undefined,
  handler: RouteRunner & { readonly deps: { readonly upstreams: readonly Upstream[] } },
  forwarder: Forwarder,
  tasks: TaskBook,
): ClusterSessions {
  const ttlMs = config.sessions.idleTimeout > 0 ? config.sessions.idleTimeout : NO_EXPIRY_TTL_MS;
  const bus = new ClusterBus(redis, log);
  // What this replica runs for a session on another's word: an exchange of its own, answered to nobody.
  const exchangeFor = (session: Session, requestId: string): Exchange => ({
    session,
    principal: session.principal,
    requestId,
    controller: new CallAbort(),
    related: { send: () => false },
    internal: true,
  });
  const cluster = new ClusterSessions(bus, new SessionDirectory(redis, ttlMs), sessions, log, ttlMs, {
    notification: (session: Session, notification: JSONRPCNotification) =>
      handleNotification(upstream, session, notification),
    unsubscribe: (session: Session, uri: string) => {
      const exchange = exchangeFor(session, `unsubscribe:${uri}`);
      routeRequest(handler, exchange, 'resources/unsubscribe', { uri }).catch((error: Error) =>
        log.debug({ err: error.message }, 'a relayed unsubscribe failed'),
      );
    },
    level: (session: Session) =>
      void followLevel(handler.deps.upstreams, sessions, forwarder, exchangeFor(session, 'setLevel:relayed')),
  });
  const relay = new ScopedRelay(bus, redis, ttlMs, log, {
    session: (id) => sessions.get(id) ?? cluster.find(id),
    upstream,
    send: (exchange, target, method, params) => forwarder.send(exchange, target, method, params),
    route: async (exchange, method, params) =>
      method === 'tasks/list'
        ? { value: await tasks.list(exchange) }
        : routeRequest(handler, exchange, method, params),
  });
  forwarder.relay = relay;
  cluster.relay = relay;
  tasks.onRecorded = (session, taskId) => cluster.taskCreated(session, taskId);
  return cluster;
}
