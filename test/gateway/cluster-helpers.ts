// Test helpers for shared sessions: N real gateways on port 0 sharing the local Redis under a key prefix of
// their own, and a fetch that sends each HTTP request to the next replica in turn (a round-robin balancer).
import { randomUUID } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { Redis } from 'ioredis';
import { rawPost, startGateway, type RunningGateway } from '../helpers/gateway.js';

export const REDIS_URL = 'redis://127.0.0.1:6379';

export interface Replicas {
  readonly gateways: RunningGateway[];
  readonly prefix: string;
  /** Each request to the next replica; `only` narrows the turn to some of them (the others are gone). */
  fetch: typeof fetch;
  only(indexes: number[]): void;
  client(capabilities?: ClientCapabilities): Promise<Client>;
  /** The index of the replica whose id this is. */
  indexOf(replica: string): number;
  redis: Redis;
  close(): Promise<void>;
}

export async function startReplicas(count: number, config: Record<string, unknown>): Promise<Replicas> {
  const prefix = `sbtest:${randomUUID()}:`;
  const gateways: RunningGateway[] = [];
  for (let i = 0; i < count; i++)
    gateways.push(await startGateway({ ...config, redis: { url: REDIS_URL, keyPrefix: prefix } }));
  let turn = 0;
  let live = gateways.map((_, i) => i);
  const fetcher: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const target = new URL(gateways[live[turn++ % live.length]].url);
    url.host = target.host;
    return fetch(url, init);
  };
  const redis = new Redis(REDIS_URL);
  const clients: Client[] = [];
  return {
    gateways,
    prefix,
    fetch: fetcher,
    redis,
    only(indexes) {
      live = indexes;
    },
    async client(capabilities = {}) {
      const client = new Client({ name: 'replica-client', version: '1.0.0' }, { capabilities });
      await client.connect(new StreamableHTTPClientTransport(new URL(gateways[0].url), { fetch: fetcher }));
      clients.push(client);
      return client;
    },
    indexOf: (replica) => gateways.findIndex((g) => g.app.runtime.cluster?.replica === replica),
    async close() {
      await Promise.all(clients.map((c) => c.close().catch(() => {})));
      await Promise.all(gateways.map((g) => g.close().catch(() => {})));
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    },
  };
}

/** A POST of one JSON-RPC message to a replica: status, session id and parsed body (JSON answers only). */
export async function post(url: string, body: object, headers: Record<string, string> = {}) {
  const answer = await rawPost(url, JSON.stringify(body), headers);
  return {
    status: answer.status,
    session: answer.headers.get('mcp-session-id') ?? undefined,
    body: answer.json ?? answer.text,
  };
}

export const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } },
};

/** Polls `check` every 20 ms until it holds; throws after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
