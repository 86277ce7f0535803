// The Streamable HTTP endpoint at /mcp, written lean: one JSON parse per POST, the principal established per
// request, the session looked up (and bound to that principal), an application/json answer unless something
// must stream first (http-stream.ts); GET opens the session's own stream, DELETE ends the session.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { JSONRPCMessage, JSONRPCNotification, JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import { GatewayError } from '../../errors.js';
import type { Principal } from '../../policy/types.js';
import type { Runtime } from '../runtime.js';
import { handleResponse } from '../session/ask-client.js';
import { handleNotification, negotiateVersion } from '../session/lifecycle.js';
import type { Exchange, Outlet, Session } from '../session/sessions.js';
import { addressSource, SourceLimits } from '../stores/source-limits.js';
import { classify, sseFrame } from '../wire/jsonrpc.js';
import { sameIdentity } from './auth.js';
import { principalOf } from './auth-hook.js';
import { disconnect, ResponseStream, SSE_HEADERS, type WriteLimits } from './http-stream.js';
import { lostAnswer, primingEvent, resumable, resumedRequest } from './stream-resume.js';
import { CallAbort } from '../session/call-abort.js';

const HEARTBEAT_MS = 25_000;

/** What the endpoint needs besides the runtime, built once at start-up. */
interface Edge extends WriteLimits {
  runtime: Runtime;
  sources: SourceLimits;
}

/** Who a request is from, as the route it came through sees it. */
type PrincipalOf = (request: FastifyRequest) => Principal;

/**
 * The principal of each request is the one the authenticate hook (auth-hook.ts) put on it; a virtual endpoint
 * (`endpoints:`, /mcp/<name>) adds its name, so its sessions see the endpoint's subset and belong to it.
 */
export function registerMcpEndpoint(app: FastifyInstance, runtime: Runtime): void {
  const { http, sessions } = runtime.config;
  const edge: Edge = {
    runtime,
    sources: new SourceLimits({
      maxPerSource: sessions.maxPerSource,
      ratePerMinute: sessions.ratePerSource,
    }),
    maxBuffer: http.maxStreamBuffer,
    drainMs: http.drainTimeout,
    log: runtime.log,
  };
  route(app, '/mcp', edge, principalOf);
  const endpoints = runtime.config.endpoints;
  if (!endpoints) return;
  // A Set of the configured names: the path segment is only ever compared, never used as a key.
  const names = new Set(Object.keys(endpoints));
  const viaEndpoint = (request: FastifyRequest): Principal => {
    const name = (request.params as { endpoint: string }).endpoint;
    if (!names.has(name))
      throw new GatewayError('not_found', 'Not Found: no such endpoint on this gateway (see endpoints:)');
    return { ...principalOf(request), endpoint: name };
  };
  route(app, '/mcp/:endpoint', edge, viaEndpoint);
}

function route(app: FastifyInstance, path: string, edge: Edge, principalFor: PrincipalOf): void {
  app.post(path, (request, reply) => post(edge, request, reply, principalFor(request)));
  app.get(path, (request, reply) => openStream(edge, request, reply, principalFor(request)));
  app.delete(path, async (request, reply) => {
    const { runtime } = edge;
    const session = await sessionOf(runtime, request, principalFor(request));
    runtime.sessions.close(session);
    await runtime.cluster?.ended(session);
    return reply.code(200).send();
  });
}

/**
 * The session a request names, bound to its principal. With `redis:`, a session this replica has not seen is
 * taken up from Redis (the only case that awaits).
 */
function sessionOf(
  runtime: Runtime,
  request: FastifyRequest,
  principal: Principal,
): Session | Promise<Session> {
  const id = request.headers['mcp-session-id'];
  if (typeof id !== 'string' || id === '') {
    throw new GatewayError('session_required', 'Bad Request: Mcp-Session-Id header is required');
  }
  const version = request.headers['mcp-protocol-version'];
  if (typeof version === 'string' && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
    throw new GatewayError('invalid_request', `Bad Request: unsupported MCP-Protocol-Version ${version}`);
  }
  const session = runtime.sessions.get(id);
  if (session || !runtime.cluster) return boundTo(session, principal);
  return runtime.cluster.find(id).then((found) => boundTo(found, principal));
}

function boundTo(session: Session | undefined, principal: Principal): Session {
  // A session id is not a credential: presented by another identity, it is a session that does not exist.
  if (!session || !sameIdentity(session.principal, principal))
    throw new GatewayError('session_not_found', 'Session not found');
  return session;
}

