// A client session's own methods, answered by the gateway itself: initialize (capabilities, the instructions
// of the upstreams this principal may see), logging/setLevel, and the client's notifications.
import {
  LATEST_PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
  type JSONRPCNotification,
  type LoggingLevel,
} from '@modelcontextprotocol/sdk/types.js';
import { GatewayError } from '../../errors.js';
import type { Visibility } from '../../policy/compose.js';
import type { Target } from '../../policy/types.js';
import type { Upstream } from '../../upstreams/pool.js';
import { GATEWAY_INFO } from '../../upstreams/transports.js';
import type { Forwarder } from '../pipeline/forward.js';
import { bounded } from '../wire/jsonrpc.js';
import type { Exchange, Session, SessionRegistry } from './sessions.js';
import { CallAbort } from './call-abort.js';

export const SERVER_CAPABILITIES = {
  tools: { listChanged: true },
  prompts: { listChanged: true },
  resources: { subscribe: true, listChanged: true },
  logging: {},
  completions: {},
};

const TASK_CAPABILITY = { list: {}, cancel: {}, requests: { tools: { call: {} } } };

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

export function levelIndex(level: LoggingLevel): number {
  return LEVELS.indexOf(level);
}

export function negotiateVersion(requested: unknown): string {
  return typeof requested === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(requested)
    ? requested
    : LATEST_PROTOCOL_VERSION;
}

/** An upstream as a whole, as the visibility predicate sees it (instructions, logs, probes). */
export function upstreamTarget(name: string): Target {
  return { kind: 'upstream', upstream: name, name, original: name };
}

/** The upstreams this session's principal may see (all of them when no policy filters). */
function seenBy(upstreams: readonly Upstream[], visibility: Visibility | undefined, session: Session) {
  return visibility
    ? upstreams.filter((u) => visibility.visible(session.principal, upstreamTarget(u.name)))
    : upstreams;
}

export function initialize(
  upstreams: readonly Upstream[],
  visibility: Visibility | undefined,
  session: Session,
  params: Record<string, any>,
) {
  session.protocolVersion = negotiateVersion(params.protocolVersion);
  session.clientCapabilities = params.capabilities ?? {};
  session.initialized = true;
  const seen = seenBy(upstreams, visibility, session);
  const instructions = seen
    .map((u) => u.instructions && `${u.name}: ${u.instructions}`)
    .filter(Boolean)
    .join('\n\n');
  // Tasks are offered when an upstream runs tool calls as tasks; the gateway only routes them.
  const tasks = seen.some((u) => u.capabilities?.tasks?.requests?.tools?.call);
  return {
    protocolVersion: session.protocolVersion,
    capabilities: tasks ? { ...SERVER_CAPABILITIES, tasks: TASK_CAPABILITY } : SERVER_CAPABILITIES,
    serverInfo: GATEWAY_INFO,
    ...(instructions ? { instructions } : {}),
  };
}

/** logging/setLevel: shared upstreams run at the most verbose level anyone asked for; each session is
 * filtered to its own level on delivery. */
export async function setLevel(
  upstreams: readonly Upstream[],
  sessions: SessionRegistry,
  forwarder: Forwarder,
  exchange: Exchange,
  level: LoggingLevel,
): Promise<object> {
  if (levelIndex(level) === -1)
    throw new GatewayError('invalid_params', `Unknown logging level: ${bounded(level)}`);
  exchange.session.logLevel = level;
  const sharedLevel = mostVerboseLevel(sessions) ?? level;
  await Promise.all(
    upstreams
      .filter((u) => u.state === 'ready' && u.capabilities?.logging)
      .map((upstream) =>
        tellLevel(forwarder, exchange, upstream, upstream.options.scope === 'shared' ? sharedLevel : level),
      ),
  );
  return {};
}

/**
 * A level set through another replica (`redis:`, the session's copy already has it): this replica's shared
 * upstreams run at the most verbose level its sessions now ask for. A `scope: session` upstream was told by the
 * replica that set it (its calls reach the one connection wherever it runs).
 */
export async function followLevel(
  upstreams: readonly Upstream[],
  sessions: SessionRegistry,
  forwarder: Forwarder,
  exchange: Exchange,
): Promise<void> {
  const sharedLevel = mostVerboseLevel(sessions);
  if (sharedLevel === undefined) return;
  await Promise.all(
    upstreams
      .filter((u) => u.state === 'ready' && u.capabilities?.logging && u.options.scope === 'shared')
      .map((upstream) => tellLevel(forwarder, exchange, upstream, sharedLevel)),
  );
}

function tellLevel(forwarder: Forwarder, exchange: Exchange, upstream: Upstream, level: LoggingLevel) {
  const sub = { ...exchange, controller: new CallAbort(), connection: undefined, internal: true };
  return forwarder
    .value(sub, upstream, 'logging/setLevel', { level })
    .catch((error) => upstream.log.warn({ error: String(error) }, 'logging/setLevel failed'));
}

/** The most verbose level any session asked for: what a shared upstream is set to. */
function mostVerboseLevel(sessions: SessionRegistry): LoggingLevel | undefined {
  let best: number | undefined;
  for (const session of sessions.all()) {
    if (session.logLevel === undefined) continue;
    const index = LEVELS.indexOf(session.logLevel);
    if (best === undefined || index < best) best = index;
  }
  return best === undefined ? undefined : LEVELS[best];
}

/** Client notifications: cancellation, roots changes (initialized needs nothing). */
export function handleNotification(
  upstreamNamed: (name: string) => Upstream | undefined,
  session: Session,
  notification: JSONRPCNotification,
): void {
  session.lastSeen = Date.now();
  switch (notification.method) {
    case 'notifications/cancelled': {
      const id = (notification.params as { requestId?: string | number })?.requestId;
      const exchange = id === undefined ? undefined : session.inflight?.find((e) => e.requestId === id);
      exchange?.controller.abort(new GatewayError('cancelled', 'cancelled by the client'));
      return;
    }
    case 'notifications/roots/list_changed':
      // Roots belong to one client: only its own per-session upstream connections hear about them.
      for (const name of session.scopedUpstreams ?? []) {
        const upstream = upstreamNamed(name);
        if (!upstream) continue;
        void Promise.resolve()
          .then(() => upstream.connectionFor(session.id, session.clientCapabilities))
          .then((c) => c.client.notification({ method: notification.method }))
          .catch(() => {});
      }
      return;
    default:
      return;
  }
}
