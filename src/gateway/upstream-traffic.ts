// What upstreams send on their own: server-to-client requests (sampling, elicitation, roots, ping) and
// notifications (logs, resource updates, elicitation completion), each routed to exactly the session it
// belongs to, or refused when that cannot be known.
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import type {
  JSONRPCMessage,
  JSONRPCNotification,
  JSONRPCRequest,
  LoggingLevel,
} from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Connection } from '../upstreams/pool.js';
import type { Runtime } from './runtime.js';
import { deliverTaskStatus } from './tasks.js';
import type { Outlet, Session } from './sessions.js';
import { bounded } from './wire/jsonrpc.js';

const LEVELS: LoggingLevel[] = [
  'debug',
  'info',
  'notice',
  'warning',
  'error',
  'critical',
  'alert',
  'emergency',
];

interface Origin {
  session: Session;
  /** The stream of the request that caused this, or the session's own outlet. */
  channel: Outlet | undefined;
}

/**
 * The client session a message from this connection belongs to: the session that owns a per-session
 * connection, or, on a shared one, the only session with requests in flight on it. Otherwise unknown.
 */
export function originOf(runtime: Runtime, connection: Connection): Origin | undefined {
  const exchanges = runtime.inflight.get(connection);
  let latest;
  if (exchanges) {
    for (const exchange of exchanges) {
      if (latest && latest.session !== exchange.session) return undefined;
      latest = exchange;
    }
  }
  if (latest) return { session: latest.session, channel: latest.related };
  if (connection.sessionKey === undefined) return undefined;
  const session = runtime.sessions.get(connection.sessionKey);
  return session ? { session, channel: session.outlet } : undefined;
}

/** A Map: an upstream's method name (`constructor`, `__proto__`) must never reach Object.prototype. */
const REQUIRED_CAPABILITY = new Map<string, 'sampling' | 'elicitation' | 'roots'>([
  ['sampling/createMessage', 'sampling'],
  ['elicitation/create', 'elicitation'],
  ['roots/list', 'roots'],
]);

/** The roots of a request no client session can be found for: none (what a client without roots would say). */
const NO_ROOTS = { roots: [] };

export async function handleUpstreamRequest(
  runtime: Runtime,
  connection: Connection,
  request: JSONRPCRequest,
  extra: RequestHandlerExtra<any, any>,
): Promise<unknown> {
  const origin = originOf(runtime, connection);
  if (!origin) {
    // A ping needs no client to answer it; anything else would be a guess, and guessing leaks across clients.
    if (request.method === 'ping') return {};
    if (request.method === 'roots/list') {
      // Servers ask for roots at start-up, before any client exists (shared scope): no roots is the answer.
      connection.upstream.log.debug('roots/list with no client session: answered with no roots');
      return NO_ROOTS;
    }
    throw new McpError(
      -32603,
      `switchboard cannot tell which client ${request.method} is for: no single client session is waiting on upstream "${connection.upstream.name}" (use scope: session for servers that call back)`,
    );
  }
  const { session, channel } = origin;
  const capability = REQUIRED_CAPABILITY.get(request.method);
  const declared = capability && session.clientCapabilities[capability];
  if (capability && !declared) {
    throw new McpError(-32601, `the client did not declare the ${capability} capability`);
  }
  if (request.method === 'elicitation/create' && (request.params as { mode?: string })?.mode === 'url') {
    if (!(declared as { url?: unknown }).url)
      throw new McpError(-32601, 'the client does not support URL elicitation');
  }
  if (!channel) throw new McpError(-32603, `client session has no open stream to receive ${request.method}`);
  const id = session.nextOutgoingId++;
  const awaiting = (session.awaiting ??= new Map());
  const answer = new Promise<JSONRPCMessage>((resolve) => awaiting.set(id, resolve));
  const cancel = () => {
    awaiting.get(id)?.({ jsonrpc: '2.0', id, error: { code: -32800, message: 'cancelled by the upstream' } });
    channel.send({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: id, reason: 'upstream cancelled' },
    });
  };
  extra.signal.addEventListener('abort', cancel, { once: true });
  if (!channel.send({ jsonrpc: '2.0', id, method: request.method, params: request.params })) {
    awaiting.delete(id);
    throw new McpError(-32603, `client session has no open stream to receive ${request.method}`);
  }
  try {
    const message = (await answer) as { result?: unknown; error?: unknown };
    // The client's answer goes to the upstream: a malformed one becomes a well-formed error, never a hang there.
    if (message.error !== undefined) {
      const error = message.error as { code?: unknown; message?: unknown; data?: unknown } | null;
      if (
        !error ||
        typeof error !== 'object' ||
        !Number.isInteger(error.code) ||
        typeof error.message !== 'string'
      )
        throw new McpError(-32603, `the client answered ${request.method} with a malformed error`);
      throw new McpError(error.code as number, error.message, error.data);
    }
    const result = message.result;
    if (!result || typeof result !== 'object' || Array.isArray(result))
      throw new McpError(-32603, `the client answered ${request.method} with a malformed result`);
    return result;
  } finally {
    awaiting.delete(id);
    extra.signal.removeEventListener('abort', cancel);
  }
}

