// A minimal HTTP/1.1 client for the upstream POST hot path: keep-alive sockets with TCP_NODELAY, one write per
// request, and an incremental response parser (status, headers, Content-Length / chunked / until-close bodies).
// node:http's client costs ~120 µs of CPU per request on a 2-core bench machine; this one ~40.
import net from 'node:net';
import tls from 'node:tls';

/** Response headers past this size fail the request, as node:http's default limit does. */
const MAX_HEADER_BYTES = 16 * 1024;
/** The longest chunk-size or trailer line accepted. */
const MAX_LINE_BYTES = 4096;
/** A free socket is dropped this long before the server's advertised keep-alive timeout, as node:http does. */
const KEEP_ALIVE_MARGIN_MS = 1000;
const HEAD_END = Buffer.from('\r\n\r\n');
const LF = 0x0a;

export interface ResponseHandler {
  /** The status and headers (names lower-case, repeated ones joined with ", "). */
  onResponse(status: number, headers: Record<string, string>): void;
  /** A piece of the body; returning true drops the connection and ends the exchange without more callbacks. */
  onData(chunk: Buffer): boolean | void;
  onEnd(): void;
  /** The connection failed before the response ended; `started` says whether onResponse was called. */
  onError(error: Error, started: boolean): void;
}

const enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkEnd,
  Trailers,
  UntilClose,
}

export class Http1Pool {
  private readonly free: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly queue: { data: string; handler: ResponseHandler }[] = [];
  private readonly host: string;
  private readonly port: number;
  private readonly secure: boolean;

  constructor(
    url: URL,
    private readonly maxSockets: number,
  ) {
    this.secure = url.protocol === 'https:';
    this.host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.port = Number(url.port) || (this.secure ? 443 : 80);
  }

  /** Sends `data` (the request head and body, one string) on a free socket, a new one, or when one frees. */
  request(data: string, handler: ResponseHandler): void {
    const free = this.free.pop();
    if (free) free.start(data, handler);
    else if (this.all.size < this.maxSockets) this.connect().start(data, handler);
    else this.queue.push({ data, handler });
  }

  /** Every socket, busy or free (tests check their options). */
  get sockets(): net.Socket[] {
    return [...this.all].map((connection) => connection.socket);
  }

  destroy(): void {
    this.queue.length = 0;
    for (const connection of this.all) connection.socket.destroy();
  }

  /** @internal a connection whose exchange ended cleanly takes the next queued request or waits. */
  release(connection: Connection): void {
    const next = this.queue.shift();
    if (next) return connection.start(next.data, next.handler);
    this.free.push(connection);
    if (connection.keepAliveMs > 0) connection.socket.setTimeout(connection.keepAliveMs);
  }

  /** @internal */
  forget(connection: Connection): void {
    this.all.delete(connection);
    const index = this.free.indexOf(connection);
    if (index !== -1) this.free.splice(index, 1);
    // A queued request would otherwise wait for a socket that is no longer counted.
    const next = this.queue.length && this.all.size < this.maxSockets ? this.queue.shift() : undefined;
    if (next) this.connect().start(next.data, next.handler);
  }

  private connect(): Connection {
    const socket = this.secure
      ? tls.connect({
          host: this.host,
          port: this.port,
          servername: net.isIP(this.host) ? undefined : this.host,
        })
      : net.connect({ host: this.host, port: this.port });
    // noDelay: a JSON-RPC message is one small write; Nagle would hold it for the peer's delayed ACK.
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 1000);
    const connection = new Connection(this, socket);
    this.all.add(connection);
    return connection;
  }
}

class Connection {
  keepAliveMs = 0;
  private handler?: ResponseHandler;
  private state = State.Head;
  private started = false;
  private reusable = false;
  /** Body bytes left in the Content-Length body or the current chunk. */
  private remaining = 0;
  /** Bytes of an unfinished head, or text of an unfinished chunk-size/trailer line. */
  private pendingHead?: Buffer;
  private line = '';
  private failure?: Error;

