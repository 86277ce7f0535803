// Tool curation end to end (rename, describe, hideArgs, fixArgs): a real gateway in front of a stdio upstream
// that answers every call with the exact params it received, so each test proves at the upstream what a client's
// call became. Renamed names work on every path that names a tool (lists, calls, tasks, policy, built-ins'
// instructions), and the old name is unknown exactly as a name that never existed.
import type { IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { z } from 'zod';
import type { Principal } from '../../src/policy/types.js';
import { ROOT, TSX } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';

const ARGS_SERVER = path.join(ROOT, 'test/fixtures/servers/args-server.ts');
const argsStdio = (label = 'crm') => ({
  command: process.execPath,
  args: ['--import', TSX, ARGS_SERVER, '--label', label],
});

/** The curation most tests run with: find_customer becomes crm__search, with tenant fixed and debug hidden. */
const CRM = {
  ...argsStdio(),
  tools: {
    rename: { find_customer: 'search' },
    describe: { find_customer: 'Searches the customers of the acme tenant' },
    hideArgs: { find_customer: ['debug'] },
    fixArgs: { find_customer: { tenant: 'acme' }, delete_customer: { tenant: 'acme' } },
  },
};

const h = useHarness();
const any = z.any();

/** What the upstream received, from the text of its answer. */
const received = (result: any) => JSON.parse(result.content[0].text);

/** The JSON-RPC error a promise rejects with, the name it is about replaced, so two can be compared. */
async function errorOf(promise: Promise<unknown>, name: string) {
  const error: any = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeDefined();
  return { code: error.code, message: String(error.message).replaceAll(name, 'NAME'), data: error.data };
}

describe('tool curation', () => {
  it('lists a curated tool under its new name, with the new description and without hidden or fixed arguments', async () => {
    const gw = await h.gateway({ upstreams: { crm: CRM, plain: argsStdio('plain') } });
    const client = await h.client(gw);
    const tools = new Map((await client.listTools()).tools.map((t) => [t.name, t]));
    expect([...tools.keys()].filter((n) => n.startsWith('crm__')).sort()).toEqual([
      'crm__add_tool',
      'crm__delete_customer',
      'crm__lookup',
      'crm__search',
    ]);
    const search = tools.get('crm__search')!;
    expect(search.description).toBe('Searches the customers of the acme tenant');
    expect(search.inputSchema).toEqual({
      type: 'object',
      properties: { query: { type: 'string' }, limit: { type: 'number' } },
      required: ['query'],
    });
    expect(tools.get('crm__delete_customer')!.inputSchema).toEqual({
      type: 'object',
      properties: { id: { type: 'string' } },
      required: ['id'],
    });
    // Uncurated tools, and the same tool of an uncurated upstream, are exactly as their upstream lists them.
    const { name: _n, ...plain } = tools.get('plain__find_customer')!;
    const { name: _s, ...curatedRest } = search;
    expect(plain.description).toBe('Finds a customer (plain)');
    expect(plain.inputSchema.required).toEqual(['query', 'tenant']);
    expect(Object.keys(plain.inputSchema.properties!)).toEqual(['query', 'tenant', 'debug', 'limit']);
    expect(curatedRest).not.toEqual(plain);
    expect(tools.get('crm__lookup')).toEqual({ ...tools.get('plain__lookup'), name: 'crm__lookup' });
  });

  it('answers a call of the old public name exactly as a name that never existed', async () => {
    const gw = await h.gateway({ upstreams: { crm: CRM } });
    const client = await h.client(gw);
    const old = await errorOf(
      client.callTool({ name: 'crm__find_customer', arguments: {} }),
      'crm__find_customer',
    );
    const absent = await errorOf(client.callTool({ name: 'crm__nothere', arguments: {} }), 'crm__nothere');
    expect(old).toEqual(absent);
    expect(old).toMatchObject({ code: -32602, message: expect.stringContaining('Unknown tool: NAME') });
  });

  it('calls the upstream under its own name, hidden arguments dropped and fixed ones set over the client', async () => {
    const gw = await h.gateway({ upstreams: { crm: CRM } });
    const client = await h.client(gw);
    const result = await client.callTool({
      name: 'crm__search',
      arguments: { query: 'smith', debug: true, tenant: 'evil', limit: 3 },
    });
    expect(received(result)).toEqual({
      name: 'find_customer',
      arguments: { query: 'smith', limit: 3, tenant: 'acme' },
    });
  });

  it('sets fixed arguments when the client sends no arguments at all', async () => {
    const gw = await h.gateway({ upstreams: { crm: CRM } });
    const client = await h.client(gw);
    const result = await client.request(
      { method: 'tools/call', params: { name: 'crm__delete_customer' } } as any,
      any,
    );
    expect(received(result)).toEqual({ name: 'delete_customer', arguments: { tenant: 'acme' } });
    // A tool without curation is passed on as sent: no arguments stay no arguments.
    const lookup = await client.request(
      { method: 'tools/call', params: { name: 'crm__lookup' } } as any,
      any,
    );
    expect(received(lookup)).toEqual({ name: 'lookup' });
  });

  it('runs a task created by a call of a renamed tool with the curated arguments, reachable by its task id', async () => {
    const gw = await h.gateway({ upstreams: { crm: CRM } });
    const client = await h.client(gw);
    const created = await client.request(
      {
        method: 'tools/call',
        params: { name: 'crm__search', arguments: { query: 'q', debug: true }, task: { ttl: 60_000 } },
      } as any,
      any,
    );
    const taskId = created.task.taskId as string;
    const status = await client.request({ method: 'tasks/get', params: { taskId } } as any, any);
    expect(status).toMatchObject({ taskId, status: 'completed' });
    const result = await client.request({ method: 'tasks/result', params: { taskId } } as any, any);
    expect(received(result)).toEqual({
      name: 'find_customer',
      arguments: { query: 'q', tenant: 'acme' },
      task: { ttl: 60_000 },
    });
  });

  it('publishes a renamed built-in tool under its new name in its list and its instructions', async () => {
    const gw = await h.gateway({
      upstreams: {
        project: { builtin: 'project', root: '.', tools: { rename: { search_codebase: 'grep' } } },
      },
    });
    const client = await h.client(gw);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('project__grep');
    expect(names).not.toContain('project__search_codebase');
    expect(client.getInstructions()).toContain('`project__grep`');
    expect(client.getInstructions()).not.toContain('search_codebase');
  });
});

describe('tool curation and policy', () => {
  const POLICY = {
    default: 'allow',
    rules: [
      { name: 'eve-no-search', principals: { subjects: ['eve'] }, deny: { tools: ['crm__search'] } },
      // Both would refuse the call had the policy seen the client's own arguments rather than the curated ones.
      { name: 'no-debug', deny: { tools: ['crm__search'] }, when: 'has(args.debug)' },
      { name: 'acme-only', deny: { tools: ['crm__search'] }, when: "args.tenant != 'acme'" },
    ],
  };
  const authenticate = (headers: IncomingHttpHeaders): Principal => ({
    subject: String(headers['x-test-subject'] ?? 'anonymous'),
    groups: [],
    scopes: [],
    via: 'apiKey',
  });
  async function clientAs(url: string, subject: string): Promise<Client> {
    const client = new Client({ name: subject, version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url), {
        requestInit: { headers: { 'x-test-subject': subject } },
      }),
    );
    h.defer(() => client.close());
    return client;
  }

  it('applies rules on the renamed public name, and judges arguments as the upstream will receive them', async () => {
    const gw = await h.gateway({ upstreams: { crm: CRM }, policy: POLICY }, { authenticate });
    const alice = await clientAs(gw.url, 'alice');
    const eve = await clientAs(gw.url, 'eve');
    const result = await alice.callTool({
      name: 'crm__search',
      arguments: { query: 'q', debug: true, tenant: 'evil' },
    });
    expect(received(result)).toEqual({ name: 'find_customer', arguments: { query: 'q', tenant: 'acme' } });
    expect((await eve.listTools()).tools.map((t) => t.name)).not.toContain('crm__search');
    expect(await errorOf(eve.callTool({ name: 'crm__search', arguments: {} }), 'crm__search')).toEqual(
      await errorOf(eve.callTool({ name: 'crm__nothere', arguments: {} }), 'crm__nothere'),
    );
  });
});
