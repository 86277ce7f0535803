// The gateway over stdio for hosts that spawn a process: one client session, newline-delimited JSON-RPC on
// stdin/stdout. stdout carries only MCP messages; logs go to stderr.
import type { JSONRPCMessage, JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import { GatewayError } from '../errors.js';
import type { Runtime } from './runtime.js';
import type { Exchange, Outlet } from './sessions.js';
import { errorText, handleNotification, handleRequest, handleResponse } from './session-server.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';

const NEWLINE = Buffer.from('\n');

export function serveStdio(
  runtime: Runtime,
  input: NodeJS.ReadableStream = process.stdin,
  output: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  const write = (text: string | Buffer | Buffer[]) => {
    if (typeof text === 'string') return output.write(text + '\n');
    for (const piece of Array.isArray(text) ? text : [text]) output.write(piece);
    return output.write(NEWLINE);
  };
  const outlet: Outlet = { send: (message: JSONRPCMessage) => write(JSON.stringify(message)) || true };
  // Sessions over stdio never idle out: the host owns the process and ends it by closing stdin.
  const session = runtime.sessions.create({
    protocolVersion: LATEST_PROTOCOL_VERSION,
    clientCapabilities: {},
  })!;
  session.outlet = outlet;
  let pending = '';
  const onLine = (line: string) => {
    let message: any;
    try {
      message = JSON.parse(line);
    } catch (error) {
      write(errorText(null, new GatewayError('parse_error', `Parse error: ${(error as Error).message}`)));
      return;
    }
    if (!message || typeof message !== 'object' || Array.isArray(message) || message.jsonrpc !== '2.0') {
      write(
        errorText(
          message?.id ?? null,
          new GatewayError(
            'invalid_request',
            'Invalid Request: expected one JSON-RPC 2.0 message object per line',
          ),
        ),
      );
      return;
    }
    session.lastSeen = Date.now();
    if (typeof message.method !== 'string') return handleResponse(session, message);
    if (!('id' in message)) return handleNotification(runtime, session, message);
    const exchange: Exchange = {
      session,
      requestId: message.id,
      controller: new AbortController(),
      related: outlet,
    };
    void handleRequest(runtime, exchange, message as JSONRPCRequest).then((text) => {
      if (text !== undefined) write(text);
    });
  };
  return new Promise((resolve) => {
    input.setEncoding?.('utf8');
    input.on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop()!;
      for (const line of lines) if (line.trim()) onLine(line.trim());
    });
    input.on('end', () => {
      runtime.sessions.close(session);
      resolve();
    });
  });
}