export function handleUpstreamNotification(
  runtime: Runtime,
  connection: Connection,
  notification: JSONRPCNotification,
) {
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
  if (method === 'notifications/message') return deliverLog(runtime, connection, notification);
  if (method === 'notifications/resources/updated') {
    const uri = (params as { uri?: unknown } | undefined)?.uri;
    if (typeof uri !== 'string') {
      connection.upstream.log.warn('notifications/resources/updated without a string uri dropped');
      return;
    }
    const published = runtime.router.publishedUri(connection.upstream, uri);
    const message = { ...notification, params: { ...notification.params, uri: published } };
    for (const session of sessionsOf(runtime, connection)) {
      if (session.subscriptions?.has(published)) session.outlet?.send(message);
    }
    return;
  }
  if (method.endsWith('/list_changed')) return; // the catalogue refresh announces these once, merged
  if (method === 'notifications/tasks/status' && deliverTaskStatus(runtime, connection, notification)) return;
  const origin = originOf(runtime, connection);
  if (origin?.channel) origin.channel.send(notification);
  else connection.upstream.log.debug({ method }, 'notification with no known client session dropped');
}

/** Log messages go to the request's own client, or to the sessions that asked for logs at that level. */
function deliverLog(runtime: Runtime, connection: Connection, notification: JSONRPCNotification) {
  const level = LEVELS.indexOf((notification.params as { level?: LoggingLevel })?.level ?? 'info');
  const wants = (session: Session) =>
    session.logLevel !== undefined && LEVELS.indexOf(session.logLevel) <= level;
  const origin = originOf(runtime, connection);
  if (origin) {
    if (origin.session.logLevel === undefined || wants(origin.session)) origin.channel?.send(notification);
    return;
  }
  for (const session of sessionsOf(runtime, connection))
    if (wants(session)) session.outlet?.send(notification);
}

function sessionsOf(runtime: Runtime, connection: Connection): Iterable<Session> {
  if (connection.sessionKey === undefined) return runtime.sessions.all();
  const session = runtime.sessions.get(connection.sessionKey);
  return session ? [session] : [];
}

/** The most verbose level any session asked for: what a shared upstream is set to (each session is filtered). */
export function mostVerboseLevel(runtime: Runtime): LoggingLevel | undefined {
  let best: number | undefined;
  for (const session of runtime.sessions.all()) {
    if (session.logLevel === undefined) continue;
    const index = LEVELS.indexOf(session.logLevel);
    if (best === undefined || index < best) best = index;
  }
  return best === undefined ? undefined : LEVELS[best];
}

export function levelIndex(level: LoggingLevel): number {
  return LEVELS.indexOf(level);
}
