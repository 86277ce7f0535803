// The open-loop load of bench/fixed-rate.ts delivers the rate it is set to, spread over its sessions, and says so
// when a target cannot keep up (a slice that falls behind is not a fixed-rate measurement).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPacedLoad } from '../../bench/lib/paced.js';
import type { Target } from '../../bench/lib/measure.js';

let server: http.Server;
let url: URL;
/** How long the server holds each tools/call answer. */
let delayMs = 0;
const sessionsSeen = new Map<string, number>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      if (req.method === 'DELETE') return res.writeHead(200).end();
      const message = JSON.parse(body);
      if (message.id === undefined) return res.writeHead(202).end();
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      let result: unknown = { content: [{ type: 'text', text: 'ok' }] };
      if (message.method === 'initialize') {
        headers['mcp-session-id'] = `s${sessionsSeen.size}`;
        sessionsSeen.set(headers['mcp-session-id'], 0);
        result = {
          protocolVersion: '2025-06-18',
          capabilities: {},
          serverInfo: { name: 'stub', version: '1' },
        };
      } else {
        const session = String(req.headers['mcp-session-id']);
        sessionsSeen.set(session, (sessionsSeen.get(session) ?? 0) + 1);
      }
      const answer = () =>
        res.writeHead(200, headers).end(JSON.stringify({ jsonrpc: '2.0', id: message.id, result }));
      if (delayMs && message.method === 'tools/call') setTimeout(answer, delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`);
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const target = (): Target => ({ name: 'stub', url, roots: [process.pid], tool: (name) => name });
const options = { method: 'tools/call', paramsJson: '{"name":"echo","arguments":{}}', warmupMs: 200 };
const check = (answer: any) => (answer.result?.content?.[0]?.text === 'ok' ? undefined : 'wrong answer');

describe('the fixed-rate load', () => {
  it('delivers the set rate over all its sessions, not as fast as the target goes', async () => {
    sessionsSeen.clear();
    delayMs = 0;
    const result = await runPacedLoad(target(), {
      ...options,
      rate: 200,
      sessions: 4,
      durationMs: 1500,
      check,
    });
    expect(result.errors).toBe(0);
    // An answer here takes well under a millisecond: a closed loop would make thousands of calls a second.
    expect(result.callsPerSecond).toBeGreaterThan(200 * 0.97);
    expect(result.callsPerSecond).toBeLessThan(200 * 1.1);
    expect(result.held).toBe(true);
    expect(result.rootCpuPerCallUs).toBeGreaterThan(0);
    // Every session takes its share (warm-up included: 4 sessions, ~50 calls a second each).
    const counts = [...sessionsSeen.values()];
    expect(counts).toHaveLength(4);
    for (const count of counts) expect(count).toBeGreaterThan(60);
  });

  it('says the rate was not held when the target cannot keep up', async () => {
    delayMs = 20;
    // Two sessions waiting 20 ms an answer make at most ~100 calls a second, against 400 asked.
    const result = await runPacedLoad(target(), {
      ...options,
      rate: 400,
      sessions: 2,
      durationMs: 1000,
      check,
    });
    delayMs = 0;
    expect(result.errors).toBe(0);
    expect(result.callsPerSecond).toBeLessThan(110);
    expect(result.held).toBe(false);
  });

  it('counts wrong answers as errors', async () => {
    const result = await runPacedLoad(target(), {
      ...options,
      rate: 100,
      sessions: 2,
      durationMs: 500,
      check: () => 'always wrong',
    });
    expect(result.calls).toBe(0);
    expect(result.errors).toBeGreaterThan(30);
    expect(result.firstError).toBe('always wrong');
  });
});