async function post(edge: Edge, request: FastifyRequest, reply: FastifyReply, principal: Principal) {
  const { runtime } = edge;
  const kind = classify(request.body);
  const message = request.body as JSONRPCMessage;
  const accept = request.headers.accept ?? '';
  const canStream = accept === '' || accept.includes('text/event-stream') || accept.includes('*/*');
  if (accept !== '' && !canStream && !accept.includes('application/json')) {
    throw new GatewayError(
      'not_acceptable',
      'Not Acceptable: Accept must include application/json and text/event-stream',
    );
  }
  let session: Session;
  if (kind === 'request' && (message as JSONRPCRequest).method === 'initialize') {
    const params = ((message as JSONRPCRequest).params ?? {}) as Record<string, any>;
    // Shutting down (drain.ts): a new session belongs on another replica; the open ones are still served.
    if (runtime.draining)
      throw new GatewayError(
        'overloaded',
        'Service Unavailable: this gateway is shutting down (draining) and opens no new sessions; connect again',
      );
    // Per source first (429, that client's own limit), then the global cap (503, everyone's).
    const source = edge.sources.admit(addressSource(request.socket.remoteAddress));
    const created = runtime.sessions.create({
      protocolVersion: negotiateVersion(params.protocolVersion),
      clientCapabilities: params.capabilities ?? {},
      principal,
      source,
    });
    if (!created) edge.sources.refund(source);
    if (!created)
      throw new GatewayError(
        'overloaded',
        'Service Unavailable: too many open sessions (sessions.max); try again later',
      );
    session = created;
  } else {
    const found = sessionOf(runtime, request, principal);
    session = found instanceof Promise ? await found : found;
  }
  if (kind === 'notification') {
    handleNotification(runtime.upstream, session, message as JSONRPCNotification);
    runtime.cluster?.notified(session, message as JSONRPCNotification);
    return reply.code(202).send();
  }
  if (kind === 'response') {
    // With replicas, the answer goes to the one that asked.
    if (!runtime.cluster?.answer(session, message)) handleResponse(session, message);
    return reply.code(202).send();
  }
  const controller = new CallAbort();
  const requestId = (message as JSONRPCRequest).id;
  const priming = resumable(session.protocolVersion)
    ? () => primingEvent(runtime.cluster?.replica ?? 'local', requestId)
    : undefined;
  const stream = new ResponseStream(edge, reply, session.id, canStream, controller, priming);
  const exchange: Exchange = {
    session,
    principal,
    requestId,
    controller,
    related: stream,
    bearer: request.bearer,
  };
  // Traced: a client's `traceparent` header is the parent when its message carries none in `_meta`.
  runtime.tracing?.fromHeaders(message as JSONRPCRequest, request.headers);
  const text = await runtime.handler.handle(exchange, message as JSONRPCRequest);
  const now = (session.lastSeen = Date.now());
  if ((message as JSONRPCRequest).method === 'initialize') {
    // An initialize that was refused (bad params) leaves no session behind to hold a slot until it idles out.
    if (!session.initialized) runtime.sessions.close(session);
    // Shared before the answer: the client's next request may reach another replica.
    else if (runtime.cluster) await shared(runtime, session);
  } else runtime.cluster?.touched(session, now);
  stream.finish(text);
  return reply;
}

/** A session opened here, written to Redis; when Redis cannot take it, it is served by this replica alone. */
async function shared(runtime: Runtime, session: Session): Promise<void> {
  await runtime
    .cluster!.opened(session)
    .catch((error: Error) =>
      runtime.log.warn(
        { err: error.message },
        'redis: a new session could not be shared; only this replica can serve it',
      ),
    );
}

/** GET /mcp (or /mcp/<endpoint>): the session's stream for messages that belong to no request. */
async function openStream(edge: Edge, request: FastifyRequest, reply: FastifyReply, principal: Principal) {
  const { runtime } = edge;
  const found = sessionOf(runtime, request, principal);
  const session = found instanceof Promise ? await found : found;
  const accept = request.headers.accept ?? '';
  if (!accept.includes('text/event-stream') && !accept.includes('*/*')) {
    throw new GatewayError('not_acceptable', 'Not Acceptable: GET /mcp needs Accept: text/event-stream');
  }
  // A client resuming a POST stream that was cut: its answer is lost (nothing is replayed), and it hears so now.
  const resumed = resumedRequest(request.headers['last-event-id']);
  if (resumed !== undefined) {
    reply.hijack();
    reply.raw.writeHead(200, { ...SSE_HEADERS, 'mcp-session-id': session.id });
    reply.raw.end(sseFrame(lostAnswer(resumed)));
    return;
  }
  // A stream another replica holds (`redis:`) is taken over: the newest GET is where the client listens.
  if (session.outlet && !session.outlet.remote)
    throw new GatewayError('conflict', 'Conflict: this session already has an open stream');
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, { ...SSE_HEADERS, 'mcp-session-id': session.id });
  raw.write(': stream open\n\n');
  /** Writes a frame; a client that leaves more than http.maxStreamBuffer unread is disconnected. */
  const write = (frame: string) => {
    raw.write(frame);
    if (raw.writableLength <= edge.maxBuffer) return true;
    disconnect(edge, raw, session.id, 'GET stream');
    return false;
  };
  const outlet: Outlet = {
    send(message) {
      if (raw.writableEnded || raw.destroyed) return false;
      return write(sseFrame(message));
    },
    close: () => raw.end(),
  };
  session.outlet = outlet;
  void runtime.cluster?.streamOpened(session, outlet);
  const close = () => {
    if (session.outlet === outlet) {
      session.outlet = undefined;
      void runtime.cluster?.streamClosed(session, outlet);
    }
    session.lastSeen = Date.now();
  };
  raw.on('close', close);
  // A comment now and then keeps proxies and load balancers from closing a quiet stream.
  const heartbeat = setInterval(() => write(': ping\n\n'), HEARTBEAT_MS);
  heartbeat.unref();
  raw.on('close', () => clearInterval(heartbeat));
}
