// A lean SDK Transport to a Streamable HTTP MCP server over an undici Pool (keep-alive, TCP_NODELAY, no
// pipelining), read through dispatch handlers: no ClientRequest, IncomingMessage or stream per call, one JSON parse.
// Handles JSON and SSE answers, the session id, the GET stream for server-initiated messages, and DELETE on close.
// Answers are size-capped while they are read; large results keep their bytes for the gateway to pass on.
import type { IncomingHttpHeaders } from 'node:http';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { Pool } from 'undici';
import { ResponseReader, type BodyMode } from './http-response.js';
import { rememberRawResult } from './raw-results.js';
import { decode } from './sse-parser.js';

/** As many sockets to one upstream as node:http's agent allowed before; calls beyond it queue. */
const MAX_CONNECTIONS = 256;
const DELETE_TIMEOUT_MS = 2000;

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
  /** Keep-alive connections to the upstream's origin. */
  private readonly pool: Pool;
  private readonly path: string;
  /** The configured headers, lower-cased once so ours replace theirs instead of doubling them. */
  private readonly baseHeaders: Record<string, string>;
  /** POST headers for the current session id, protocol version and token, rebuilt only when one changes. */
  private postHeaders?: Record<string, string>;
  private postHeadersFor?: string;
  private stream?: ResponseReader;
  private closed = false;

  constructor(
    private readonly url: URL,
    headers: Readonly<Record<string, string>>,
    private readonly limits: HttpTransportLimits = { name: url.host, maxResultBytes: 32 * 1024 * 1024 },
    /** The Authorization value to send now (a token the gateway obtained), read on every request. */
    private readonly authorization?: () => string | undefined,
  ) {
    this.path = url.pathname + url.search;
    this.baseHeaders = {};
    for (const [key, value] of Object.entries(headers)) this.baseHeaders[key.toLowerCase()] = value;
    // No undici timeouts: a call's time is the SDK's request timeout, and the GET stream may idle for hours.
    this.pool = new Pool(url.origin, {
      connections: MAX_CONNECTIONS,
      pipelining: 1,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  async start(): Promise<void> {}

  setProtocolVersion(version: string): void {
    this.protocolVersion = version;
  }

  /** Resolves once the upstream accepted the POST; its answer (JSON or SSE) is read on from there. */
  send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) return Promise.reject(new Error('transport closed'));
    return new Promise((resolve, reject) => {
      let settled = false;
      let failed: number | undefined;
      const reader = new ResponseReader(
        {
          head: (status, headers) => {
            this.noteSession(headers);
            if (status >= 200 && status < 300) {
              settled = true;
              resolve();
            }
            if (status === 202) {
              if ((message as { method?: string }).method === 'notifications/initialized') this.openStream();
              return 'discard';
            }
            if (status < 200 || status >= 300) {
              failed = status;
              return 'text';
            }
            return answerMode(headers);
          },
          body: (pieces, length) => {
            if (failed === undefined) return this.deliver(decode(pieces), pieces, length);
            const text = decode(pieces).slice(0, 300);
            reject(new HttpStatusError(failed, `HTTP ${failed} from ${this.url.href}: ${text}`));
          },
          event: (event, raw) => {
            if (event.event === 'message' && event.data) this.deliver(event.data, raw?.pieces, raw?.length);
          },
          tooLarge: () => this.answerTooLarge(message),
          error: (error) => {
            if (settled) return this.broken(error);
            // A refusal whose text broke off is still a refusal: its status decides the SSE fallback.
            if (failed === undefined) return reject(error);
            reject(new HttpStatusError(failed, `HTTP ${failed} from ${this.url.href}: ${error.message}`));
          },
        },
        this.limits.maxResultBytes,
      );
      const headers = withTraceContext(this.headersForPost(), message);
      this.pool.dispatch({ path: this.path, method: 'POST', headers, body: JSON.stringify(message) }, reader);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stream?.abort();
    if (this.sessionId) {
      // Ending the upstream session politely; a server that does not allow DELETE answers 405, which is fine.
      await this.pool
        .request({
          path: this.path,
          method: 'DELETE',
          headers: { ...this.baseHeaders, ...this.sessionHeaders() },
          signal: AbortSignal.timeout(DELETE_TIMEOUT_MS),
        })
        .then(({ body }) => body.dump())
        .catch(() => {});
    }
    // Ends what is still open (answers being read, a queued request): they fail rather than hold the close.
    await this.pool.destroy().catch(() => {});
    this.onclose?.();
  }

  private noteSession(headers: IncomingHttpHeaders): void {
    const sid = headers['mcp-session-id'];
    if (typeof sid === 'string' && sid && !this.sessionId) this.sessionId = sid;
  }

  private headersForPost(): Record<string, string> {
    const key = `${this.sessionId ?? ''}\n${this.protocolVersion ?? ''}\n${this.authorization?.() ?? ''}`;
    if (this.postHeadersFor !== key || !this.postHeaders) {
      this.postHeadersFor = key;
      this.postHeaders = {
        ...this.baseHeaders,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...this.sessionHeaders(),
      };
    }
    return this.postHeaders;
  }

  /** The headers that change over a connection's life: session id, protocol version, a current token. */
  private sessionHeaders(): Record<string, string> {
    const headers: Record<string, string> = {};
    const authorization = this.authorization?.();
    if (authorization !== undefined) headers.authorization = authorization;
    if (this.sessionId) headers['mcp-session-id'] = this.sessionId;
    if (this.protocolVersion) headers['mcp-protocol-version'] = this.protocolVersion;
    return headers;
  }

  /** One JSON text from the upstream; a single result keeps its bytes so the gateway can pass them on. */
  private deliver(text: string, raw?: Buffer[], length = 0): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      this.onerror?.(new Error(`upstream answered invalid JSON: ${(error as Error).message}`));
      return;
    }
    if (Array.isArray(parsed)) {
      for (const message of parsed) this.onmessage?.(message as JSONRPCMessage);
      return;
    }
    if (raw && parsed && typeof parsed === 'object' && 'result' in parsed)
      rememberRawResult(raw, length, parsed as Record<string, unknown>);
    this.onmessage?.(parsed as JSONRPCMessage);
  }

  /** An answer over the cap was dropped: the request it answers fails with a clear error. */
  private answerTooLarge(message: JSONRPCMessage): void {
    const text = `upstream "${this.limits.name}" answered with more than ${this.limits.maxResultBytes} bytes (maxResultBytes)`;
    const id = (message as { id?: unknown }).id;
    if ('method' in message && (typeof id === 'number' || typeof id === 'string')) {
      this.onmessage?.({ jsonrpc: '2.0', id, error: { code: -32603, message: text } } as JSONRPCMessage);
    } else this.onerror?.(new Error(text));
  }

  /** An answer that broke off while being read (the upstream went away); after close it is ours, not news. */
  private broken(error: Error): void {
    if (!this.closed) this.onerror?.(new Error(`upstream "${this.limits.name}": ${error.message}`));
  }

  /** The GET stream for messages that belong to no request; reopened (with Last-Event-ID) if it drops. */
  private openStream(lastEventId?: string, attempt = 0): void {
    if (this.closed || !this.sessionId) return;
    let last = lastEventId;
    let reopened = false;
    let streaming = false;
    const reopen = () => {
      if (reopened || this.closed || this.stream !== reader) return;
      reopened = true;
      const delay = Math.min(30_000, 500 * 2 ** attempt);
      setTimeout(() => this.openStream(last, attempt + 1), delay).unref();
    };
    const reader: ResponseReader = new ResponseReader(
      {
        head: (status) => {
          // 405: the server offers no GET stream, which the spec allows; it is not asked again.
          if (status !== 200) return 'discard';
          attempt = 0;
          streaming = true;
          return 'sse';
        },
        event: (event, raw) => {
          if (event.id) last = event.id;
          if (event.event === 'message' && event.data) this.deliver(event.data, raw?.pieces, raw?.length);
        },
        // An oversized event on the GET stream belongs to no call: the stream is dropped and reopened.
        tooLarge: () => {
          this.onerror?.(
            new Error(
              `upstream "${this.limits.name}" sent an event larger than ${this.limits.maxResultBytes} bytes on its GET stream (maxResultBytes); reopening it`,
            ),
          );
          reopen();
        },
        end: () => streaming && reopen(),
        error: reopen,
      },
      this.limits.maxResultBytes,
    );
    this.stream = reader;
    const headers: Record<string, string> = {
      ...this.baseHeaders,
      accept: 'text/event-stream',
      ...this.sessionHeaders(),
    };
    if (lastEventId) headers['last-event-id'] = lastEventId;
    this.pool.dispatch({ path: this.path, method: 'GET', headers }, reader);
  }
}

