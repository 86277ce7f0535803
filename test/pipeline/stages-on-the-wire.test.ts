// Stages in a real gateway (buildGateway with policies) in front of a real stdio upstream, seen from the SDK
// Client and from raw HTTP: a change to a 100 KB result reaches the wire, a pass-through keeps the upstream's
// bytes, failures keep their codes, scoping holds, and a stage sees the right call and can ask the client.
import { PassThrough } from 'node:stream';
import { ElicitRequestSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { parseConfig } from '../../src/gateway/config.js';
import type { Authenticate } from '../../src/gateway/front/auth.js';
import { createLogger } from '../../src/gateway/logger.js';
import { serveStdio } from '../../src/gateway/front/stdio.js';
import { Runtime } from '../../src/gateway/runtime.js';
import { buildGateway } from '../../src/gateway/server.js';
import type { Policy, Principal } from '../../src/policy/types.js';
import { confirmer, recorder, redactor, thrower } from '../fixtures/policies/stages.js';
import { basicStdio, INIT, rawPost, ROOT, waitFor, type RunningGateway } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';
import { CallAbort } from '../../src/gateway/session/call-abort.js';

const h = useHarness();
const MARKER = 'SECRET-4111';
/** About 100 KB of text with a marker in every line, and one- to four-byte characters so pipe reads split some. */
const PAYLOAD = `aé€😀 card ${MARKER} on file.\n`.repeat(2700);
const REDACTED = PAYLOAD.replaceAll(MARKER, '[redacted]');

/** A gateway on port 0 with these stages, in front of the basic fixture over stdio (upstream `basic`). */
async function gatewayWith(policies: Policy[], authenticate?: Authenticate): Promise<RunningGateway> {
  const config = parseConfig({ upstreams: { basic: basicStdio('basic') } }, { baseDir: ROOT });
  const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'silent');
  const app = await buildGateway(config, { log, policies, authenticate });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  h.defer(() => app.close());
  return { app, url: `${address}/mcp`, close: () => app.close() };
}

/** A raw HTTP session: tools/call answers as the bytes the gateway wrote (JSON, not SSE). */
async function rawSession(gw: RunningGateway) {
  const init = await rawPost(gw.url, INIT);
  const headers = { 'mcp-session-id': init.headers.get('mcp-session-id')!, accept: 'application/json' };
  return (id: number, name: string, args: Record<string, unknown> = {}) =>
    rawPost(
      gw.url,
      JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } }),
      headers,
    );
}

const textOf = (result: unknown) => (result as { content: { text: string }[] }).content[0].text;

describe('a stage that changes a 100 KB result: the change reaches the wire', () => {
  it.each([
    ['returns {value} alone', 'fresh'],
    ['carelessly returns {...inner, value}', 'spread'],
  ] as const)('a redaction stage that %s: clients get the redacted text', async (_label, style) => {
    const redact = redactor(MARKER, '[redacted]', style);
    const gw = await gatewayWith([redact]);
    const client = await h.client(gw);
    const result = await client.callTool({ name: 'basic__echo', arguments: { text: PAYLOAD } });
    expect(textOf(result)).toBe(REDACTED);

    const call = await rawSession(gw);
    const answer = await call(7, 'basic__echo', { text: PAYLOAD });
    expect(answer.status).toBe(200);
    expect(answer.text).not.toContain(MARKER);
    expect(answer.json.result.content[0].text).toBe(REDACTED);
    // The gateway's own envelope (re-serialised), not the upstream's bytes spliced in...
    expect(answer.text.startsWith('{"jsonrpc":"2.0","id":7,"result":')).toBe(true);
    // ...although the upstream's bytes were there to splice: the stage got them from `next`.
    expect(redact.inners.map((inner) => inner.raw !== undefined)).toEqual([true, true]);
  });

  it('on the stdio front too: the 100 KB answer line carries the redacted text', async () => {
    const runtime = new Runtime(
      parseConfig({ upstreams: { basic: basicStdio('basic') } }, { baseDir: ROOT }),
      createLogger('silent'),
      [redactor(MARKER, '[redacted]', 'spread')],
    );
    await runtime.start();
    const input = new PassThrough();
    const output = new PassThrough();
    let written = '';
    output.setEncoding('utf8').on('data', (chunk: string) => (written += chunk));
    const served = serveStdio(runtime, input, output);
    h.defer(async () => {
      input.end();
      await served;
      await runtime.stop();
    });
    const request = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'basic__echo' } };
    input.write(
      `${INIT}\n${JSON.stringify({ ...request, params: { ...request.params, arguments: { text: PAYLOAD } } })}\n`,
    );
    const line = await waitFor(() => written.split('\n').find((l) => l.includes('"id":2')));
    expect(line).not.toContain(MARKER);
    expect(JSON.parse(line).result.content[0].text).toBe(REDACTED);
  });

  // Whatever the runner does about it (drop the raw bytes, or refuse the edit with an error), the upstream's
  // unredacted bytes must not reach the client: a redaction that silently does nothing fails open.
  it('a redaction stage that edits the result in place: the unredacted bytes never reach the wire', async () => {
    const redact = redactor(MARKER, '[redacted]', 'in-place');
    const call = await rawSession(await gatewayWith([redact]));
    const answer = await call(7, 'basic__echo', { text: PAYLOAD });
    expect(redact.inners).toHaveLength(1);
    expect(answer.text).not.toContain(MARKER);
  });
});

