// The answer to one POST: plain JSON, switched to SSE the moment a related message (progress, a log, a
// server-to-client request) must go first; and the writing rules every answer follows: one corked write,
// bounded unread bytes, a drain timeout for clients that stop reading.
import type { FastifyReply } from 'fastify';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { GatewayError } from '../../errors.js';
import type { Outlet } from '../session/sessions.js';
import { piecesOf, sseFrame, ssePieces, type ResponseText } from '../wire/jsonrpc.js';
import type { CallAbort } from '../session/call-abort.js';

export const SSE_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
};

/** How answers are written, set once at start-up. */
export interface WriteLimits {
  /** http.maxStreamBuffer: unread bytes one response may hold before its client is disconnected. */
  maxBuffer: number;
  /** http.drainTimeout in ms. */
  drainMs: number;
  log: Logger;
}

export class ResponseStream implements Outlet {
  private streaming = false;

  constructor(
    private readonly limits: WriteLimits,
    private readonly reply: FastifyReply,
    private readonly sessionId: string,
    private readonly canStream: boolean,
    private readonly controller: CallAbort,
    /** The priming event that opens the stream, when the session's protocol has them (stream-resume.ts). */
    private readonly priming?: () => string,
  ) {}

  send(message: JSONRPCMessage): boolean {
    const raw = this.reply.raw;
    if (!this.canStream || raw.writableEnded || raw.destroyed) return false;
    if (!this.streaming) {
      this.streaming = true;
      this.reply.hijack();
      raw.writeHead(200, { ...SSE_HEADERS, 'mcp-session-id': this.sessionId });
      if (this.priming) raw.write(this.priming());
    }
    raw.write(sseFrame(message));
    if (raw.writableLength <= this.limits.maxBuffer) return true;
    // The client stopped reading: drop it rather than buffer without bound, and stop its request upstream.
    disconnect(this.limits, raw, this.sessionId, 'POST stream');
    this.controller.abort(new GatewayError('cancelled', 'the client stopped reading its stream'));
    return false;
  }

  finish(text: ResponseText): void {
    const raw = this.reply.raw;
    if (this.streaming) {
      if (raw.writableEnded || raw.destroyed) return;
      if (text === undefined) raw.end();
      else writeAll(this.limits, raw, ssePieces(text));
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
    if (raw.writableLength > this.limits.maxBuffer) {
      disconnect(this.limits, raw, this.sessionId, 'pipelined answers');
      return;
    }
    const body = piecesOf(text);
    let length = 0;
    for (const piece of body) length += typeof piece === 'string' ? Buffer.byteLength(piece) : piece.length;
    raw.writeHead(200, {
      'content-type': 'application/json',
      'content-length': length,
      'mcp-session-id': this.sessionId,
    });
    writeAll(this.limits, raw, body);
  }
}

/** Writes the pieces in one go (corked: one writev) and ends the response. An answer the client does not
 * read within http.drainTimeout is dropped with its connection (no timer when the kernel took it all). */
function writeAll(limits: WriteLimits, raw: FastifyReply['raw'], body: (string | Buffer)[]): void {
  raw.cork();
  for (let i = 0; i < body.length - 1; i++) raw.write(body[i]);
  raw.end(body[body.length - 1]);
  if (raw.writableLength === 0) return;
  const timer = setTimeout(() => {
    if (!raw.writableFinished) disconnect(limits, raw, undefined, 'unread answer');
  }, limits.drainMs);
  timer.unref();
  raw.once('close', () => clearTimeout(timer));
}

export function disconnect(
  limits: WriteLimits,
  raw: FastifyReply['raw'],
  sessionId: string | undefined,
  what: string,
): void {
  limits.log.warn(
    { sessionId, unreadBytes: raw.writableLength, limit: limits.maxBuffer },
    `client stopped reading (${what}); disconnected (http.maxStreamBuffer, http.drainTimeout)`,
  );
  raw.destroy();
}