/** The shapes W3C trace context headers may take (a tracestate list is printable ASCII without CR/LF). */
const TRACEPARENT = /^[\da-f]{2}-[\da-f]{32}-[\da-f]{16}-[\da-f]{2}$/;
const TRACESTATE = /^[\x20-\x7e]{0,512}$/;

/**
 * A request's W3C trace context in `params._meta` (put there by the gateway's tracing, or passed on from the
 * client) goes in the HTTP headers too, for tracing on the upstream's side that reads only those. A malformed
 * value stays out of the headers rather than failing the call.
 */
function withTraceContext(headers: Record<string, string>, message: JSONRPCMessage): Record<string, string> {
  const meta = (message as { params?: { _meta?: { traceparent?: unknown; tracestate?: unknown } } }).params
    ?._meta;
  const traceparent = meta?.traceparent;
  if (typeof traceparent !== 'string' || !TRACEPARENT.test(traceparent)) return headers;
  const tracestate = meta!.tracestate;
  // Copied, then set: Node 20's optimised `{ ...headers, traceparent }` gives every copy a hidden class of its
  // own (see withMeta in telemetry/span-details.ts); the header names come from the config, never the wire.
  const traced = Object.assign({}, headers);
  traced.traceparent = traceparent;
  if (typeof tracestate === 'string' && TRACESTATE.test(tracestate)) traced.tracestate = tracestate;
  return traced;
}

/** JSON or SSE, by the answer's content type; anything else is read and dropped. */
function answerMode(headers: IncomingHttpHeaders): BodyMode {
  const type = headers['content-type'];
  if (typeof type !== 'string') return 'discard';
  if (type.includes('text/event-stream')) return 'sse';
  return type.includes('application/json') ? 'json' : 'discard';
}
