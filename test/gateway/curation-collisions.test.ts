// Tool curation against the catalogue: a rename onto a name already taken fails start-up naming both tools (or
// both upstreams), one that collides later keeps the earlier owner and is logged; curation that the upstream's
// list contradicts (a tool it does not list, a required argument hidden without a value) is warned about once,
// and is what `switchboard check` can print.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/gateway/config.js';
import { createLogger } from '../../src/gateway/logger.js';
import { Runtime } from '../../src/gateway/runtime.js';
import { buildGateway } from '../../src/gateway/server.js';
import { basicStdio, ROOT, startGateway, TSX, waitFor } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';

const ARGS_SERVER = path.join(ROOT, 'test/fixtures/servers/args-server.ts');
const argsStdio = (label = 'crm') => ({
  command: process.execPath,
  args: ['--import', TSX, ARGS_SERVER, '--label', label],
});

const h = useHarness();

/** A gateway whose log lines are kept (parsed) for the test to read. */
async function loggedGateway(raw: Record<string, unknown>) {
  const lines: any[] = [];
  const log = createLogger('info', {
    destination: { write: (line: string) => void lines.push(JSON.parse(line)) },
  });
  const app = await buildGateway(parseConfig(raw, { baseDir: ROOT }), { log });
  const url = `${await app.listen({ host: '127.0.0.1', port: 0 })}/mcp`;
  h.defer(() => app.close());
  return { url, lines, gw: { app, url, close: () => app.close() } };
}

describe('renames that collide', () => {
  it('refuses to start when a rename takes the name of another tool of the same upstream, naming both tools', async () => {
    await expect(
      startGateway({
        upstreams: { crm: { ...argsStdio(), tools: { rename: { find_customer: 'lookup' } } } },
      }),
    ).rejects.toMatchObject({
      kind: 'config',
      message:
        'name collision at start-up: tool "crm__lookup" is published twice by "crm": ' +
        'by its "find_customer" (renamed) and by its "lookup"',
    });
  });

  it('refuses to start when an unprefixed rename takes another upstream’s tool name, naming both upstreams', async () => {
    await expect(
      startGateway({
        upstreams: {
          crm: { ...argsStdio(), prefix: '', tools: { rename: { find_customer: 'echo' } } },
          basic: { ...basicStdio('basic'), prefix: '', tools: { allow: ['echo'] } },
        },
      }),
    ).rejects.toMatchObject({
      kind: 'config',
      message:
        'name collision at start-up: tool "echo" is published by both "crm" (renamed from its "find_customer") and "basic"',
    });
  });

  it('lets a swap of two names through: each name has one owner', async () => {
    const gw = await h.gateway({
      upstreams: {
        crm: { ...argsStdio(), tools: { rename: { find_customer: 'lookup', lookup: 'find_customer' } } },
      },
    });
    const client = await h.client(gw);
    const result: any = await client.callTool({ name: 'crm__lookup', arguments: {} });
    expect(JSON.parse(result.content[0].text).name).toBe('find_customer');
  });

  it('keeps the renamed tool when the upstream later lists a tool under the same name, and logs the collision', async () => {
    const { gw, lines } = await loggedGateway({
      upstreams: { crm: { ...argsStdio(), tools: { rename: { find_customer: 'newcomer' } } } },
    });
    const client = await h.client(gw);
    await client.callTool({ name: 'crm__add_tool', arguments: { name: 'newcomer' } });
    const collision = await waitFor(() => lines.find((l) => l.msg === 'tools name collision'));
    expect(collision).toMatchObject({
      level: 50,
      name: 'crm__newcomer',
      kept: 'crm',
      keptOut: ['crm'],
      ownNames: { kept: 'find_customer', keptOut: ['newcomer'] },
    });
    const result: any = await client.callTool({ name: 'crm__newcomer', arguments: { query: 'q' } });
    expect(JSON.parse(result.content[0].text).name).toBe('find_customer');
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names.filter((n) => n === 'crm__newcomer')).toHaveLength(1);
  });
});

describe('curation the catalogue contradicts', () => {
  const TOOLS = {
    rename: { find_custmer: 'search' },
    hideArgs: { find_customer: ['tenant', 'debug'], lookup: ['ident'] },
    fixArgs: { delete_customer: { tenant: 'acme' } },
  };
  const EXPECTED = [
    'upstreams.crm.tools.rename.find_custmer: upstream "crm" lists no tool "find_custmer"',
    'upstreams.crm.tools.hideArgs.find_customer: "tenant" is required by "find_customer" and hidden without a ' +
      'value in fixArgs; calls will likely fail upstream',
    'upstreams.crm.tools.hideArgs.lookup: the input schema of "lookup" declares no argument "ident"',
  ];

  it('warns once about each problem, with its key path, not again when the catalogue is rebuilt', async () => {
    const { gw, lines } = await loggedGateway({ upstreams: { crm: { ...argsStdio(), tools: TOOLS } } });
    const client = await h.client(gw);
    await client.callTool({ name: 'crm__add_tool', arguments: { name: 'later' } });
    // The rebuild that add_tool causes has happened once the new tool is listed.
    while (!(await client.listTools()).tools.some((t) => t.name === 'crm__later'))
      await new Promise((resolve) => setTimeout(resolve, 25));
    const warnings = lines.filter((l) => String(l.msg).startsWith('tool curation: '));
    expect(warnings.map((l) => l.msg)).toEqual(EXPECTED.map((text) => `tool curation: ${text}`));
    expect(warnings.every((l) => l.level === 40 && l.upstream === 'crm')).toBe(true);
  });

  it('gives the same lines to `check`, and names tools that allow/deny leaves out', async () => {
    const config = parseConfig(
      {
        upstreams: {
          crm: { ...argsStdio(), tools: { ...TOOLS, deny: ['lookup'], describe: { lookup: 'x' } } },
          down: { command: '/nonexistent/server', tools: { rename: { anything: 'x' } } },
        },
      },
      { baseDir: ROOT },
    );
    const runtime = new Runtime(config, createLogger('silent'));
    h.defer(() => runtime.stop());
    await runtime.start();
    // An upstream that is not ready lists nothing, which says nothing about its curation.
    expect(runtime.router.curationWarnings()).toEqual([
      EXPECTED[0],
      'upstreams.crm.tools.describe.lookup: tool "lookup" is left out by tools.allow/deny, so this does nothing',
      EXPECTED[1],
      'upstreams.crm.tools.hideArgs.lookup: tool "lookup" is left out by tools.allow/deny, so this does nothing',
    ]);
  });
});
