// Calling through the gateway: results pass through exactly, errors are precise, prompts and completions route.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { basicStdio, connectClient, startGateway, type RunningGateway } from '../helpers/gateway.js';

let gw: RunningGateway;
let client: Client;
beforeAll(async () => {
  gw = await startGateway({ upstreams: { a: basicStdio('a'), b: basicStdio('b') } });
  client = await connectClient(gw.url);
});
afterAll(async () => {
  await client?.close();
  await gw?.close();
});

describe('tools/call', () => {
  it('returns every content type exactly as the upstream sent it', async () => {
    const result = await client.callTool({ name: 'b__all_content', arguments: {} });
    expect(result.content).toEqual([
      { type: 'text', text: 'hello' },
      { type: 'image', data: expect.any(String), mimeType: 'image/png' },
      { type: 'audio', data: 'UklGRg==', mimeType: 'audio/wav' },
      // shared://common collides between a and b, so the embedded URI is published rewritten
      {
        type: 'resource',
        resource: { uri: 'switchboard://b/shared%3A%2F%2Fcommon', mimeType: 'text/plain', text: 'embedded' },
      },
      { type: 'resource_link', uri: 'b://static/info', name: 'info' },
    ]);
  });

  it('passes structured content through', async () => {
    const result = await client.callTool({ name: 'a__add', arguments: { a: 2, b: 3 } });
    expect(result.structuredContent).toEqual({ sum: 5 });
    expect(result.content).toEqual([{ type: 'text', text: '5' }]);
  });

  it('keeps an isError result a result, not a JSON-RPC error', async () => {
    const result = await client.callTool({ name: 'a__fail', arguments: {} });
    expect(result).toMatchObject({
      isError: true,
      content: [{ type: 'text', text: 'it failed on purpose' }],
    });
  });

  it('passes an upstream protocol error through with its code, message and data, unwrapped', async () => {
    const direct = new Client({ name: 'direct', version: '1' });
    const { command, args } = basicStdio('a');
    await direct.connect(new StdioClientTransport({ command, args }));
    const expected = await direct.callTool({ name: 'protocol_error', arguments: {} }).catch((error) => error);
    await direct.close();
    expect(expected).toMatchObject({ code: -32602, data: { hint: 'fixture' } });
    const viaGateway = await client
      .callTool({ name: 'a__protocol_error', arguments: {} })
      .catch((error) => error);
    expect({ code: viaGateway.code, message: viaGateway.message, data: viaGateway.data }).toEqual({
      code: expected.code,
      message: expected.message,
      data: expected.data,
    });
  });

  it('answers an unknown tool with a clear JSON-RPC error naming it', async () => {
    await expect(client.callTool({ name: 'nope__echo', arguments: {} })).rejects.toMatchObject({
      code: -32602,
      message: 'MCP error -32602: Unknown tool: nope__echo',
    });
  });

  it('answers an unknown method with method-not-found', async () => {
    await expect(
      client.request({ method: 'no/such/method', params: {} } as any, (await import('zod')).z.any()),
    ).rejects.toMatchObject({
      code: -32601,
    });
  });
});

describe('prompts and completions', () => {
  it('routes prompts/get by public name and passes the arguments', async () => {
    const result = await client.getPrompt({ name: 'b__greet', arguments: { who: 'Ada' } });
    expect(result.messages).toEqual([{ role: 'user', content: { type: 'text', text: 'Hello Ada from b' } }]);
    await expect(client.getPrompt({ name: 'zz__greet' })).rejects.toMatchObject({ code: -32602 });
  });

  it('routes completion/complete by prompt name and by resource template', async () => {
    const byPrompt = await client.complete({
      ref: { type: 'ref/prompt', name: 'a__greet' },
      argument: { name: 'who', value: 'x' },
    });
    expect(byPrompt.completion.values).toEqual(['x-a']);
    const byTemplate = await client.complete({
      ref: { type: 'ref/resource', uri: 'b://items/{id}' },
      argument: { name: 'id', value: '4' },
    });
    expect(byTemplate.completion.values).toEqual(['4-b']);
  });

  it('answers ping and logging/setLevel', async () => {
    await expect(client.ping()).resolves.toEqual({});
    await expect(client.setLoggingLevel('debug')).resolves.toEqual({});
  });
});

describe('large results', () => {
  it('passes a large result through byte-exact, and keeps its own id even when the upstream repeats "id"', async () => {
    const { TSX, ROOT } = await import('../helpers/gateway.js');
    const raw = await startGateway({
      upstreams: {
        raw: {
          command: process.execPath,
          args: ['--import', TSX, `${ROOT}/test/fixtures/servers/raw-line-server.ts`],
        },
      },
    });
    try {
      const big = await connectClient(raw.url);
      const result = await big.callTool({ name: 'raw__big', arguments: {} });
      expect(result.content).toEqual([{ type: 'text', text: 'y'.repeat(50_000) }]);
      const forged = await big.callTool({ name: 'raw__forged_id', arguments: {} }, undefined, {
        timeout: 5000,
      });
      expect(forged.content).toEqual([{ type: 'text', text: 'y'.repeat(50_000) }]);
      const { rawPost, INIT } = await import('../helpers/gateway.js');
      const sid = (await rawPost(raw.url, INIT)).headers.get('mcp-session-id')!;
      const call = JSON.stringify({
        jsonrpc: '2.0',
        id: 'mine',
        method: 'tools/call',
        params: { name: 'raw__forged_id' },
      });
      const response = await rawPost(raw.url, call, { 'mcp-session-id': sid });
      expect(response.json.id).toBe('mine');
      await big.close();
    } finally {
      await raw.close();
    }
  });
});
