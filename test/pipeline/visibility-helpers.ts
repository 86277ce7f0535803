// Shared pieces of the visibility tests: a real gateway with policies and a test identity header, raw HTTP
// sessions whose answers can be compared byte for byte, SDK clients per subject, and fixture upstream entries.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { IncomingHttpHeaders } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FastifyInstance } from 'fastify';
import { parseConfig } from '../../src/gateway/config.js';
import { createLogger } from '../../src/gateway/logger.js';
import { buildGateway } from '../../src/gateway/server.js';
import type { Policy, Principal, Via } from '../../src/policy/types.js';
import { INIT, ROOT, TSX } from '../helpers/gateway.js';
import { makeTempDir } from '../helpers/harness.js';

const VISIBILITY_SERVER = path.join(ROOT, 'test/fixtures/servers/visibility-server.ts');
export const WIRE_SERVER = path.join(ROOT, 'test/fixtures/servers/wire-server.ts');

/** A stdio upstream running the visibility fixture, journaling every request it gets to the returned file. */
export function visibilityStdio(label: string, extra: Record<string, unknown> = {}) {
  const journal = path.join(makeTempDir(`switchboard-vis-${label}-`), 'journal');
  const entry = {
    command: process.execPath,
    args: ['--import', TSX, VISIBILITY_SERVER, '--label', label, '--journal', journal],
    ...extra,
  };
  return { entry, journal: () => (existsSync(journal) ? readFileSync(journal, 'utf8') : '') };
}

/** The principal a request claims through test headers: x-test-subject, x-test-via, x-test-client. */
export function testAuthenticate(headers: IncomingHttpHeaders): Principal {
  const subject = headers['x-test-subject'];
  const via = headers['x-test-via'];
  const clientId = headers['x-test-client'];
  return {
    subject: typeof subject === 'string' ? subject : 'anonymous',
    via: typeof via === 'string' ? (via as Via) : 'apiKey',
    groups: [],
    scopes: [],
    ...(typeof clientId === 'string' ? { clientId } : {}),
  };
}

export interface PolicyGateway {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** A real gateway on port 0 with these policies and the test identity header. */
export async function startPolicyGateway(
  raw: Record<string, unknown>,
  policies: readonly Policy[],
): Promise<PolicyGateway> {
  const config = parseConfig(raw, { baseDir: ROOT });
  const app = await buildGateway(config, {
    log: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
    policies,
    authenticate: testAuthenticate,
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url: `${address}/mcp`, close: () => app.close() };
}

/** An SDK client whose every request claims `subject`. */
export async function clientAs(url: string, subject: string): Promise<Client> {
  const client = new Client({ name: `client-${subject}`, version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { 'x-test-subject': subject } },
    }),
  );
  return client;
}

/** One HTTP answer as far as it matters for comparison. */
export interface Answer {
  status: number;
  contentType: string | null;
  body: string;
}

/** A session driven with raw JSON-RPC over HTTP, so answers can be compared as bytes. */
export class RawSession {
  private constructor(
    readonly url: string,
    readonly subject: string,
    readonly id: string,
  ) {}

  static async open(url: string, subject: string): Promise<RawSession> {
    const response = await fetch(url, {
      method: 'POST',
      headers: { ...baseHeaders(subject) },
      body: INIT,
    });
    await response.text();
    const id = response.headers.get('mcp-session-id');
    if (response.status !== 200 || !id) throw new Error(`initialize failed: ${response.status}`);
    const session = new RawSession(url, subject, id);
    await session.post(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    return session;
  }

  async post(body: string): Promise<Answer> {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: {
        ...baseHeaders(this.subject),
        'mcp-session-id': this.id,
        'mcp-protocol-version': '2025-11-25',
      },
      body,
    });
    return {
      status: response.status,
      contentType: response.headers.get('content-type'),
      body: await response.text(),
    };
  }

  /** A request with a fixed id, so two answers differ only where the gateway's answer differs. */
  request(method: string, params: Record<string, unknown>): Promise<Answer> {
    return this.post(JSON.stringify({ jsonrpc: '2.0', id: 7, method, params }));
  }
}

function baseHeaders(subject: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'x-test-subject': subject,
  };
}

/** The answer with every occurrence of `name` (raw and JSON-escaped) replaced by a placeholder. */
export function normalised(answer: Answer, name: string): Answer {
  const escaped = JSON.stringify(name).slice(1, -1);
  return { ...answer, body: answer.body.split(escaped).join('<NAME>').split(name).join('<NAME>') };
}

/** The `result` or `error` of a JSON answer (the test fails on anything else). */
export function payload(answer: Answer): { result?: any; error?: any } {
  const message = JSON.parse(answer.body);
  return { result: message.result, error: message.error };
}
