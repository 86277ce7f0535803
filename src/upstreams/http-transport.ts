// A lean SDK Transport to a Streamable HTTP MCP server over node:http: keep-alive sockets with TCP_NODELAY, one
// JSON parse per message and no re-validation (the SDK's fetch-based transport costs milliseconds per call).
// Handles JSON and SSE answers, the session id, the GET stream for server-initiated messages, and DELETE on close.
// Answers are size-capped while they are read: an oversized one fails its call and is never buffered whole.
import http from 'node:http';
import https from 'node:https';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { SseParser } from './sse-parser.js';

/** The most of an error body kept for the message: only its start is shown. */
const ERROR_BODY_BYTES = 4096;

export interface HttpTransportLimits {
  /** The upstream's name, for errors a user reads. */
  name: string;
  /** The largest JSON body or SSE event accepted as one answer. */
  maxResultBytes: number;
}

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
    private readonly limits: HttpTransportLimits = { name: url.host, maxResultBytes: 32 * 1024 * 1024 },
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
          readAll(response, ERROR_BODY_BYTES, true).then((text) =>
            reject(
              new HttpStatusError(
                status,
                `HTTP ${status} from ${this.url.href}: ${(text ?? '').slice(0, 300)}`,
              ),
            ),
          );
          return;
        }
        resolve();
        const type = response.headers['content-type'] ?? '';
        const tooLarge = () => this.answerTooLarge(message, response);
        if (type.includes('text/event-stream')) this.readEvents(response, undefined, tooLarge);
        else if (type.includes('application/json')) {
          readAll(response, this.limits.maxResultBytes).then((text) =>
            text === undefined ? tooLarge() : this.deliverJson(text),
          );
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

  /** An answer over the cap: the stream is dropped and the request it answers fails with a clear error. */
  private answerTooLarge(message: JSONRPCMessage, response: http.IncomingMessage): void {
    response.destroy();
    const text = `upstream "${this.limits.name}" answered with more than ${this.limits.maxResultBytes} bytes (maxResultBytes)`;
    const id = (message as { id?: unknown }).id;
    if ('method' in message && (typeof id === 'number' || typeof id === 'string')) {
      this.onmessage?.({ jsonrpc: '2.0', id, error: { code: -32603, message: text } } as JSONRPCMessage);
    } else this.onerror?.(new Error(text));
  }

  private readEvents(
    response: http.IncomingMessage,
    onEventId: ((id: string) => void) | undefined,
    onTooLarge: () => void,
  ): void {
    const parser = new SseParser(
      (event) => {
        if (event.id) onEventId?.(event.id);
        if (event.event === 'message' && event.data) this.deliverJson(event.data);
      },
      this.limits.maxResultBytes,
      onTooLarge,
    );
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
      // An oversized event on the GET stream belongs to no call: the stream is dropped and reopened.
      const tooLarge = () => {
        this.onerror?.(
          new Error(
            `upstream "${this.limits.name}" sent an event larger than ${this.limits.maxResultBytes} bytes on its GET stream (maxResultBytes); reopening it`,
          ),
        );
        response.destroy();
        reopen();
      };
      this.readEvents(response, (id) => (last = id), tooLarge);
      response.once('end', reopen);
    });
    request.end();
  }
}

/**
 * Reads a body up to `max` bytes. Past the cap it resolves with the start when `truncate` is set (error bodies,
 * shown only in part), otherwise `undefined`, leaving the response for the caller to destroy.
 */
function readAll(response: http.IncomingMessage, max: number, truncate = false): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const text = () => Buffer.concat(chunks).toString('utf8');
    response.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= max) return void chunks.push(chunk);
      response.removeAllListeners('data');
      if (truncate) {
        chunks.push(chunk.subarray(0, max - (size - chunk.length)));
        response.destroy();
        resolve(text());
      } else {
        chunks.length = 0;
        resolve(undefined);
      }
    });
    response.once('end', () => resolve(text()));
    response.once('error', () => resolve(text()));
  });
}
