// The Streamable HTTP endpoint at /mcp, written lean: one JSON parse per POST, an application/json answer
// unless something must stream first (progress, logs, server-to-client requests), then SSE on the same POST.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { JSONRPCMessage, JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import { GatewayError } from '../errors.js';
import type { Runtime } from './runtime.js';
import type { Exchange, Outlet, Session } from './sessions.js';
import { addressSource, SourceLimits } from './source-limits.js';
import { classify } from './wire/jsonrpc.js';
import {
  handleNotification,
  handleRequest,
  handleResponse,
  negotiateVersion,
  type ResponseText,
} from './session-server.js';

const HEARTBEAT_MS = 25_000;
const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
};

/** What the endpoint needs besides the runtime, built once at start-up. */
interface Edge {
  runtime: Runtime;
  sources: SourceLimits;
  /** http.maxStreamBuffer: unread bytes one response may hold before its client is disconnected. */
  maxBuffer: number;
  /** http.drainTimeout in ms. */
  drainMs: number;
}

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
  };
  app.post('/mcp', (request, reply) => post(edge, request, reply));
  app.get('/mcp', (request, reply) => openStream(edge, request, reply));
  app.delete('/mcp', (request, reply) => {
    const session = sessionOf(runtime, request);
    runtime.sessions.close(session);
    return reply.code(200).send();
  });
}

function sessionOf(runtime: Runtime, request: FastifyRequest): Session {
  const id = request.headers['mcp-session-id'];
  if (typeof id !== 'string' || id === '') {
    throw new GatewayError('session_required', 'Bad Request: Mcp-Session-Id header is required');
  }
  const session = runtime.sessions.get(id);
  if (!session) throw new GatewayError('session_not_found', 'Session not found');
  const version = request.headers['mcp-protocol-version'];
  if (typeof version === 'string' && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
    throw new GatewayError('invalid_request', `Bad Request: unsupported MCP-Protocol-Version ${version}`);
  }
  return session;
}

