// An upstream's plain result reaches its waiting SDK request without the SDK's schema passes, with the same effects
// as the SDK's own _onresponse (timeout cleared, progress handler dropped); anything else is left to the SDK, and
// the plain-result check never accepts a message the SDK's own schema would refuse.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import {
  isJSONRPCResultResponse,
  type JSONRPCMessage,
  type JSONRPCRequest,
} from '@modelcontextprotocol/sdk/types.js';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { passthroughResult } from '../../src/upstreams/catalog.js';
import { routeTraffic } from '../../src/upstreams/connection.js';
import {
  deliverResult,
  fastResultsApply,
  fingerprint,
  isPlainResult,
  MIRRORED,
} from '../../src/upstreams/fast-results.js';
import type { OpenedClient } from '../../src/upstreams/transports.js';

/** A server side the test answers by hand, and a real SDK client connected to it through routeTraffic. */
async function connected() {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  const requests: JSONRPCRequest[] = [];
  serverSide.onmessage = (message) => {
    if (!('method' in message) || !('id' in message)) return;
    if (message.method !== 'initialize') return void requests.push(message as JSONRPCRequest);
    void serverSide.send({
      jsonrpc: '2.0',
      id: message.id,
      result: {
        protocolVersion: (message.params as { protocolVersion: string }).protocolVersion,
        capabilities: { tools: {} },
        serverInfo: { name: 'by-hand', version: '1.0.0' },
      },
    });
  };
  await serverSide.start();
  const client = new Client({ name: 'test', version: '1.0.0' });
  const errors: Error[] = [];
  client.onerror = (error) => errors.push(error);
  await client.connect(clientSide);
  const opened: OpenedClient = { client, transport: clientSide, dispose: async () => {} };
  routeTraffic(opened, {} as never, {} as never, () => {});
  const nextRequest = async () => {
    while (requests.length === 0) await new Promise((resolve) => setImmediate(resolve));
    return requests.shift()!;
  };
  const answer = (message: Record<string, unknown>) => serverSide.send(message as JSONRPCMessage);
  return { client, errors, nextRequest, answer, close: () => client.close() };
}

const internals = (client: Client) =>
  client as unknown as Record<
    '_responseHandlers' | '_progressHandlers' | '_timeoutInfo',
    Map<number, unknown>
  >;

let open: Awaited<ReturnType<typeof connected>> | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

