// Limits shared through Redis (127.0.0.1:6379, a key prefix of its own per run): two real gateway processes
// hold one total between them; the HTTP edge limit is shared too; unknown tool names leave no counter behind;
// and with Redis unreachable the gateway still starts, limits hold per replica, and the outage is logged once.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { parseConfig } from '../../src/gateway/config.js';
import { createLogger } from '../../src/gateway/logger.js';
import { buildGateway } from '../../src/gateway/server.js';
import {
  basicStdio,
  connectClient,
  INIT,
  rawPost,
  ROOT,
  startGateway,
  type RunningGateway,
} from '../helpers/gateway.js';
import { makeTempDir } from '../helpers/harness.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const PREFIX = `switchboard-test:${process.pid}-${randomUUID()}:`;
const redis = new Redis(REDIS_URL);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
afterAll(async () => {
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
});

/** The error of a call, or undefined when it was answered. */
const refusal = (client: Client, name: string) =>
  client.callTool({ name, arguments: { text: 'hi' } }).then(
    () => undefined,
    (error: { code?: number; message?: string; data?: any }) => error,
  );

/** `switchboard serve` in a process of its own; resolves with its /mcp URL once it listens. */
async function serveProcess(config: object): Promise<string> {
  const file = path.join(makeTempDir('switchboard-limits-redis-'), 'gateway.json');
  writeFileSync(file, JSON.stringify(config));
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'src/cli.ts'), 'serve', '--config', file, '--port', '0'],
    { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    let seen = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      seen += chunk;
      const match = /switchboard listening on (\S+)/.exec(seen);
      if (match) resolve(match[1]);
    });
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}: ${seen}`)));
  });
  // Ready once its upstreams and its Redis connection have settled: calls count in Redis from the first.
  const readyz = url.replace(/\/mcp$/, '/readyz');
  for (let i = 0; (await fetch(readyz)).status !== 200; i++) {
    if (i > 400) throw new Error('gateway not ready');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return url;
}

async function gatewayIn(raw: Record<string, unknown>): Promise<RunningGateway> {
  const gw = await startGateway(raw);
  cleanups.push(gw.close);
  return gw;
}

async function clientOf(url: string): Promise<Client> {
  const client = await connectClient(url);
  cleanups.push(() => client.close());
  return client;
}

describe('limits shared through Redis', () => {
  it('two gateway processes sharing Redis hold one total between them', async () => {
    const config = {
      listen: { host: '127.0.0.1', port: 0 },
      upstreams: { a: basicStdio('a') },
      redis: { url: REDIS_URL, keyPrefix: `${PREFIX}two:` },
      policy: {
        default: 'allow',
        rules: [{ name: 'shared-quota', allow: { tools: ['*'] }, limits: { calls: 5, per: '1m' } }],
      },
    };
    const urls = await Promise.all([serveProcess(config), serveProcess(config)]);
    const clients = await Promise.all(urls.map(clientOf));
    const outcomes: (string | undefined)[] = [];
    for (let i = 0; i < 12; i++) {
      const error = await refusal(clients[i % 2], 'a__echo');
      outcomes.push(error && `${error.code} ${error.data?.rule}`);
    }
    expect(outcomes.filter((o) => o === undefined)).toHaveLength(5);
    expect(outcomes.slice(5)).toEqual(Array(7).fill('-32000 shared-quota'));
    // The window lives in Redis, under the configured prefix.
    expect(await redis.keys(`${PREFIX}two:limit:*`)).toHaveLength(1);
  });

  it('the HTTP edge limit is shared by the replicas too', async () => {
    const config = {
      upstreams: {},
      http: { rateLimit: { max: 4, per: '1m' } },
      redis: { url: REDIS_URL, keyPrefix: `${PREFIX}edge:` },
    };
    const gateways = [await gatewayIn(config), await gatewayIn(config)];
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await rawPost(gateways[i % 2].url, INIT)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429, 429, 429]);
  });

  it('perTool counts only names that exist: unknown ones leave no counter, and counters expire with their window', async () => {
    const gw = await gatewayIn({
      upstreams: { a: basicStdio('a') },
      redis: { url: REDIS_URL, keyPrefix: `${PREFIX}tools:` },
      policy: {
        default: 'allow',
        rules: [
          { name: 'per-tool', allow: { tools: ['*'] }, limits: { calls: 100, per: '10s', perTool: true } },
        ],
      },
    });
    const client = await clientOf(gw.url);
    const unknown = await Promise.all(
      Array.from({ length: 300 }, (_, i) => refusal(client, `a__no_such_tool_${i}`)),
    );
    expect(new Set(unknown.map((e) => e?.code))).toEqual(new Set([-32602]));
    expect(await refusal(client, 'a__echo')).toBeUndefined();
    expect(await refusal(client, 'a__add')).toBeUndefined();
    // The rate-limit counters only (sessions, pins and the replica heartbeat share the prefix).
    const keys = await redis.keys(`${PREFIX}tools:limit*`);
    expect(keys).toHaveLength(2);
    for (const key of keys) {
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(10_000);
    }
  });
});

describe('Redis unreachable', () => {
  it('the gateway starts, limits hold in memory, and the outage is logged once', async () => {
    // A loopback port nobody listens on: bound, then closed.
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number };
        server.close(() => resolve(port));
      });
    });
    const lines: any[] = [];
    const log = createLogger('info', {
      destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
    });
    const config = parseConfig(
      {
        upstreams: { a: basicStdio('a') },
        http: { rateLimit: { max: 1000, per: '1m' } },
        redis: { url: `redis://127.0.0.1:${port}`, keyPrefix: `${PREFIX}down:` },
        policy: {
          default: 'allow',
          rules: [{ name: 'quota', allow: { tools: ['*'] }, limits: { calls: 3, per: '1m' } }],
        },
      },
      { baseDir: ROOT },
    );
    const app = await buildGateway(config, { log });
    cleanups.push(() => app.close());
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const client = await clientOf(`${address}/mcp`);
    for (let i = 0; i < 3; i++) expect(await refusal(client, 'a__echo')).toBeUndefined();
    const refused = await refusal(client, 'a__echo');
    expect(refused?.code).toBe(-32000);
    expect(refused?.data).toMatchObject({ rule: 'quota', limit: 'calls' });
    const warnings = lines.filter((line) => line.level === 40 && /redis unreachable/.test(line.msg));
    expect(warnings).toHaveLength(1);
    expect(warnings[0].redis).toBe(`127.0.0.1:${port}`);
  });
});
