// Virtual endpoints behind real inbound auth: an endpoint asks for the same token as /mcp (the 401 names the
// same metadata), an API-key client works there, and a `when:` can tell endpoints apart by principal.endpoint.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { visibilityStdio } from './visibility-helpers.js';

const KEY = 'oncall-key-0123456789abcdef0123';

async function clientWith(url: string): Promise<Client> {
  const client = new Client({ name: 'endpoint-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${KEY}` } },
    }),
  );
  return client;
}

describe('virtual endpoints with auth and policy', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway({
      upstreams: { a: visibilityStdio('a').entry },
      auth: {
        resource: 'http://127.0.0.1/mcp',
        apiKeys: [{ subject: 'olga', groups: ['oncall'], key: KEY }],
      },
      endpoints: { oncall: { tools: ['a__*'] } },
      policy: {
        default: 'allow',
        rules: [
          // Touching things is for the incident endpoint only.
          {
            name: 'touch-on-oncall-only',
            deny: { tools: ['a__touch'] },
            when: "!has(principal.endpoint) || principal.endpoint != 'oncall'",
          },
        ],
      },
    });
  });
  afterAll(async () => gw?.close());

  it('asks for a token with the same challenge as /mcp', async () => {
    const challenges = [];
    for (const url of [gw.url, `${gw.url}/oncall`]) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      });
      expect(response.status).toBe(401);
      challenges.push(response.headers.get('www-authenticate'));
    }
    expect(challenges[1]).toBe(challenges[0]);
    expect(challenges[0]).toContain('resource_metadata=');
  });

  it('serves the endpoint to a key holder, with a when: that reads principal.endpoint', async () => {
    const oncall = await clientWith(`${gw.url}/oncall`);
    const main = await clientWith(gw.url);
    try {
      const tools = async (client: Client) => (await client.listTools()).tools.map((t) => t.name);
      expect(await tools(oncall)).toContain('a__touch');
      expect(await tools(main)).not.toContain('a__touch');
      expect(await tools(main)).toContain('a__echo');
      expect((await oncall.callTool({ name: 'a__touch', arguments: {} })).isError).toBeFalsy();
      await expect(main.callTool({ name: 'a__touch', arguments: {} })).rejects.toMatchObject({
        code: -32602,
      });
    } finally {
      await Promise.all([oncall.close(), main.close()]);
    }
  });
});
