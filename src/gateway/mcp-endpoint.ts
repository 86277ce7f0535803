// The Streamable HTTP endpoint at /mcp, written lean: one JSON parse per POST, an application/json answer
// unless something must stream first (progress, logs, server-to-client requests), then SSE on the same POST.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { JSONRPCMessage, JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import { GatewayError } from '../errors.js';
import type { Runtime } from './runtime.js';
import type { Exchange, Outlet, Session } from './sessions.js';
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

export function registerMcpEndpoint(app: FastifyInstance, runtime: Runtime): void {
  app.post('/mcp', (request, reply) => post(runtime, request, reply));
  app.get('/mcp', (request, reply) => openStream(runtime, request, reply));
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

function classify(body: unknown): 'request' | 'notification' | 'response' {
  if (Array.isArray(body)) {
    throw new GatewayError(
      'invalid_request',
      'Invalid Request: JSON-RPC batches are not supported (removed in MCP 2025-06-18)',
    );
  }
  const message = body as Record<string, unknown> | null;
  if (!message || typeof message !== 'object' || message.jsonrpc !== '2.0') {
    throw new GatewayError('invalid_request', 'Invalid Request: expected a JSON-RPC 2.0 message object');
  }
  if (typeof message.method === 'string') {
    if (!('id' in message)) return 'notification';
    if (typeof message.id === 'string' || (typeof message.id === 'number' && Number.isFinite(message.id)))
      return 'request';
    throw new GatewayError('invalid_request', 'Invalid Request: id must be a string or a number');
  }
  if ('id' in message && ('result' in message || 'error' in message)) return 'response';
  throw new GatewayError('invalid_request', 'Invalid Request: not a request, notification or response');
}

async function post(runtime: Runtime, request: FastifyRequest, reply: FastifyReply) {
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
    const created = runtime.sessions.create({
      protocolVersion: negotiateVersion(params.protocolVersion),
      clientCapabilities: params.capabilities ?? {},
    });
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
  const stream = new ResponseStream(reply, session.id, canStream);
  const exchange: Exchange = {
    session,
    requestId: (message as JSONRPCRequest).id,
    controller: new AbortController(),
    related: stream,
  };
  const text = await handleRequest(runtime, exchange, message as JSONRPCRequest);
  session.lastSeen = Date.now();
  stream.finish(text);
  return reply;
}

/** The answer to one POST: plain JSON, switched to SSE the moment a related message must go first. */
class ResponseStream implements Outlet {
  private streaming = false;

  constructor(
    private readonly reply: FastifyReply,
    private readonly sessionId: string,
    private readonly canStream: boolean,
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
    return true;
  }

  finish(text: ResponseText): void {
    const raw = this.reply.raw;
    if (this.streaming) {
      if (raw.writableEnded) return;
      if (text === undefined) raw.end();
      else writeAll(raw, ['event: message\ndata: ', ...pieces(text), '\n\n']);
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
    const body = pieces(text);
    let length = 0;
    for (const piece of body) length += typeof piece === 'string' ? Buffer.byteLength(piece) : piece.length;
    raw.writeHead(200, {
      'content-type': 'application/json',
      'content-length': length,
      'mcp-session-id': this.sessionId,
    });
    writeAll(raw, body);
  }
}

function pieces(text: string | Buffer | Buffer[]): (string | Buffer)[] {
  return Array.isArray(text) ? text : [text];
}

/** Writes the pieces in one go (corked: one writev) and ends the response. */
function writeAll(raw: FastifyReply['raw'], body: (string | Buffer)[]): void {
  raw.cork();
  for (let i = 0; i < body.length - 1; i++) raw.write(body[i]);
  raw.end(body[body.length - 1]);
}

/** GET /mcp: the session's stream for messages that belong to no request. */
function openStream(runtime: Runtime, request: FastifyRequest, reply: FastifyReply) {
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
  const outlet: Outlet = {
    send(message) {
      if (raw.writableEnded || raw.destroyed) return false;
      raw.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
      return true;
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
  const heartbeat = setInterval(() => raw.write(': ping\n\n'), HEARTBEAT_MS);
  heartbeat.unref();
  raw.on('close', () => clearInterval(heartbeat));
}
