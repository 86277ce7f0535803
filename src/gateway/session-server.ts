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
import { bounded, isRequestId, paramsOf } from './wire/jsonrpc.js';

export const SERVER_CAPABILITIES = {
  tools: { listChanged: true },
  prompts: { listChanged: true },
  resources: { subscribe: true, listChanged: true },
  logging: {},
  completions: {},
};

const RAW_PREFIX = Buffer.from('{"result":');
const CLOSE_BRACE = Buffer.from('}');

/** Requests answered without the catalogue, so never held back while start-up settles. */
const SETTLE_EXEMPT = new Set(['initialize', 'ping']);

const TASK_CAPABILITY = { list: {}, cancel: {}, requests: { tools: { call: {} } } };

/** A Map, not an object literal: a method named `constructor` or `__proto__` must find nothing here. */
const LIST_METHODS = new Map<string, CatalogKind>([
  ['tools/list', 'tools'],
  ['prompts/list', 'prompts'],
  ['resources/list', 'resources'],
  ['resources/templates/list', 'resourceTemplates'],
]);

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

/**
 * Handles one client request (already classified by the front: string method, valid id); never throws (errors
 * become JSON-RPC error responses). With debug logging on, each call leaves one request log line.
 */
export async function handleRequest(
  runtime: Runtime,
  exchange: Exchange,
  request: JSONRPCRequest,
): Promise<ResponseText> {
  const { session } = exchange;
  const inflight = (session.inflight ??= new Map());
  inflight.set(request.id, exchange);
  const debug = runtime.log.isLevelEnabled('debug');
  const started = debug ? performance.now() : 0;
  let outcome: string | number = 'ok';
  try {
    // Until start-up settles the catalogue is partial: answer from the whole of it, not from whoever was first.
    if (!runtime.catalogueReady && runtime.untilSettled && !SETTLE_EXEMPT.has(request.method)) {
      await runtime.untilSettled;
      // Cancelled (or its session closed) while it waited: it must not reach an upstream now.
      exchange.controller.signal.throwIfAborted();
    }
    const listed = LIST_METHODS.get(request.method);
    if (listed) {
      if (request.params !== undefined) paramsOf(request.params);
      const head = Buffer.from(`{"jsonrpc":"2.0","id":${JSON.stringify(request.id)},"result":`);
      return [head, runtime.router.listJson(listed), CLOSE_BRACE];
    }
    const result = await dispatch(runtime, exchange, request);
    if (debug && (result as { isError?: unknown } | undefined)?.isError === true) outcome = 'isError';
    const raw = rawResult(result);
    if (raw) {
      // The envelope's own jsonrpc and id come last, so nothing inside the upstream's bytes can override them.
      // The upstream's pieces go out as they are (the fronts write Buffer[]): no copy of a large result.
      return [RAW_PREFIX, ...raw, Buffer.from(`,"jsonrpc":"2.0","id":${JSON.stringify(request.id)}}`)];
    }
    return resultText(request.id, JSON.stringify(result));
  } catch (error) {
    if (exchange.controller.signal.aborted && !session.closed && isCancellation(exchange)) {
      outcome = 'cancelled';
      return undefined;
    }
    const gatewayError = fromUpstreamError(error);
    outcome = gatewayError.code;
    return errorText(request.id, gatewayError);
  } finally {
    inflight.delete(request.id);
    if (debug) logRequest(runtime, exchange, request, started, outcome);
  }
}

/** The debug request log line: what was called, where, how long and how it ended; never the arguments. */
function logRequest(
  runtime: Runtime,
  exchange: Exchange,
  request: JSONRPCRequest,
  started: number,
  outcome: string | number,
): void {
  const params = request.params as Record<string, unknown> | undefined;
  const ref = params?.ref as Record<string, unknown> | undefined;
  const name = params?.name ?? params?.uri ?? ref?.name ?? ref?.uri;
  runtime.log.debug(
    {
      method: bounded(request.method),
      ...(typeof name === 'string' ? { name: bounded(name) } : {}),
      ...(exchange.connection ? { upstream: exchange.connection.upstream.name } : {}),
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
      outcome,
    },
    'request',
  );
}

/** Wire values are checked for type before use: a wrong type is invalid params, never a coerced string. */
function stringParam(params: Record<string, any>, key: string, method: string): string {
  const value = params[key];
  if (typeof value !== 'string')
    throw new GatewayError('invalid_params', `Invalid params: ${method} needs params.${key} as a string`);
  return value;
}

