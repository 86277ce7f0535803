// The policy with real identities: two API-key principals from `auth.apiKeys`, the SDK's own client for each,
// and a real upstream. The analyst and the contractor see different lists, and what the contractor may not
// see answers as a name that does not exist.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { visibilityStdio } from './visibility-helpers.js';

const KEYS = { analyst: 'analyst-key-0123456789abcdef', contractor: 'contractor-key-0123456789abcdef' };

async function clientWith(url: string, key: string): Promise<Client> {
  const client = new Client({ name: 'policy-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${key}` } },
    }),
  );
  return client;
}

describe('policy rules with API-key principals', () => {
  let gw: RunningGateway;
  let analyst: Client;
  let contractor: Client;
  beforeAll(async () => {
    gw = await startGateway({
      upstreams: { a: visibilityStdio('a').entry },
      auth: {
        resource: 'http://127.0.0.1/mcp',
        apiKeys: [
          { subject: 'ann', groups: ['analysts'], key: KEYS.analyst },
          { subject: 'carl', groups: ['contractors'], key: KEYS.contractor },
        ],
      },
      policy: {
        default: 'deny',
        rules: [
          { name: 'analysts-all', principals: { groups: ['analysts'] }, allow: { tools: ['a__*'] } },
          {
            name: 'contractors-echo',
            principals: { groups: ['contractors'] },
            allow: { tools: ['a__echo'] },
          },
        ],
      },
    });
    analyst = await clientWith(gw.url, KEYS.analyst);
    contractor = await clientWith(gw.url, KEYS.contractor);
  });
  afterAll(async () => {
    await Promise.all([analyst?.close(), contractor?.close()]);
    await gw?.close();
  });

  it('lists differ per principal', async () => {
    const names = async (client: Client) => (await client.listTools()).tools.map((t) => t.name).sort();
    expect(await names(analyst)).toEqual(['a__add_tool', 'a__echo', 'a__log_later', 'a__secret', 'a__touch']);
    expect(await names(contractor)).toEqual(['a__echo']);
  });

  it('a denied tool fails exactly as an unknown one, and an allowed one is called', async () => {
    const failure = async (name: string) => {
      const error = await contractor.callTool({ name, arguments: {} }).then(
        () => undefined,
        (e: { code?: number; message?: string }) => e,
      );
      return { code: error?.code, message: error?.message?.split(name).join('<NAME>') };
    };
    const denied = await failure('a__secret');
    expect(denied.code).toBe(-32602);
    expect(denied).toEqual(await failure('a__nothere'));
    expect((await contractor.callTool({ name: 'a__echo', arguments: {} })).content).toEqual([
      { type: 'text', text: 'echo of a' },
    ]);
    expect((await analyst.callTool({ name: 'a__secret', arguments: {} })).content).toEqual([
      { type: 'text', text: 'secret of a' },
    ]);
  });
});
