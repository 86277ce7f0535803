// Shared by the wire-hardening tests: the wire fixture server as an upstream entry, a raw HTTP session, and the
// stdio front served in memory.
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import pino from 'pino';
import { parseConfig } from '../../src/gateway/config.js';
import { createLogger } from '../../src/gateway/logger.js';
import { Runtime } from '../../src/gateway/runtime.js';
import { buildGateway } from '../../src/gateway/server.js';
import { serveStdio } from '../../src/gateway/front/stdio.js';
import { INIT, rawPost, ROOT, TSX, waitFor } from '../helpers/gateway.js';

export const WIRE_SERVER = path.join(ROOT, 'test/fixtures/servers/wire-server.ts');

/** A stdio upstream entry running the wire fixture, publishing these extra tool and prompt names. */
export function wireStdio(options: { tools?: unknown[]; prompts?: unknown[]; askRoots?: boolean } = {}) {
  return {
    command: process.execPath,
    args: [
      '--import',
      TSX,
      WIRE_SERVER,
      '--tools',
      JSON.stringify(options.tools ?? []),
      '--prompts',
      JSON.stringify(options.prompts ?? []),
      ...(options.askRoots ? ['--ask-roots'] : []),
    ],
  };
}

/** Opens a session with raw JSON-RPC; returns a poster bound to it. */
export async function rawSession(url: string) {
  const init = await rawPost(url, INIT);
  const sessionId = init.headers.get('mcp-session-id');
  if (!sessionId) throw new Error(`initialize failed: ${init.status} ${init.text}`);
  await rawPost(url, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), {
    'mcp-session-id': sessionId,
  });
  return {
    sessionId,
    post: (body: string) => rawPost(url, body, { 'mcp-session-id': sessionId }),
  };
}

/**
 * The stdio front in memory (`serveStdio` over PassThrough streams) on a started runtime: write lines in,
 * read each answer out as parsed JSON.
 */
export async function stdioFront(raw: Record<string, unknown>, log = createLogger('silent')) {
  const runtime = new Runtime(parseConfig(raw, { baseDir: ROOT }), log);
  await runtime.start();
  const input = new PassThrough();
  const output = new PassThrough();
  const lines: any[] = [];
  let buffered = '';
  output.setEncoding('utf8');
  output.on('data', (chunk: string) => {
    const parts = (buffered + chunk).split('\n');
    buffered = parts.pop()!;
    for (const part of parts) lines.push(JSON.parse(part));
  });
  const served = serveStdio(runtime, input, output);
  return {
    runtime,
    input,
    /** Every message written to stdout so far, in order. */
    lines,
    send: (text: string) => input.write(text + '\n'),
    /** The first answer (a message with no method) from line `from` on matching `match`, waited for. */
    answer: (match: (message: any) => boolean, timeoutMs = 10_000, from = 0) =>
      waitFor(() => lines.slice(from).find((m) => m.method === undefined && match(m)), timeoutMs),
    async close() {
      input.end();
      await served;
      await runtime.stop();
    },
  };
}

/** A gateway on port 0 whose log lines are kept (parsed), to show what an operator reads. */
export async function gatewayWithLog(raw: Record<string, unknown>, level = 'debug') {
  const lines: Record<string, any>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  const app = await buildGateway(parseConfig(raw, { baseDir: ROOT }), { log: pino({ level }, sink) });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url: `${address}/mcp`, lines, close: () => app.close() };
}
