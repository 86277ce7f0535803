// The MCP server side of a client session, without an SDK Server object per session: lifecycle,
// capabilities, and dispatch of each client message into the router. Lists are answered from the
// pre-serialised cache; calls pass the upstream's result through without re-validating it.
import {
  LATEST_PROTOCOL_VERSION,
  SUPPORTED_PROTOCOL_VERSIONS,
  type JSONRPCMessage,
  type JSONRPCNotification,
  type JSONRPCRequest,
  type LoggingLevel,
} from '@modelcontextprotocol/sdk/types.js';
import { GatewayError } from '../errors.js';
import type { CatalogKind } from '../upstreams/catalog.js';
import { rawResult } from '../upstreams/raw-results.js';
import { GATEWAY_INFO } from '../upstreams/transports.js';
import { forward, fromUpstreamError } from './dispatch.js';
import type { Runtime } from './runtime.js';
import type { Exchange, Session } from './sessions.js';
import { handleTaskRequest, recordTask, TASK_METHODS } from './tasks.js';
import { levelIndex, mostVerboseLevel } from './upstream-traffic.js';

export const SERVER_CAPABILITIES = {
  tools: { listChanged: true },
  prompts: { listChanged: true },
  resources: { subscribe: true, listChanged: true },
  logging: {},
  completions: {},
};

const RAW_PREFIX = Buffer.from('{"result":');
const CLOSE_BRACE = Buffer.from('}');

const TASK_CAPABILITY = { list: {}, cancel: {}, requests: { tools: { call: {} } } };

const LIST_METHODS: Record<string, CatalogKind> = {
  'tools/list': 'tools',
  'prompts/list': 'prompts',
  'resources/list': 'resources',
  'resources/templates/list': 'resourceTemplates',
};

export function negotiateVersion(requested: unknown): string {
  return typeof requested === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(requested)
    ? requested
    : LATEST_PROTOCOL_VERSION;
}

/** The JSON text of a response (bytes when an upstream's own are passed on); `undefined` when the request was
 * cancelled and must not be answered. */
export type ResponseText = string | Buffer | Buffer[] | undefined;

