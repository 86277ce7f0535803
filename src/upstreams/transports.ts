// Opens an SDK Client on one upstream: stdio (our lean transport), Streamable HTTP falling back to legacy
// SSE, or in-memory for a built-in server. Knows nothing of fastify or policy.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { FetchLike, Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { UpstreamCredentials } from './credentials.js';
import { HttpClientTransport } from './http-transport.js';
import { StderrLog } from './stderr-log.js';
import { StdioClientTransport } from './stdio-transport.js';
import { keepMapsYoung } from './young-maps.js';

export interface InMemoryServer {
  connect(transport: Transport): Promise<void>;
}

export type UpstreamSpec =
  | {
      kind: 'stdio';
      command: string;
      args: readonly string[];
      env: Readonly<Record<string, string>>;
      cwd?: string;
    }
  | {
      kind: 'http';
      url: string;
      headers: Readonly<Record<string, string>>;
      transport?: 'streamable-http' | 'sse';
      /** Tokens the gateway obtains for this upstream (`auth:`); each connection is given its own source. */
      credentials?: UpstreamCredentials;
    }
  | { kind: 'memory'; create(): Promise<{ server: InMemoryServer; close(): Promise<void> }> };

export interface OpenedClient {
  client: Client;
  transport: Transport;
  /** Releases what the transport alone does not (a built-in server instance). */
  dispose(): Promise<void>;
}

export const GATEWAY_INFO = { name: 'switchboard', version: '0.1.0' };

/** Size caps on what one upstream may send, and its name for the errors they raise. */
export interface TransportLimits {
  name: string;
  /** stdio: the longest line before the connection is reset. */
  maxLineBytes: number;
  /** The largest result (stdio line, HTTP JSON body or SSE event) a call accepts. */
  maxResultBytes: number;
  /** stdio: where stderr (and stdout that is not JSON-RPC) goes, rate-capped for the whole upstream (one per
   * connection when absent). */
  stderr?: StderrLog;
}

export async function openClient(
  spec: UpstreamSpec,
  capabilities: ClientCapabilities,
  timeoutMs: number,
  log: Logger,
  /** Transports still connecting; stopping the gateway closes these too, so no child outlives it. */
  connecting: Set<Transport>,
  limits: TransportLimits,
  /** The Authorization value to send now (a token the gateway obtained), read on every HTTP request. */
  authorization?: () => string | undefined,
): Promise<OpenedClient> {
  const client = () => new Client(GATEWAY_INFO, { capabilities });
  const connect = (c: Client, transport: Transport, timeout: number, dispose: () => Promise<void>) => {
    connecting.add(transport);
    return connectClient(c, transport, timeout, dispose).finally(() => connecting.delete(transport));
  };
  switch (spec.kind) {
    case 'stdio': {
      const { stderr = new StderrLog(log), ...caps } = limits;
      const transport = new StdioClientTransport({
        ...spec,
        ...caps,
        onStderr: stderr.line,
        onGarbage: stderr.garbage,
      });
      try {
        return await connect(client(), transport, timeoutMs, async () => {});
      } catch (error) {
        // "Connection closed" or "Request timed out" says little; the exit code and stderr say why (a proxy or
        // CA variable missing, a package that cannot be fetched). The process is stopped and drained by now.
        const exit = transport.exitDescription();
        throw exit ? new Error(`${(error as Error).message}: ${exit}`) : error;
      }
    }
    case 'memory': {
      const instance = await spec.create();
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      await instance.server.connect(serverSide);
      return connect(client(), clientSide, timeoutMs, () => instance.close());
    }
    case 'http': {
      const url = new URL(spec.url);
      const requestInit = { headers: { ...spec.headers } };
      if (spec.transport !== 'sse') {
        try {
          return await connect(
            client(),
            new HttpClientTransport(url, spec.headers, limits, authorization),
            timeoutMs,
            async () => {},
          );
        } catch (error) {
          // Only a server that rejects the POST itself speaks the legacy protocol; anything else is an outage.
          if (spec.transport === 'streamable-http' || !looksLikeLegacyServer(error)) throw error;
          log.info({ error: (error as Error).message }, 'Streamable HTTP refused; trying legacy SSE');
        }
      }
      const authorized = authorization && withAuthorization(authorization);
      return connect(
        client(),
        new SSEClientTransport(url, { requestInit, fetch: authorized }),
        timeoutMs,
        async () => {},
      );
    }
  }
}

async function connectClient(
  client: Client,
  transport: Transport,
  timeoutMs: number,
  dispose: () => Promise<void>,
): Promise<OpenedClient> {
  try {
    await client.connect(transport, { timeout: timeoutMs });
  } catch (error) {
    await transport.close().catch(() => {});
    await dispose().catch(() => {});
    throw error;
  }
  keepMapsYoung(client);
  return { client, transport, dispose };
}

function looksLikeLegacyServer(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' && code >= 400 && code < 500;
}

/** The legacy SSE transport's requests (its stream and each POST) with the current token on them. */
function withAuthorization(authorization: () => string | undefined): FetchLike {
  return (url, init) => {
    const value = authorization();
    if (value === undefined) return fetch(url, init);
    const headers = new Headers(init?.headers);
    headers.set('authorization', value);
    return fetch(url, { ...init, headers });
  };
}
