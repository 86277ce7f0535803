// Test helpers: a real gateway on port 0 built from a config object, SDK clients connected to it, and the
// command lines that start the fixture servers.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyInstance } from 'fastify';
import { parseConfig } from '../../src/gateway/config.js';
import { createLogger } from '../../src/gateway/logger.js';
import { buildGateway, type BuildOptions } from '../../src/gateway/server.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BASIC_SERVER = path.join(ROOT, 'test/fixtures/servers/basic-server.ts');
/** tsx as an absolute URL, so fixtures start from any working directory. */
export const TSX = import.meta.resolve('tsx');

/** A stdio upstream entry running the basic fixture server. */
export function basicStdio(label: string, extra: string[] = []) {
  return {
    command: process.execPath,
    args: ['--import', TSX, BASIC_SERVER, '--stdio', '--label', label, ...extra],
  };
}

export interface RunningGateway {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** A gateway on port 0; `options` reach buildGateway (policies, authenticate) beside the test logger. */
export async function startGateway(
  raw: Record<string, unknown>,
  options: Omit<BuildOptions, 'log'> = {},
): Promise<RunningGateway> {
  const config = parseConfig(raw, { baseDir: ROOT });
  const app = await buildGateway(config, {
    log: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent'),
    ...options,
  });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url: `${address}/mcp`, close: () => app.close() };
}

export async function connectClient(url: string, capabilities: ClientCapabilities = {}): Promise<Client> {
  const client = new Client({ name: 'test-client', version: '1.0.0' }, { capabilities });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

/** Starts the basic fixture over Streamable HTTP; resolves with its URL once it listens. */
export async function startHttpFixture(
  label: string,
): Promise<{ url: string; child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', BASIC_SERVER, '--http', '--port', '0', '--label', label],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let seen = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      seen += chunk;
      const match = /listening on (\S+)/.exec(seen);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`fixture exited with ${code}: ${seen}`)));
  });
  return {
    url,
    child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Raw JSON-RPC over HTTP, for the edge cases an SDK client never sends. */
export async function rawPost(url: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body,
  });
  const text = await response.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

export const INIT = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});

export async function waitFor<T>(check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > until) throw new Error('waitFor: condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
