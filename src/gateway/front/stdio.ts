// The gateway over stdio for hosts that spawn a process: one client session, newline-delimited JSON-RPC on
// stdin/stdout. stdout carries only MCP messages; logs go to stderr.
import type { JSONRPCMessage, JSONRPCNotification, JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { GatewayError } from '../../errors.js';
import type { Principal } from '../../policy/types.js';
import type { Runtime } from '../runtime.js';
import { handleResponse } from '../session/ask-client.js';
import { handleNotification } from '../session/lifecycle.js';
import type { Exchange, Outlet } from '../session/sessions.js';
import { answerableId, classify, errorText, piecesOf } from '../wire/jsonrpc.js';
import { STDIO_PRINCIPAL } from './auth.js';
import { CallAbort } from '../session/call-abort.js';

const NEWLINE = 0x0a;
const NEWLINE_BYTES = Buffer.from('\n');

export function serveStdio(
  runtime: Runtime,
  input: NodeJS.ReadableStream = process.stdin,
  output: NodeJS.WritableStream = process.stdout,
  principal: Principal = STDIO_PRINCIPAL,
): Promise<void> {
  const maxLineBytes = runtime.config.stdio.maxLineBytes;
  const write = (text: string | Buffer | (string | Buffer)[]) => {
    if (typeof text === 'string') return output.write(text + '\n');
    for (const piece of piecesOf(text)) output.write(piece);
    return output.write(NEWLINE_BYTES);
  };
  const outlet: Outlet = { send: (message: JSONRPCMessage) => write(JSON.stringify(message)) || true };
  // Sessions over stdio never idle out: the host owns the process and ends it by closing stdin.
  const session = runtime.sessions.create({
    protocolVersion: LATEST_PROTOCOL_VERSION,
    clientCapabilities: {},
    principal,
  })!;
  session.outlet = outlet;

  const onLine = (line: string) => {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch (error) {
      write(errorText(null, new GatewayError('parse_error', `Parse error: ${(error as Error).message}`)));
      return;
    }
    let kind;
    try {
      kind = classify(message);
    } catch (error) {
      write(errorText(answerableId(message), error as GatewayError));
      return;
    }
    session.lastSeen = Date.now();
    if (kind === 'response') return handleResponse(session, message as JSONRPCMessage);
    if (kind === 'notification')
      return handleNotification(runtime.upstream, session, message as JSONRPCNotification);
    const request = message as JSONRPCRequest;
    const exchange: Exchange = {
      session,
      principal,
      requestId: request.id,
      controller: new CallAbort(),
      related: outlet,
    };
    void runtime.handler.handle(exchange, request).then((text) => {
      if (text !== undefined) write(text);
    });
  };

  // The bytes of the line being read, its length so far, and whether it already passed the cap (then the rest
  // of it up to the next newline is skipped). Only each new chunk is searched for newlines, so a long line
  // arriving in many reads costs one copy, never a re-scan of everything buffered.
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let skipping = false;
  const refuseLong = () => {
    write(
      errorText(
        null,
        new GatewayError(
          'invalid_request',
          `Invalid Request: line longer than stdio.maxLineBytes (${maxLineBytes} bytes); it was discarded`,
        ),
      ),
    );
  };
  const takeLine = (bytes: Buffer) => {
    const text = bytes.toString('utf8').trim();
    if (text) onLine(text);
  };
  const receive = (chunk: Buffer) => {
    let start = 0;
    for (let end = chunk.indexOf(NEWLINE); end !== -1; end = chunk.indexOf(NEWLINE, start)) {
      const piece = chunk.subarray(start, end);
      start = end + 1;
      if (skipping) {
        skipping = false;
        continue;
      }
      if (pendingBytes + piece.length > maxLineBytes) {
        pending = [];
        pendingBytes = 0;
        refuseLong();
        continue;
      }
      if (pending.length) {
        pending.push(piece);
        const line = Buffer.concat(pending, pendingBytes + piece.length);
        pending = [];
        pendingBytes = 0;
        takeLine(line);
      } else takeLine(piece);
    }
    if (start >= chunk.length || skipping) return;
    const rest = chunk.subarray(start);
    if (pendingBytes + rest.length > maxLineBytes) {
      // Refused as soon as it passes the cap, not when (or if) its newline comes.
      pending = [];
      pendingBytes = 0;
      skipping = true;
      refuseLong();
      return;
    }
    pending.push(rest);
    pendingBytes += rest.length;
  };

  return new Promise((resolve) => {
    input.on('data', (chunk: Buffer | string) =>
      receive(typeof chunk === 'string' ? Buffer.from(chunk) : chunk),
    );
    input.on('end', () => {
      runtime.sessions.close(session);
      resolve();
    });
  });
}