function objectParam(params: Record<string, any>, key: string, method: string): void {
  const value = params[key];
  if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value)))
    throw new GatewayError('invalid_params', `Invalid params: params.${key} of ${method} must be an object`);
}

async function dispatch(runtime: Runtime, exchange: Exchange, request: JSONRPCRequest): Promise<unknown> {
  const params = paramsOf(request.params) as Record<string, any>;
  const method = request.method;
  objectParam(params, '_meta', method);
  const token = params._meta?.progressToken;
  if (token !== undefined && !isRequestId(token))
    throw new GatewayError(
      'invalid_params',
      'Invalid params: _meta.progressToken must be a string or a number',
    );
  const { router } = runtime;
  switch (method) {
    case 'ping':
      return {};
    case 'initialize':
      objectParam(params, 'capabilities', method);
      return initialize(runtime, exchange.session, params);
    case 'tools/call': {
      const name = stringParam(params, 'name', method);
      objectParam(params, 'arguments', method);
      objectParam(params, 'task', method);
      const target = router.tool(name);
      if (!target) throw new GatewayError('not_found', `Unknown tool: ${bounded(name)}`);
      const result = await forward(runtime, exchange, target.upstream, method, {
        ...params,
        name: target.name,
      });
      return params.task ? recordTask(runtime, exchange, target.upstream, result) : result;
    }
    case 'prompts/get': {
      const name = stringParam(params, 'name', method);
      objectParam(params, 'arguments', method);
      const target = router.prompt(name);
      if (!target) throw new GatewayError('not_found', `Unknown prompt: ${bounded(name)}`);
      return forward(runtime, exchange, target.upstream, method, { ...params, name: target.name });
    }
    case 'resources/read':
      return readResource(runtime, exchange, params, stringParam(params, 'uri', method));
    case 'resources/subscribe':
    case 'resources/unsubscribe':
      return subscription(runtime, exchange, method, params, stringParam(params, 'uri', method));
    case 'completion/complete':
      objectParam(params, 'ref', method);
      objectParam(params, 'argument', method);
      return complete(runtime, exchange, params);
    case 'logging/setLevel':
      return setLevel(runtime, exchange, stringParam(params, 'level', method) as LoggingLevel);
    default:
      if (TASK_METHODS.has(method)) return handleTaskRequest(runtime, exchange, method, params);
      throw new GatewayError('method_not_found', `Method not found: ${bounded(method)}`);
  }
}

function initialize(runtime: Runtime, session: Session, params: Record<string, any>) {
  session.protocolVersion = negotiateVersion(params.protocolVersion);
  session.clientCapabilities = params.capabilities ?? {};
  session.initialized = true;
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

async function readResource(runtime: Runtime, exchange: Exchange, params: Record<string, any>, uri: string) {
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
  throw new GatewayError('not_found', `Resource not found: ${bounded(uri)}`, { data: { uri } });
}

async function subscription(
  runtime: Runtime,
  exchange: Exchange,
  method: string,
  params: Record<string, any>,
  uri: string,
) {
  const target = runtime.router.resource(uri);
  if (!target) throw new GatewayError('not_found', `Resource not found: ${bounded(uri)}`, { data: { uri } });
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
    const name = stringParam(ref, 'name', 'completion/complete (ref)');
    const target = runtime.router.prompt(name);
    if (!target) throw new GatewayError('not_found', `Unknown prompt: ${bounded(name)}`);
    return forward(runtime, exchange, target.upstream, 'completion/complete', {
      ...params,
      ref: { ...ref, name: target.name },
    });
  }
  if (ref.type === 'ref/resource') {
    const uri = stringParam(ref, 'uri', 'completion/complete (ref)');
    const upstream = runtime.router.templateOwner(uri) ?? runtime.router.resource(uri)?.upstream;
    if (!upstream) throw new GatewayError('not_found', `Unknown resource template: ${bounded(uri)}`);
    return forward(runtime, exchange, upstream, 'completion/complete', params);
  }
  const type = typeof ref.type === 'string' ? JSON.stringify(bounded(ref.type)) : typeof ref.type;
  throw new GatewayError('invalid_params', `completion/complete: unknown ref type ${type}`);
}

async function setLevel(runtime: Runtime, exchange: Exchange, level: LoggingLevel) {
  if (levelIndex(level) === -1)
    throw new GatewayError('invalid_params', `Unknown logging level: ${bounded(level)}`);
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
  session.lastSeen = Date.now();
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
  session.lastSeen = Date.now();
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
