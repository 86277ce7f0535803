// Nothing a client sends is trusted as a JavaScript value, on either front: prototype names, wrong-typed methods,
// ids and params each get one precise JSON-RPC error, and the gateway keeps serving everyone afterwards.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicStdio, ROOT, startGateway, TSX, waitFor, type RunningGateway } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';
import { bodyText, errorOf, SILENT_CASES, WIRE_CASES } from './wire-cases.js';
import { rawSession, stdioFront } from './wire-helpers.js';

const h = useHarness();
const UPSTREAMS = { ok: basicStdio('ok') };

describe('the HTTP front', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway({ upstreams: UPSTREAMS });
  });
  afterAll(() => gw.close());

  it.each(WIRE_CASES)('answers $title with its exact error and keeps the session', async (c) => {
    const { post } = await rawSession(gw.url);
    const answer = await post(bodyText(c.body));
    const id = c.envelope ? null : (c.body as { id: unknown }).id;
    expect(answer.status).toBe(c.envelope ? 400 : 200);
    expect(answer.json).toEqual({ jsonrpc: '2.0', id, error: errorOf(c) });
    const ping = await post(JSON.stringify({ jsonrpc: '2.0', id: 'after', method: 'ping' }));
    expect(ping.json).toEqual({ jsonrpc: '2.0', id: 'after', result: {} });
  });

  it('accepts notifications and stray responses with prototype names with a 202, and a normal client still works', async () => {
    const { post } = await rawSession(gw.url);
    for (const body of SILENT_CASES) expect((await post(JSON.stringify(body))).status).toBe(202);
    const client = await h.client(gw);
    const echoed = await client.callTool({ name: 'ok__echo', arguments: { text: 'still here' } });
    expect(echoed.content).toEqual([{ type: 'text', text: 'still here' }]);
  });
});

describe('the stdio front (in memory)', () => {
  let front: Awaited<ReturnType<typeof stdioFront>>;
  beforeAll(async () => {
    front = await stdioFront({ upstreams: UPSTREAMS });
  });
  afterAll(() => front.close());

  it.each(WIRE_CASES)('answers $title with its exact error on the same line protocol', async (c) => {
    const before = front.lines.length;
    front.send(bodyText(c.body));
    const ping = `after-${before}`;
    front.send(JSON.stringify({ jsonrpc: '2.0', id: ping, method: 'ping' }));
    await front.answer((m) => m.id === ping);
    const raw = c.body as { id?: unknown };
    const validId = typeof raw.id === 'string' || typeof raw.id === 'number' ? raw.id : null;
    const answers = front.lines.slice(before).filter((m) => m.id !== ping && m.method === undefined);
    expect(answers).toEqual([{ jsonrpc: '2.0', id: c.envelope ? validId : raw.id, error: errorOf(c) }]);
  });

  it('stays silent on notifications and stray responses with prototype names, then still calls tools', async () => {
    const before = front.lines.length;
    for (const body of SILENT_CASES) front.send(JSON.stringify(body));
    front.send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 'echo',
        method: 'tools/call',
        params: { name: 'ok__echo', arguments: { text: 'fine' } },
      }),
    );
    const echoed = await front.answer((m) => m.id === 'echo');
    expect(echoed.result.content).toEqual([{ type: 'text', text: 'fine' }]);
    expect(front.lines.slice(before).filter((m) => m.method === undefined)).toHaveLength(1);
  });

  it('answers a line that is not JSON with a parse error and one that is not an object with invalid request', async () => {
    const before = front.lines.length;
    for (const line of [
      '{"jsonrpc":',
      '[]',
      '"text"',
      '42',
      'null',
      '{"jsonrpc":"1.0","id":3,"method":"ping"}',
    ])
      front.send(line);
    front.send(JSON.stringify({ jsonrpc: '2.0', id: 'end', method: 'ping' }));
    await front.answer((m) => m.id === 'end');
    const codes = front.lines.slice(before, -1).map((m) => [m.id, m.error.code]);
    expect(codes).toEqual([
      [null, -32700],
      [null, -32600],
      [null, -32600],
      [null, -32600],
      [null, -32600],
      [3, -32600],
    ]);
  });
});

describe('the real switchboard stdio process', () => {
  it('answers methods named constructor, __proto__ and toString and keeps running', async () => {
    const dir = path.join(ROOT, 'test/fixtures/configs/valid/empty.yaml');
    const child = spawn(
      process.execPath,
      ['--import', TSX, path.join(ROOT, 'src/cli.ts'), 'stdio', '--config', dir],
      {
        cwd: ROOT,
        stdio: ['pipe', 'pipe', 'ignore'],
      },
    );
    h.defer(
      () =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    );
    const answers: any[] = [];
    let buffered = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      const parts = (buffered + chunk).split('\n');
      buffered = parts.pop()!;
      for (const part of parts) answers.push(JSON.parse(part));
    });
    const methods = ['constructor', '__proto__', 'toString', 'tools/list'];
    methods.forEach((method, id) =>
      child.stdin!.write(JSON.stringify({ jsonrpc: '2.0', id, method }) + '\n'),
    );
    const until = Date.now() + 15_000;
    while (answers.length < methods.length && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(answers.map((a) => a.error?.code ?? 'ok').sort()).toEqual([-32601, -32601, -32601, 'ok'].sort());
    expect(child.exitCode).toBeNull();
  });
});

describe("a client's answer to a server-to-client request", () => {
  it.each([
    ['a number as the result', { result: 5 }],
    ['an array as the result', { result: [] }],
    ['a string as the error', { error: 'x' }],
    ['an error whose code is a string', { error: { code: 'x', message: 'm' } }],
    ['an error without a message', { error: { code: 1 } }],
  ])('with %s fails the upstream call at once with a clear error', async (_, answer) => {
    const front = await stdioFront({ upstreams: { ok: basicStdio('ok') } });
    h.defer(front.close);
    front.send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 'init',
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: { sampling: {} },
          clientInfo: { name: 't', version: '1' },
        },
      }),
    );
    await front.answer((m) => m.id === 'init');
    const call = (id: string) =>
      front.send(
        JSON.stringify({
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: { name: 'ok__sample', arguments: { prompt: 'p' } },
        }),
      );
    call('call');
    const asked = await waitFor(() => front.lines.find((m) => m.method === 'sampling/createMessage'));
    front.send(JSON.stringify({ jsonrpc: '2.0', id: asked.id, ...answer }));
    const reply = await front.answer((m) => m.id === 'call', 5000);
    expect(reply.error.message).toMatch(
      /the client answered sampling\/createMessage with a malformed (result|error)/,
    );
    // A well-formed answer next time is relayed as usual.
    call('again');
    const next = await waitFor(() => front.lines.filter((m) => m.method === 'sampling/createMessage')[1]);
    front.send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: next.id,
        result: { role: 'assistant', model: 'm', content: { type: 'text', text: 'fine' } },
      }),
    );
    expect((await front.answer((m) => m.id === 'again')).result.content).toEqual([
      { type: 'text', text: 'sampled: fine' },
    ]);
  });
});