  constructor(
    private readonly pool: Http1Pool,
    readonly socket: net.Socket,
  ) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => (this.failure ??= error));
    socket.on('timeout', () => socket.destroy());
    socket.once('close', () => this.closed());
  }

  start(data: string, handler: ResponseHandler): void {
    this.handler = handler;
    this.state = State.Head;
    this.started = false;
    if (this.keepAliveMs > 0) this.socket.setTimeout(0);
    this.socket.write(data);
  }

  private receive(chunk: Buffer): void {
    if (!this.handler) return void this.socket.destroy(); // bytes nobody asked for: the stream is out of step
    const handler = this.handler;
    let at = 0;
    // Once the answer ends the connection may already carry the next request: its bytes are not this one's.
    while (at < chunk.length && this.handler === handler) {
      switch (this.state) {
        case State.Head:
          at = this.readHead(chunk, at);
          break;
        case State.Length: {
          const end = Math.min(chunk.length, at + this.remaining);
          this.remaining -= end - at;
          if (this.deliver(chunk, at, end)) return;
          at = end;
          if (this.remaining === 0) this.finish();
          break;
        }
        case State.ChunkSize:
          at = this.readLine(chunk, at);
          if (at !== -1 && this.chunkSize()) return;
          break;
        case State.ChunkData: {
          const end = Math.min(chunk.length, at + this.remaining);
          this.remaining -= end - at;
          if (this.deliver(chunk, at, end)) return;
          at = end;
          if (this.remaining === 0) this.state = State.ChunkEnd;
          break;
        }
        case State.ChunkEnd:
        case State.Trailers:
          at = this.readLine(chunk, at);
          if (at === -1) break;
          if (this.line !== '') {
            if (this.state === State.ChunkEnd) return void this.fail('a chunk not followed by CRLF');
          } else if (this.state === State.ChunkEnd) this.state = State.ChunkSize;
          else this.finish();
          break;
        case State.UntilClose:
          if (this.deliver(chunk, at, chunk.length)) return;
          at = chunk.length;
          break;
      }
      if (at === -1) return;
    }
    // Bytes past the end of an answer: nothing is pipelined, so the connection cannot be trusted.
    if (at < chunk.length) this.socket.destroy();
  }

  /** Returns where the body starts, or -1 when the head is not complete yet. */
  private readHead(chunk: Buffer, at: number): number {
    let data = at ? chunk.subarray(at) : chunk;
    if (this.pendingHead) data = Buffer.concat([this.pendingHead, data]);
    const end = data.indexOf(HEAD_END);
    if (end === -1) {
      if (data.length > MAX_HEADER_BYTES) return this.fail(`response headers over ${MAX_HEADER_BYTES} bytes`);
      this.pendingHead = data;
      return -1;
    }
    this.pendingHead = undefined;
    if (end > MAX_HEADER_BYTES) return this.fail(`response headers over ${MAX_HEADER_BYTES} bytes`);
    const lines = data.toString('latin1', 0, end).split('\r\n');
    const match = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0]);
    if (!match) return this.fail(`a malformed status line "${lines[0].slice(0, 80)}"`);
    const status = Number(match[2]);
    const headers: Record<string, string> = {};
    for (let i = 1; i < lines.length; i++) {
      const colon = lines[i].indexOf(':');
      if (colon <= 0) return this.fail('a malformed header line');
      const name = lines[i].slice(0, colon).trim().toLowerCase();
      const value = lines[i].slice(colon + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    // The remaining bytes of this chunk continue from where `data` (which may hold older bytes) ends.
    const next = chunk.length - (data.length - end - 4);
    // 1xx answers are interim: the real one follows on the same connection.
    if (status >= 100 && status < 200) return next;
    const te = headers['transfer-encoding'];
    const length = headers['content-length'];
    this.reusable =
      (match[1] === '1'
        ? !/\bclose\b/i.test(headers.connection ?? '')
        : /\bkeep-alive\b/i.test(headers.connection ?? '')) &&
      (te === undefined || length === undefined);
    if (status === 204 || status === 304) this.state = State.Length;
    else if (te !== undefined && /(?:^|,)\s*chunked\s*$/i.test(te)) this.state = State.ChunkSize;
    else if (te === undefined && length !== undefined) {
      if (!/^\d+$/.test(length)) return this.fail(`an invalid Content-Length "${length.slice(0, 40)}"`);
      this.state = State.Length;
    } else {
      this.state = State.UntilClose;
      this.reusable = false;
    }
    this.remaining = this.state === State.Length && status !== 204 && status !== 304 ? Number(length) : 0;
    const timeout = /\btimeout=(\d+)/i.exec(headers['keep-alive'] ?? '');
    this.keepAliveMs = timeout ? Math.max(0, Number(timeout[1]) * 1000 - KEEP_ALIVE_MARGIN_MS) : 0;
    this.started = true;
    const handler = this.handler!;
    handler.onResponse(status, headers);
    if (this.handler !== handler) return -1;
    if (this.state === State.Length && this.remaining === 0) this.finish();
    return next;
  }

  /** Reads up to a newline into `line` (without CR); returns where the line ended, or -1 for more bytes. */
  private readLine(chunk: Buffer, at: number): number {
    const end = chunk.indexOf(LF, at);
    this.line += chunk.toString('latin1', at, end === -1 ? chunk.length : end);
    if (this.line.length > MAX_LINE_BYTES) return this.fail('a chunk header or trailer too long');
    if (end === -1) return -1;
    if (this.line.endsWith('\r')) this.line = this.line.slice(0, -1);
    return end + 1;
  }

  /** Reads the size line; true when the exchange failed. */
  private chunkSize(): boolean {
    const text = this.line.split(';', 1)[0].trim();
    this.line = '';
    if (!/^[0-9a-fA-F]{1,12}$/.test(text)) {
      this.fail(`an invalid chunk size "${text.slice(0, 40)}"`);
      return true;
    }
    this.remaining = parseInt(text, 16);
    this.state = this.remaining === 0 ? State.Trailers : State.ChunkData;
    return false;
  }

  /** Hands body bytes on; true when the handler dropped the connection. */
  private deliver(chunk: Buffer, start: number, end: number): boolean {
    if (end <= start) return false;
    if (this.handler!.onData(chunk.subarray(start, end)) !== true) return false;
    this.handler = undefined;
    this.socket.destroy();
    return true;
  }

  private finish(): void {
    const handler = this.handler!;
    this.handler = undefined;
    this.line = '';
    if (this.reusable && !this.socket.destroyed) this.pool.release(this);
    else this.socket.destroy();
    handler.onEnd();
  }

  private fail(what: string): -1 {
    this.failure = new Error(`upstream sent ${what}`);
    this.socket.destroy();
    return -1;
  }

  private closed(): void {
    this.pool.forget(this);
    const handler = this.handler;
    if (!handler) return;
    this.handler = undefined;
    if (this.state === State.UntilClose && !this.failure) return handler.onEnd();
    const error = this.failure ?? Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' as const });
    handler.onError(error, this.started);
  }
}