export function resultText(id: JSONRPCRequest['id'], resultJson: string): string {
  return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${resultJson}}`;
}

export function errorText(id: JSONRPCRequest['id'] | null, error: GatewayError): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error: error.toJsonRpcError() });
}

/** Handles one client request; never throws (errors become JSON-RPC error responses). */
export async function handleRequest(
  runtime: Runtime,
  exchange: Exchange,
  request: JSONRPCRequest,
): Promise<ResponseText> {
  const { session } = exchange;
  const inflight = (session.inflight ??= new Map());
  inflight.set(request.id, exchange);
  try {
    const listed = LIST_METHODS[request.method];
    if (listed) {
      const head = Buffer.from(`{"jsonrpc":"2.0","id":${JSON.stringify(request.id)},"result":`);
      return [head, runtime.router.listJson(listed), CLOSE_BRACE];
    }
    const result = await dispatch(runtime, exchange, request);
    const raw = rawResult(result);
    if (raw) {
      // The envelope's own jsonrpc and id come last, so nothing inside the upstream's bytes can override them.
      return Buffer.concat([
        RAW_PREFIX,
        raw,
        Buffer.from(`,"jsonrpc":"2.0","id":${JSON.stringify(request.id)}}`),
      ]);
    }
    return resultText(request.id, JSON.stringify(result));
  } catch (error) {
    if (exchange.controller.signal.aborted && !session.closed && isCancellation(exchange)) return undefined;
    return errorText(request.id, fromUpstreamError(error));
  } finally {
    inflight.delete(request.id);
  }
}

async function dispatch(runtime: Runtime, exchange: Exchange, request: JSONRPCRequest): Promise<unknown> {
  const params = (request.params ?? {}) as Record<string, any>;
  const { router } = runtime;
  switch (request.method) {
    case 'ping':
      return {};
    case 'initialize':
      return initialize(runtime, exchange.session, params);
    case 'tools/call': {
      const target = router.tool(String(params.name));
      if (!target) throw new GatewayError('not_found', `Unknown tool: ${params.name}`);
      const result = await forward(runtime, exchange, target.upstream, request.method, {
        ...params,
        name: target.name,
      });
      if (params.task) recordTask(runtime, exchange.session, target.upstream, result);
      return result;
    }
    case 'prompts/get': {
      const target = router.prompt(String(params.name));
      if (!target) throw new GatewayError('not_found', `Unknown prompt: ${params.name}`);
      return forward(runtime, exchange, target.upstream, request.method, { ...params, name: target.name });
    }
    case 'resources/read':
      return readResource(runtime, exchange, params);
    case 'resources/subscribe':
    case 'resources/unsubscribe':
      return subscription(runtime, exchange, request.method, params);
    case 'completion/complete':
      return complete(runtime, exchange, params);
    case 'logging/setLevel':
      return setLevel(runtime, exchange, params.level);
    default:
      if (TASK_METHODS.has(request.method))
        return handleTaskRequest(runtime, exchange, request.method, params);
      throw new GatewayError('method_not_found', `Method not found: ${request.method}`);
  }
}

function initialize(runtime: Runtime, session: Session, params: Record<string, any>) {
  session.protocolVersion = negotiateVersion(params.protocolVersion);
  session.clientCapabilities = params.capabilities ?? {};
  const instructions = runtime.upstreams
    .map((u) => u.instructions && `${u.name}: ${u.instructions}`)
    .filter(Boolean)
    .join('\n\n');
  // Tasks are offered when an upstream runs tool calls as tasks; the gateway only routes them.
  const tasks = runtime.upstreams.some((u) => u.capabilities?.tasks?.requests?.tools?.call);
  return {
    protocolVersion: session.protocolVersion,
    capabilities: tasks ? { ...SERVER_CAPABILITIES, tasks: TASK_CAPABILITY } : SERVER_CAPABILITIES,
    serverInfo: GATEWAY_INFO,
    ...(instructions ? { instructions } : {}),
  };
}

async function readResource(runtime: Runtime, exchange: Exchange, params: Record<string, any>) {
  const uri = String(params.uri);
  const target = runtime.router.resource(uri);
  if (target)
    return forward(runtime, exchange, target.upstream, 'resources/read', { ...params, uri: target.name });
  // An unlisted URI (a link inside a result, say) is asked of each resource server in turn.
  let firstError: unknown;
  for (const upstream of runtime.router.resourceUpstreams()) {
    try {
      return await forward(runtime, exchange, upstream, 'resources/read', params);
    } catch (error) {
      if (exchange.controller.signal.aborted) throw error;
      firstError ??= error;
    }
  }
  if (firstError && !isNotFound(firstError)) throw firstError;
  throw new GatewayError('not_found', `Resource not found: ${uri}`, { data: { uri } });
}

async function subscription(
  runtime: Runtime,
  exchange: Exchange,
  method: string,
  params: Record<string, any>,
) {
  const uri = String(params.uri);
  const target = runtime.router.resource(uri);
  if (!target) throw new GatewayError('not_found', `Resource not found: ${uri}`, { data: { uri } });
  const subscribing = method === 'resources/subscribe';
  const session = exchange.session;
  const mine = (session.subscriptions ??= new Set());
  if (subscribing === mine.has(uri)) return {};
  // A shared upstream is told once: on the first subscriber and after the last one leaves.
  let others = 0;
  if (target.upstream.options.scope === 'shared') {
    for (const s of runtime.sessions.all()) if (s !== session && s.subscriptions?.has(uri)) others++;
  }
  if (others === 0)
    await forward(runtime, exchange, target.upstream, method, { ...params, uri: target.name });
  if (subscribing) mine.add(uri);
  else mine.delete(uri);
  return {};
}

async function complete(runtime: Runtime, exchange: Exchange, params: Record<string, any>) {
  const ref = params.ref ?? {};
  if (ref.type === 'ref/prompt') {
    const target = runtime.router.prompt(String(ref.name));
    if (!target) throw new GatewayError('not_found', `Unknown prompt: ${ref.name}`);
    return forward(runtime, exchange, target.upstream, 'completion/complete', {
      ...params,
      ref: { ...ref, name: target.name },
    });
  }
  if (ref.type === 'ref/resource') {
    const upstream =
      runtime.router.templateOwner(String(ref.uri)) ?? runtime.router.resource(String(ref.uri))?.upstream;
    if (!upstream) throw new GatewayError('not_found', `Unknown resource template: ${ref.uri}`);
    return forward(runtime, exchange, upstream, 'completion/complete', params);
  }
  throw new GatewayError(
    'invalid_params',
    `completion/complete: unknown ref type ${JSON.stringify(ref.type)}`,
  );
}

async function setLevel(runtime: Runtime, exchange: Exchange, level: LoggingLevel) {
  if (levelIndex(level) === -1) throw new GatewayError('invalid_params', `Unknown logging level: ${level}`);
  exchange.session.logLevel = level;
  // Shared upstreams run at the most verbose level anyone asked for; each session is filtered to its own.
  const sharedLevel = mostVerboseLevel(runtime) ?? level;
  await Promise.all(
    runtime.upstreams
      .filter((u) => u.state === 'ready' && u.capabilities?.logging)
      .map(async (upstream) => {
        const target = upstream.options.scope === 'shared' ? sharedLevel : level;
        const sub = { ...exchange, controller: new AbortController(), connection: undefined };
        await forward(runtime, sub, upstream, 'logging/setLevel', { level: target }).catch((error) =>
          upstream.log.warn({ error: String(error) }, 'logging/setLevel failed'),
        );
      }),
  );
  return {};
}

/** Client notifications: initialized, cancellation, roots changes. */
export function handleNotification(
  runtime: Runtime,
  session: Session,
  notification: JSONRPCNotification,
): void {
  switch (notification.method) {
    case 'notifications/cancelled': {
      const id = (notification.params as { requestId?: string | number })?.requestId;
      const exchange = id === undefined ? undefined : session.inflight?.get(id);
      exchange?.controller.abort(new GatewayError('cancelled', 'cancelled by the client'));
      return;
    }
    case 'notifications/roots/list_changed':
      // Roots belong to one client: only its own per-session upstream connections hear about them.
      for (const name of session.scopedUpstreams ?? []) {
        const upstream = runtime.upstream(name);
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

/** A client's answer to a server-to-client request. */
export function handleResponse(session: Session, message: JSONRPCMessage): void {
  const id = (message as { id?: unknown }).id;
  if (typeof id !== 'number') return;
  session.awaiting?.get(id)?.(message);
}

function isCancellation(exchange: Exchange): boolean {
  return (
    exchange.controller.signal.reason instanceof GatewayError &&
    exchange.controller.signal.reason.kind === 'cancelled'
  );
}

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === -32002 || code === -32602;
}