describe('a stage that passes the result through', () => {
  it("the 100 KB answer is the upstream's own bytes, the same as with no stage at all", async () => {
    const pass = recorder('pass');
    const bare = await rawSession(await gatewayWith([]));
    const staged = await rawSession(await gatewayWith([pass]));
    const [without, withStage] = [
      await bare(3, 'basic__echo', { text: PAYLOAD }),
      await staged(3, 'basic__echo', { text: PAYLOAD }),
    ];
    expect(withStage.status).toBe(200);
    expect(withStage.text).toBe(without.text);
    // The upstream's result bytes, spliced into the gateway's envelope exactly as the stage received them.
    const raw = pass.seen[0].inner!.raw!;
    expect(withStage.text).toBe(`{"result":${Buffer.concat(raw).toString()},"jsonrpc":"2.0","id":3}`);
    expect(withStage.json.result.content[0].text).toBe(PAYLOAD);
  });
});

describe('a stage that throws', () => {
  it('a GatewayError: the client gets its code and message, and the gateway keeps serving', async () => {
    const gw = await gatewayWith([thrower('whoami', new GatewayError('forbidden', 'whoami is not for you'))]);
    const call = await rawSession(gw);
    const refused = await call(1, 'basic__whoami');
    expect(refused.status).toBe(200);
    expect(refused.json).toEqual({
      jsonrpc: '2.0',
      id: 1,
      error: { code: -32000, message: 'whoami is not for you' },
    });
    // The same session's next call, and another session over the SDK, are served.
    expect((await call(2, 'basic__echo', { text: 'still here' })).json.result.content[0].text).toBe(
      'still here',
    );
    const client = await h.client(gw);
    const sdkRefusal = await client.callTool({ name: 'basic__whoami' }).catch((error: unknown) => error);
    expect(sdkRefusal).toBeInstanceOf(McpError);
    expect((sdkRefusal as McpError).code).toBe(-32000);
    expect((sdkRefusal as McpError).message).toContain('whoami is not for you');
    expect(textOf(await client.callTool({ name: 'basic__echo', arguments: { text: 'hi' } }))).toBe('hi');
  });

  it('a plain Error: the client gets -32603, and the gateway keeps serving', async () => {
    const gw = await gatewayWith([thrower('whoami', new Error('a bug in a stage'))]);
    const call = await rawSession(gw);
    const failed = await call(1, 'basic__whoami');
    expect(failed.json.id).toBe(1);
    expect(failed.json.error.code).toBe(-32603);
    expect((await call(2, 'basic__echo', { text: 'next' })).json.result.content[0].text).toBe('next');
  });
});

