// A lean MCP Streamable HTTP client for load generation: raw keep-alive JSON-RPC POSTs over node:http, taking
// answers as application/json or text/event-stream, and carrying the mcp-session-id header.
import http from 'node:http';

export const PROTOCOL_VERSION = '2025-06-18';
const REQUEST_TIMEOUT_MS = 60_000;

export interface JsonRpcAnswer {
  id?: number | string | null;
  result?: any;
  error?: { code: number; message: string };
}

interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** `performance.now()` when the body's last byte arrived, before this client decoded or parsed anything. */
  arrivedAt: number;
}

/** One keep-alive agent for the whole load: C sessions doing one call at a time never need more than C sockets. */
export function createAgent(): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets: Infinity, keepAliveMsecs: 10_000 });
}

function send(
  url: URL,
  agent: http.Agent,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        agent,
        headers:
          body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const arrivedAt = performance.now();
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
            arrivedAt,
          });
        });
        res.on('error', reject);
      },
    );
    req.setNoDelay(true);
    req.setTimeout(REQUEST_TIMEOUT_MS, () =>
      req.destroy(new Error(`${method} ${url.pathname}: no answer in time`)),
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Finds the JSON-RPC answer with the given id in a JSON or SSE body. */
export function pickAnswer(answer: HttpAnswer, id: number): JsonRpcAnswer {
  const type = String(answer.headers['content-type'] ?? '');
  const messages: JsonRpcAnswer[] = [];
  if (type.startsWith('text/event-stream')) {
    for (const event of answer.body.split(/\r?\n\r?\n/)) {
      const data = event
        .split(/\r?\n/)
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(line[5] === ' ' ? 6 : 5))
        .join('\n');
      if (data) messages.push(JSON.parse(data));
    }
  } else if (type.startsWith('application/json')) {
    const parsed = JSON.parse(answer.body);
    messages.push(...(Array.isArray(parsed) ? parsed : [parsed]));
  } else {
    throw new Error(`HTTP ${answer.status} with content-type "${type}": ${answer.body.slice(0, 200)}`);
  }
  const found = messages.find((message) => message.id === id);
  if (!found)
    throw new Error(`HTTP ${answer.status}: no answer with id ${id} in: ${answer.body.slice(0, 200)}`);
  return found;
}

export class McpHttpSession {
  sessionId: string | undefined;
  private protocolVersion = PROTOCOL_VERSION;
  private nextId = 1;

  constructor(
    private readonly url: URL,
    private readonly agent: http.Agent,
    /** `Authorization` on every request of the session (`Bearer <key or token>`), for targets with auth on. */
    private readonly authorization?: string,
  ) {}

  private headers(): Record<string, string> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    if (this.authorization) headers.authorization = this.authorization;
    if (this.sessionId) {
      headers['mcp-session-id'] = this.sessionId;
      headers['mcp-protocol-version'] = this.protocolVersion;
    }
    return headers;
  }

  /** initialize + notifications/initialized: the full session set-up a client does. */
  async open(): Promise<void> {
    const id = this.nextId++;
    const params = {
      protocolVersion: PROTOCOL_VERSION,
      capabilities: {},
      clientInfo: { name: 'switchboard-bench', version: '1.0.0' },
    };
    const body = JSON.stringify({ jsonrpc: '2.0', id, method: 'initialize', params });
    const answer = await send(this.url, this.agent, 'POST', this.headers(), body);
    const message = pickAnswer(answer, id);
    if (message.error) throw new Error(`initialize failed: ${message.error.code} ${message.error.message}`);
    const sessionId = answer.headers['mcp-session-id'];
    if (typeof sessionId !== 'string') throw new Error('initialize answer carries no mcp-session-id header');
    this.sessionId = sessionId;
    this.protocolVersion = message.result?.protocolVersion ?? PROTOCOL_VERSION;
    const note = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const ack = await send(this.url, this.agent, 'POST', this.headers(), note);
    if (ack.status !== 202 && ack.status !== 200) {
      throw new Error(`notifications/initialized: HTTP ${ack.status} ${ack.body.slice(0, 200)}`);
    }
  }

  /** A JSON-RPC request; `paramsJson` is pre-serialised so the load loop does not re-serialise it per call. */
  async request(method: string, paramsJson: string): Promise<JsonRpcAnswer> {
    return (await this.timedRequest(method, paramsJson)).answer;
  }

  /**
   * The same, with when the answer's last byte arrived: the load's latencies end there, as wrk's do, so that
   * this client parsing a large answer (~2 ms for tools/list's 240 KB here) is not counted as the target's.
   */
  async timedRequest(
    method: string,
    paramsJson: string,
  ): Promise<{ answer: JsonRpcAnswer; arrivedAt: number }> {
    const id = this.nextId++;
    const body = `{"jsonrpc":"2.0","id":${id},"method":${JSON.stringify(method)},"params":${paramsJson}}`;
    const answer = await send(this.url, this.agent, 'POST', this.headers(), body);
    if (answer.status !== 200)
      throw new Error(`${method}: HTTP ${answer.status} ${answer.body.slice(0, 200)}`);
    return { answer: pickAnswer(answer, id), arrivedAt: answer.arrivedAt };
  }

  /** DELETE ends the session on the server; failures are ignored (the target may not support it). */
  async close(): Promise<void> {
    if (!this.sessionId) return;
    try {
      await send(this.url, this.agent, 'DELETE', this.headers());
    } catch {
      // best effort: the target is stopped at the end of the run anyway
    }
    this.sessionId = undefined;
  }
}