async function post(edge: Edge, request: FastifyRequest, reply: FastifyReply) {
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
    // Per source first (429, that client's own limit), then the global cap (503, everyone's).
    const source = edge.sources.admit(addressSource(request.socket.remoteAddress));
    const created = runtime.sessions.create({
      protocolVersion: negotiateVersion(params.protocolVersion),
      clientCapabilities: params.capabilities ?? {},
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
    session = sessionOf(runtime, request);
  }
  if (kind === 'notification') {
    handleNotification(runtime, session, message as any);
    return reply.code(202).send();
  }
  if (kind === 'response') {
    handleResponse(session, message);
    return reply.code(202).send();
  }
  const controller = new AbortController();
  const stream = new ResponseStream(edge, reply, session.id, canStream, controller);
  const exchange: Exchange = {
    session,
    requestId: (message as JSONRPCRequest).id,
    controller,
    related: stream,
  };
  const text = await handleRequest(runtime, exchange, message as JSONRPCRequest);
  session.lastSeen = Date.now();
  // An initialize that was refused (bad params) leaves no session behind to hold a slot until it idles out.
  if (!session.initialized && (message as JSONRPCRequest).method === 'initialize')
    runtime.sessions.close(session);
  stream.finish(text);
  return reply;
}

/** The answer to one POST: plain JSON, switched to SSE the moment a related message must go first. */
class ResponseStream implements Outlet {
  private streaming = false;

  constructor(
    private readonly edge: Edge,
    private readonly reply: FastifyReply,
    private readonly sessionId: string,
    private readonly canStream: boolean,
    private readonly controller: AbortController,
  ) {}

  send(message: JSONRPCMessage): boolean {
    const raw = this.reply.raw;
    if (!this.canStream || raw.writableEnded || raw.destroyed) return false;
    if (!this.streaming) {
      this.streaming = true;
      this.reply.hijack();
      raw.writeHead(200, { ...SSE_HEADERS, 'mcp-session-id': this.sessionId });
    }
    raw.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
    if (raw.writableLength <= this.edge.maxBuffer) return true;
    // The client stopped reading: drop it rather than buffer without bound, and stop its request upstream.
    disconnect(this.edge, raw, this.sessionId, 'POST stream');
    this.controller.abort(new GatewayError('cancelled', 'the client stopped reading its stream'));
    return false;
  }

  finish(text: ResponseText): void {
    const raw = this.reply.raw;
    if (this.streaming) {
      if (raw.writableEnded || raw.destroyed) return;
      if (text === undefined) raw.end();
      else writeAll(this.edge, raw, ['event: message\ndata: ', ...pieces(text), '\n\n']);
      return;
    }
    if (text === undefined) {
      // A cancelled request gets no JSON-RPC answer; the POST still needs an HTTP one.
      void this.reply.code(202).send();
      return;
    }
    // The answer is written straight to the socket: fastify has nothing left to add to a finished body, and
    // large bodies go out as the pieces they are (no copy into one buffer).
    this.reply.hijack();
    // Earlier answers on this connection still unread (a pipelining client that never reads): no more.
    if (raw.writableLength > this.edge.maxBuffer) {
      disconnect(this.edge, raw, this.sessionId, 'pipelined answers');
      return;
    }
    const body = pieces(text);
    let length = 0;
    for (const piece of body) length += typeof piece === 'string' ? Buffer.byteLength(piece) : piece.length;
    raw.writeHead(200, {
      'content-type': 'application/json',
      'content-length': length,
      'mcp-session-id': this.sessionId,
    });
    writeAll(this.edge, raw, body);
  }
}

function pieces(text: string | Buffer | Buffer[]): (string | Buffer)[] {
  return Array.isArray(text) ? text : [text];
}

/** Writes the pieces in one go (corked: one writev) and ends the response. An answer the client does not
 * read within http.drainTimeout is dropped with its connection (no timer when the kernel took it all). */
function writeAll(edge: Edge, raw: FastifyReply['raw'], body: (string | Buffer)[]): void {
  raw.cork();
  for (let i = 0; i < body.length - 1; i++) raw.write(body[i]);
  raw.end(body[body.length - 1]);
  if (raw.writableLength === 0) return;
  const timer = setTimeout(() => {
    if (!raw.writableFinished) disconnect(edge, raw, undefined, 'unread answer');
  }, edge.drainMs);
  timer.unref();
  raw.once('close', () => clearTimeout(timer));
}

function disconnect(edge: Edge, raw: FastifyReply['raw'], sessionId: string | undefined, what: string) {
  edge.runtime.log.warn(
    { sessionId, unreadBytes: raw.writableLength, limit: edge.maxBuffer },
    `client stopped reading (${what}); disconnected (http.maxStreamBuffer, http.drainTimeout)`,
  );
  raw.destroy();
}

/** GET /mcp: the session's stream for messages that belong to no request. */
function openStream(edge: Edge, request: FastifyRequest, reply: FastifyReply) {
  const { runtime } = edge;
  const session = sessionOf(runtime, request);
  const accept = request.headers.accept ?? '';
  if (!accept.includes('text/event-stream') && !accept.includes('*/*')) {
    throw new GatewayError('not_acceptable', 'Not Acceptable: GET /mcp needs Accept: text/event-stream');
  }
  if (session.outlet) throw new GatewayError('conflict', 'Conflict: this session already has an open stream');
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
      return write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
    },
    close: () => raw.end(),
  };
  session.outlet = outlet;
  const close = () => {
    if (session.outlet === outlet) session.outlet = undefined;
    session.lastSeen = Date.now();
  };
  raw.on('close', close);
  // A comment now and then keeps proxies and load balancers from closing a quiet stream.
  const heartbeat = setInterval(() => write(': ping\n\n'), HEARTBEAT_MS);
  heartbeat.unref();
  raw.on('close', () => clearInterval(heartbeat));
}
