// A lean SDK Transport to a Streamable HTTP MCP server over node:http: keep-alive sockets with TCP_NODELAY, one
// JSON parse per message and no re-validation (the SDK's fetch-based transport costs milliseconds per call).
// Handles JSON and SSE answers, the session id, the GET stream for server-initiated messages, and DELETE on close.
import http from 'node:http';
import https from 'node:https';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { SseParser } from './sse-parser.js';

/** An HTTP failure with its status as `code`, as the SDK's transports report it (the SSE fallback reads it). */
export class HttpStatusError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export class HttpClientTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  sessionId?: string;
  private protocolVersion?: string;
  private readonly agent: http.Agent;
  private readonly client: typeof http | typeof https;
  private stream?: http.ClientRequest;
  private closed = false;

  constructor(
    private readonly url: URL,
    private readonly headers: Readonly<Record<string, string>>,
  ) {
    this.client = url.protocol === 'https:' ? https : http;
    // noDelay: a JSON-RPC message is one small write; Nagle would hold it for the peer's delayed ACK.
    this.agent = new this.client.Agent({ keepAlive: true, noDelay: true, maxSockets: 256 });
  }

  async start(): Promise<void> {}

  setProtocolVersion(version: string): void {
    this.protocolVersion = version;
  }

  /** The sockets' agent, exposed so tests can check socket options. */
  get httpAgent(): http.Agent {
    return this.agent;
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) return Promise.reject(new Error('transport closed'));
    const body = JSON.stringify(message);
    return new Promise((resolve, reject) => {
      const request = this.client.request(this.url, {
        method: 'POST',
        agent: this.agent,
        headers: {
          ...this.headers,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'content-length': Buffer.byteLength(body),
          ...this.sessionHeaders(),
        },
      });
      request.once('error', (error) => reject(error));
      request.once('response', (response) => {
        const status = response.statusCode ?? 0;
        const sid = response.headers['mcp-session-id'];
        if (typeof sid === 'string' && sid && !this.sessionId) {
          this.sessionId = sid;
        }
        if (status === 202) {
          response.resume();
          resolve();
          if ((message as { method?: string }).method === 'notifications/initialized') this.openStream();
          return;
        }
        if (status < 200 || status >= 300) {
          readAll(response).then((text) =>
            reject(
              new HttpStatusError(status, `HTTP ${status} from ${this.url.href}: ${text.slice(0, 300)}`),
            ),
          );
          return;
        }
        resolve();
        const type = response.headers['content-type'] ?? '';
        if (type.includes('text/event-stream')) this.readEvents(response);
        else if (type.includes('application/json')) {
          readAll(response).then((text) => this.deliverJson(text));
        } else response.resume();
      });
      request.end(body);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stream?.destroy();
    if (this.sessionId) {
      // Ending the upstream session politely; a server that does not allow DELETE answers 405, which is fine.
      await new Promise<void>((resolve) => {
        const request = this.client.request(this.url, {
          method: 'DELETE',
          agent: this.agent,
          headers: { ...this.headers, ...this.sessionHeaders() },
          timeout: 2000,
        });
        request.once('response', (response) => response.resume().once('end', resolve));
        request.once('error', () => resolve());
        request.once('timeout', () => request.destroy());
        request.end();
      });
    }
    this.agent.destroy();
    this.onclose?.();
  }

  private sessionHeaders(): Record<string, string> {
    const headers: Record<string, string> = {};
    if (this.sessionId) headers['mcp-session-id'] = this.sessionId;
    if (this.protocolVersion) headers['mcp-protocol-version'] = this.protocolVersion;
    return headers;
  }

  private deliverJson(text: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      this.onerror?.(new Error(`upstream answered invalid JSON: ${(error as Error).message}`));
      return;
    }
    for (const message of Array.isArray(parsed) ? parsed : [parsed])
      this.onmessage?.(message as JSONRPCMessage);
  }

  private readEvents(response: http.IncomingMessage, onEventId?: (id: string) => void): void {
    const parser = new SseParser((event) => {
      if (event.id) onEventId?.(event.id);
      if (event.event === 'message' && event.data) this.deliverJson(event.data);
    });
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => parser.push(chunk));
  }

  /** The GET stream for messages that belong to no request; reopened (with Last-Event-ID) if it drops. */
  private openStream(lastEventId?: string, attempt = 0): void {
    if (this.closed || !this.sessionId) return;
    const request = this.client.request(this.url, {
      method: 'GET',
      agent: this.agent,
      headers: {
        ...this.headers,
        accept: 'text/event-stream',
        ...this.sessionHeaders(),
        ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
      },
    });
    this.stream = request;
    let last = lastEventId;
    const reopen = () => {
      if (this.closed || this.stream !== request) return;
      const delay = Math.min(30_000, 500 * 2 ** attempt);
      setTimeout(() => this.openStream(last, attempt + 1), delay).unref();
    };
    request.once('error', reopen);
    request.once('response', (response) => {
      // 405: the server offers no GET stream, which the spec allows.
      if (response.statusCode !== 200) return void response.resume();
      attempt = 0;
      this.readEvents(response, (id) => (last = id));
      response.once('end', reopen);
    });
    request.end();
  }
}

function readAll(response: http.IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    response.once('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}
