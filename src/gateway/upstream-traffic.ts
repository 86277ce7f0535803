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

const REQUIRED_CAPABILITY: Record<string, 'sampling' | 'elicitation' | 'roots'> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

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
    throw new McpError(
      -32603,
      `switchboard cannot tell which client ${request.method} is for: no single client session is waiting on upstream "${connection.upstream.name}" (use scope: session for servers that call back)`,
    );
  }
  const { session, channel } = origin;
  const capability = REQUIRED_CAPABILITY[request.method];
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
    const message = (await answer) as {
      result?: unknown;
      error?: { code: number; message: string; data?: unknown };
    };
    if (message.error) throw new McpError(message.error.code, message.error.message, message.error.data);
    return message.result;
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
  const { method } = notification;
  if (method === 'notifications/message') return deliverLog(runtime, connection, notification);
  if (method === 'notifications/resources/updated') {
    const uri = String((notification.params as { uri?: unknown })?.uri);
    const published = runtime.router.publishedUri(connection.upstream, uri);
    const message = { ...notification, params: { ...notification.params, uri: published } };
    for (const session of sessionsOf(runtime, connection)) {
      if (session.subscriptions?.has(published)) session.outlet?.send(message);
    }
    return;
  }
  if (method.endsWith('/list_changed')) return; // the catalogue refresh announces these once, merged
  if (method === 'notifications/tasks/status' && deliverTaskStatus(runtime, notification)) return;
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