describe('what a stage sees', () => {
  it('a stage scoped to prompts/get never sees tools/call; one scoped to tools/call never sees prompts/get', async () => {
    const prompts = recorder('prompts', ['prompts/get']);
    const tools = recorder('tools', ['tools/call']);
    const client = await h.client(await gatewayWith([prompts, tools]));
    await client.callTool({ name: 'basic__echo', arguments: { text: 'x' } });
    await client.getPrompt({ name: 'basic__greet', arguments: { who: 'ada' } });
    await client.readResource({ uri: 'basic://static/info' });
    expect(prompts.seen.map((s) => s.call.method)).toEqual(['prompts/get']);
    expect(tools.seen.map((s) => s.call.method)).toEqual(['tools/call']);
  });

  it('the principal, target, params, session id and signal of each call are right', async () => {
    const ada: Principal = {
      subject: 'ada',
      groups: ['eng'],
      scopes: ['mcp:tools'],
      clientId: 'cli',
      via: 'apiKey',
    };
    const all = recorder('all');
    const client = await h.client(await gatewayWith([all], () => ada));
    await client.callTool({ name: 'basic__echo', arguments: { text: 'x' } });
    await client.getPrompt({ name: 'basic__greet', arguments: { who: 'ada' } });
    await client.readResource({ uri: 'basic://static/info' });
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId;
    expect(sessionId).toBeTruthy();
    expect(
      all.seen.map(({ call }) => [call.method, call.target, call.params.name ?? call.params.uri]),
    ).toEqual([
      [
        'tools/call',
        expect.objectContaining({ kind: 'tool', upstream: 'basic', name: 'basic__echo', original: 'echo' }),
        'echo',
      ],
      [
        'prompts/get',
        expect.objectContaining({
          kind: 'prompt',
          upstream: 'basic',
          name: 'basic__greet',
          original: 'greet',
        }),
        'greet',
      ],
      [
        'resources/read',
        expect.objectContaining({
          kind: 'resource',
          upstream: 'basic',
          name: 'basic://static/info',
          original: 'basic://static/info',
        }),
        'basic://static/info',
      ],
    ]);
    for (const { call } of all.seen) {
      expect(call.principal).toEqual(ada);
      expect(call.session?.id).toBe(sessionId);
      // The request's own signal (CallAbort: no Node AbortSignal per request), with what a stage may use of one.
      expect(call.signal).toBeInstanceOf(CallAbort);
      expect(() => call.signal.throwIfAborted()).not.toThrow();
      expect(call.signal.aborted).toBe(false);
    }
    // Each request has a signal of its own.
    expect(new Set(all.seen.map(({ call }) => call.signal)).size).toBe(3);
  });

  it("a client's cancellation aborts the signal the stage holds", async () => {
    const all = recorder('all');
    const client = await h.client(await gatewayWith([all]));
    const cancel = new AbortController();
    const pending = client
      .callTool({ name: 'basic__hang' }, undefined, { signal: cancel.signal })
      .catch((e: unknown) => e);
    const { call } = await waitFor(() => all.seen[0]);
    expect(call.signal.aborted).toBe(false);
    cancel.abort('changed my mind');
    await pending;
    await waitFor(() => call.signal.aborted);
    expect((call.signal.reason as GatewayError).kind).toBe('cancelled');
    // The session goes on.
    expect(textOf(await client.callTool({ name: 'basic__echo', arguments: { text: 'after' } }))).toBe(
      'after',
    );
  });

  it.each([
    ['accepts', { action: 'accept', content: { ok: true } }, 'confirmed'],
    ['declines', { action: 'decline' }, 'not confirmed'],
  ] as const)(
    'a stage that asks the client before forwarding gets its answer: the client %s',
    async (_l, reply, expected) => {
      const confirm = confirmer();
      const client = await h.client(await gatewayWith([confirm]), { elicitation: {} });
      const asked: unknown[] = [];
      client.setRequestHandler(ElicitRequestSchema, (request) => {
        asked.push(request.params.message);
        return reply;
      });
      const result = await client.callTool({ name: 'basic__echo', arguments: { text: 'confirmed' } });
      expect(asked).toEqual(['Run basic__echo?']);
      expect(confirm.answers).toEqual([reply]);
      expect(textOf(result)).toBe(expected);
    },
  );
});
