// What upstreams send on their own: server-to-client requests (sampling, elicitation, roots, ping) and
// notifications (logs, resource updates, task status, elicitation completion), each routed to exactly the
// session it belongs to, or refused when that cannot be known; what a message reveals is filtered by the
// same visibility predicate as everything else.
import type { JSONRPCNotification, JSONRPCRequest, LoggingLevel } from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { GatewayError } from '../../errors.js';
import type { Visibility } from '../../policy/compose.js';
import type { Connection } from '../../upstreams/pool.js';
import type { Router } from '../catalog/router.js';
import { callerKey } from '../pipeline/forward.js';
import { bounded } from '../wire/jsonrpc.js';
import { askClient } from './ask-client.js';
import type { Inflight } from './inflight.js';
import { levelIndex, upstreamTarget } from './lifecycle.js';
import type { Outlet, Session, SessionRegistry } from './sessions.js';
import type { TaskBook } from './tasks.js';

interface Origin {
  session: Session;
  /** The stream of the request that caused this, or the session's own outlet. */
  channel: Outlet | undefined;
}

/** A Map: an upstream's method name (`constructor`, `__proto__`) must never reach Object.prototype. */
const REQUIRED_CAPABILITY = new Map<string, 'sampling' | 'elicitation' | 'roots'>([
  ['sampling/createMessage', 'sampling'],
  ['elicitation/create', 'elicitation'],
  ['roots/list', 'roots'],
]);

/** The roots of a request no client session can be found for: none (what a client without roots would say). */
const NO_ROOTS = { roots: [] };

export class UpstreamCallbacks {
  constructor(
    private readonly inflight: Inflight,
    private readonly sessions: SessionRegistry,
    private readonly router: Router,
    private readonly tasks: TaskBook,
    private readonly visibility: Visibility | undefined,
  ) {}

  /**
   * The client session a message from this connection belongs to: the session that owns a per-session
   * connection, or, on a shared one, the only session with requests in flight on it. Otherwise unknown. The
   * gateway's own requests are not candidates: a log sent during a call while a level passed on for the same
   * session was still in flight went to that request's stream, which no client reads, and was lost.
   */
  originOf(connection: Connection): Origin | undefined {
    const exchanges = this.inflight.on(connection);
    let latest;
    if (exchanges) {
      for (const exchange of exchanges) {
        if (exchange.internal) continue;
        if (latest && latest.session !== exchange.session) return undefined;
        latest = exchange;
      }
    }
    if (latest) return { session: latest.session, channel: latest.related };
    if (connection.sessionKey === undefined) return undefined;
    const session = this.sessions.get(connection.sessionKey);
    return session ? { session, channel: session.outlet } : undefined;
  }

  async onRequest(
    connection: Connection,
    request: JSONRPCRequest,
    extra: RequestHandlerExtra<any, any>,
  ): Promise<unknown> {
    const origin = this.originOf(connection);
    if (!origin) {
      // A ping needs no client to answer it; anything else would be a guess, and guessing leaks across clients.
      if (request.method === 'ping') return {};
      if (request.method === 'roots/list') {
        // Servers ask for roots at start-up, before any client exists (shared scope): no roots is the answer.
        connection.upstream.log.debug('roots/list with no client session: answered with no roots');
        return NO_ROOTS;
      }
      throw new GatewayError(
        'internal',
        `switchboard cannot tell which client ${request.method} is for: no single client session is waiting on upstream "${connection.upstream.name}" (use scope: session for servers that call back)`,
      );
    }
    const { session, channel } = origin;
    const capability = REQUIRED_CAPABILITY.get(request.method);
    const declared = capability && session.clientCapabilities[capability];
    if (capability && !declared)
      throw new GatewayError('capability_missing', `the client did not declare the ${capability} capability`);
    if (request.method === 'elicitation/create' && (request.params as { mode?: string })?.mode === 'url') {
      if (!(declared as { url?: unknown }).url)
        throw new GatewayError('capability_missing', 'the client does not support URL elicitation');
    }
    return askClient(session, channel, request.method, request.params, extra.signal);
  }

  onNotification(connection: Connection, notification: JSONRPCNotification): void {
    const { method, params } = notification as { method: unknown; params?: unknown };
    // Nothing an upstream sends is trusted as a JavaScript value: a malformed notification is dropped and logged.
    if (
      typeof method !== 'string' ||
      (params !== undefined && (params === null || typeof params !== 'object'))
    ) {
      connection.upstream.log.warn(
        { method: typeof method === 'string' ? bounded(method) : typeof method, params: typeof params },
        'malformed notification from the upstream dropped',
      );
      return;
    }
    if (method === 'notifications/message') return this.deliverLog(connection, notification);
    if (method === 'notifications/resources/updated') return this.deliverUpdate(connection, notification);
    if (method.endsWith('/list_changed')) return; // the catalogue refresh announces these once, merged
    if (method === 'notifications/tasks/status' && this.tasks.deliverStatus(connection, notification)) return;
    const origin = this.originOf(connection);
    if (origin?.channel) origin.channel.send(notification);
    else connection.upstream.log.debug({ method }, 'notification with no known client session dropped');
  }

  /** A resource update reaches the sessions subscribed to it that may still see it. */
  private deliverUpdate(connection: Connection, notification: JSONRPCNotification): void {
    const uri = (notification.params as { uri?: unknown } | undefined)?.uri;
    if (typeof uri !== 'string') {
      connection.upstream.log.warn('notifications/resources/updated without a string uri dropped');
      return;
    }
    const published = this.router.publishedUri(connection.upstream, uri);
    const message = { ...notification, params: { ...notification.params, uri: published } };
    const found = this.visibility && this.router.resource(published);
    const sees = (session: Session) =>
      !this.visibility ||
      (found &&
        this.visibility.visible(session.principal, found.target) &&
        (!found.template || this.visibility.visible(session.principal, found.template)));
    for (const session of this.sessionsOf(connection)) {
      if (session.subscriptions?.has(published) && sees(session)) session.outlet?.send(message);
    }
  }

  /** Log messages go to the request's own client, or to the sessions that asked for logs at that level, and
   * only to sessions that may see the upstream they come from. */
  private deliverLog(connection: Connection, notification: JSONRPCNotification): void {
    const level = levelIndex((notification.params as { level?: LoggingLevel })?.level ?? 'info');
    const target = this.visibility && upstreamTarget(connection.upstream.name);
    const sees = (session: Session) => !target || this.visibility!.visible(session.principal, target);
    const wants = (session: Session) =>
      session.logLevel !== undefined && levelIndex(session.logLevel) <= level && sees(session);
    const origin = this.originOf(connection);
    if (origin) {
      if ((origin.session.logLevel === undefined && sees(origin.session)) || wants(origin.session))
        origin.channel?.send(notification);
      return;
    }
    for (const session of this.sessionsOf(connection)) if (wants(session)) session.outlet?.send(notification);
  }

  private sessionsOf(connection: Connection): Iterable<Session> {
    // A connection of one caller's own (token exchange) speaks for that identity's sessions only.
    if (connection.callerKey !== undefined) return this.callerSessions(connection.callerKey);
    if (connection.sessionKey === undefined) return this.sessions.all();
    const session = this.sessions.get(connection.sessionKey);
    return session ? [session] : [];
  }

  private *callerSessions(key: string): Iterable<Session> {
    for (const session of this.sessions.all()) if (callerKey(session.principal) === key) yield session;
  }
}
