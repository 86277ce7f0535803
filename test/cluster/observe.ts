// What the multi-replica tests read about the rig: haproxy's request log, a process's children, which replica
// id (on the Redis bus) a gateway process has, and a wait for a condition.
import { readdirSync, readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with the first value `check` gives that is not undefined (or false); throws naming `what` after `ms`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  ms = 30_000,
) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value as T;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(50);
  }
}

export interface Routed {
  readonly replica: number;
  readonly status: number;
  /** "POST /mcp", "GET /mcp", ... */
  readonly request: string;
  /** haproxy's termination state ("----" for a normal end) and its count of retries ("+N" redispatched). */
  readonly state: string;
  readonly retries: string;
}

/** haproxy's `option httplog` lines:
 * `... gateways/r1 Tq/Tw/Tc/Tr/Ta STATUS BYTES - - STATE act/fe/be/srv/RETRIES queues "REQUEST"`. */
export function parseHttpLog(text: string): Routed[] {
  return text
    .split('\n')
    .map(parseLine)
    .filter((r) => r !== undefined);
}

const LINE = /gateways\/(\S+) \S+ (-?\d+) \S+ \S+ \S+ (\S+) \d+\/\d+\/\d+\/\d+\/(\+?\d+) \S+ "(\S+ \S+)/;

function parseLine(line: string): Routed | undefined {
  const match = LINE.exec(line);
  if (!match) return undefined;
  const [, server, status, state, retries, request] = match;
  const replica = /^r\d+$/.test(server) ? Number(server.slice(1)) : -1;
  return { replica, status: Number(status), request, state, retries };
}

/** haproxy's log lines that are not a request answered plainly (errors, cuts, its own messages such as a server
 * going DOWN), the first `max` of them, and how many requests it replayed on another replica. */
export function unusualLines(text: string, max = 40): string {
  let replayed = 0;
  const unusual = text.split('\n').filter((line) => {
    if (!line || line.includes(' stats stats/')) return false;
    const routed = parseLine(line);
    if (routed && routed.retries !== '0') replayed++;
    return !routed || routed.status >= 500 || routed.status < 0 || routed.state !== '----';
  });
  return [...unusual.slice(0, max), `(${replayed} requests replayed on another replica)`].join('\n');
}

/** The pids of a process's children (its upstreams), from /proc. */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The fields after the command (which may hold spaces) in parentheses: state, then the parent's pid.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(entry));
    } catch {
      // It ended while we looked.
    }
  }
  return children;
}

const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** Opens a session and its GET stream on one replica and reads which replica id Redis says holds the stream. */
export async function probeReplicaId(base: string, redis: Redis, prefix: string): Promise<string> {
  const init = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: MCP_HEADERS,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-06-18',
        capabilities: {},
        clientInfo: { name: 'probe', version: '1' },
      },
    }),
  });
  await init.text();
  const session = init.headers.get('mcp-session-id')!;
  const headers = { ...MCP_HEADERS, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' };
  const stream = await fetch(`${base}/mcp`, { headers: { ...headers, accept: 'text/event-stream' } });
  const id = await until('the probe stream in Redis', async () => {
    return (await redis.hget(`${prefix}session:${session}`, 'stream')) ?? undefined;
  });
  await stream.body?.cancel();
  await fetch(`${base}/mcp`, { method: 'DELETE', headers });
  return id;
}