describe('plain results from an upstream', () => {
  it('mirror the installed SDK (a new SDK whose response dispatch differs fails here: re-check fast-results.ts)', () => {
    // On a mismatch this shows the new SDK's hashes, to put in MIRRORED once fast-results.ts is checked against it.
    expect(fingerprint()).toEqual(MIRRORED);
    expect(fastResultsApply()).toBe(true);
  });

  it('resolve their request through routeTraffic, its timeout cleared and its progress handler dropped', async () => {
    open = await connected();
    const { client, errors, nextRequest, answer } = open;
    const progress: unknown[] = [];
    const call = client.request({ method: 'tools/call', params: { name: 'x' } }, passthroughResult, {
      timeout: 100,
      onprogress: (p) => progress.push(p),
    });
    const request = await nextRequest();
    expect(internals(client)._timeoutInfo.has(Number(request.id))).toBe(true);
    expect(internals(client)._progressHandlers.has(Number(request.id))).toBe(true);
    const result = { content: [{ type: 'text', text: 'hi' }] };
    await answer({ jsonrpc: '2.0', id: request.id, result });
    expect(await call).toEqual(result);
    for (const map of Object.values(internals(client)).filter((m) => m instanceof Map))
      expect((map as Map<number, unknown>).has(Number(request.id))).toBe(false);
    // Past the timeout: nothing fires, nothing is reported.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(errors).toEqual([]);
  });

  it('are taken by deliverResult, which hands over the very object', async () => {
    open = await connected();
    const { client, nextRequest } = open;
    const call = client.request({ method: 'tools/call', params: { name: 'x' } }, passthroughResult);
    const request = await nextRequest();
    const message = { jsonrpc: '2.0', id: request.id, result: { content: [] } } as JSONRPCMessage;
    expect(deliverResult(client, message)).toBe(true);
    expect(await call).toBe((message as { result: unknown }).result);
  });

  const leftToTheSdk: [string, (id: number) => Record<string, unknown>][] = [
    ['an error answer', (id) => ({ jsonrpc: '2.0', id, error: { code: -32000, message: 'no' } })],
    [
      'a result with _meta (the SDK checks it)',
      (id) => ({ jsonrpc: '2.0', id, result: { _meta: { a: 1 } } }),
    ],
    [
      'a task result',
      (id) => ({ jsonrpc: '2.0', id, result: { task: { taskId: 't1', status: 'working' } } }),
    ],
    ['a message with another field', (id) => ({ jsonrpc: '2.0', id, result: {}, extra: 1 })],
    ['a result that is an array', (id) => ({ jsonrpc: '2.0', id, result: [] })],
    ['a fractional id', (id) => ({ jsonrpc: '2.0', id: id + 0.5, result: {} })],
    ['another jsonrpc version', (id) => ({ jsonrpc: '1.0', id, result: {} })],
    ['an id nobody waits for', (id) => ({ jsonrpc: '2.0', id: id + 1000, result: {} })],
  ];
  for (const [what, make] of leftToTheSdk) {
    it(`leave ${what} to the SDK, untouched`, async () => {
      open = await connected();
      const { client, nextRequest } = open;
      const call = client.request({ method: 'tools/call', params: { name: 'x' } }, passthroughResult);
      call.catch(() => {});
      const request = await nextRequest();
      expect(deliverResult(client, make(Number(request.id)) as JSONRPCMessage)).toBe(false);
      // The request still waits for its answer.
      expect(internals(client)._responseHandlers.has(Number(request.id))).toBe(true);
    });
  }

  it('an answer the SDK refuses is still reported by the SDK, and the call still gets its real answer', async () => {
    open = await connected();
    const { client, errors, nextRequest, answer } = open;
    const call = client.request({ method: 'tools/call', params: { name: 'x' } }, passthroughResult);
    const request = await nextRequest();
    await answer({ jsonrpc: '2.0', id: request.id, result: {}, extra: 1 });
    await answer({ jsonrpc: '2.0', id: request.id, result: { content: [] } });
    expect(await call).toEqual({ content: [] });
    expect(errors.map((e) => e.message).join('\n')).toMatch(/Unknown message type/);
  });
});

describe('the plain-result check (property)', () => {
  const messageLike = fc.record(
    {
      jsonrpc: fc.oneof(fc.constant('2.0'), fc.jsonValue()),
      id: fc.oneof(fc.integer(), fc.string(), fc.double(), fc.jsonValue()),
      result: fc.oneof(
        fc.dictionary(fc.oneof(fc.string(), fc.constantFrom('_meta', 'task', 'content')), fc.jsonValue()),
        fc.jsonValue(),
      ),
      error: fc.jsonValue(),
      method: fc.string(),
    },
    { requiredKeys: [] },
  );

  // Mostly well-formed results, one part at a time wrong (a field too many, a version, an id, a result).
  const nearlyPlain = fc
    .record({
      jsonrpc: fc.constantFrom('2.0', '2.0', '2.0', '1.0', 2),
      id: fc.oneof(fc.integer(), fc.string(), fc.double(), fc.constant(null)),
      result: fc.oneof(
        fc.dictionary(fc.oneof(fc.string(), fc.constantFrom('_meta', 'task', 'content')), fc.jsonValue()),
        fc.jsonValue(),
      ),
      more: fc.option(fc.tuple(fc.constantFrom('error', 'method', 'params', 'extra'), fc.jsonValue()), {
        freq: 4,
      }),
    })
    .map(({ more, ...message }) => (more ? { ...message, [more[0]]: more[1] } : message));

  it('accepts only what the SDK schema accepts, and all of it but results with _meta or task', () => {
    let accepted = 0;
    let special = 0;
    fc.assert(
      fc.property(fc.oneof(messageLike, nearlyPlain, fc.jsonValue()), (message) => {
        const sdk = isJSONRPCResultResponse(message);
        const result = (message as { result?: unknown } | null)?.result;
        const checked =
          typeof result === 'object' && result !== null && ('_meta' in result || 'task' in result);
        expect(isPlainResult(message)).toBe(sdk && !checked);
        if (sdk && !checked) accepted++;
        if (sdk && checked) special++;
      }),
      { numRuns: 5000 },
    );
    // The generator reaches both sides of the check, not only refusals.
    expect(accepted).toBeGreaterThan(20);
    expect(special).toBeGreaterThan(0);
  });
});
