// Built-in servers name their own tools in prompts and instructions: behind the gateway those names must be
// the published ones (prefix, separator, the 64-character shortening), so a model can call what it is told
// to; alone they are the plain names; and the project server promises only the tools it registers.
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectInProcess, type Connected } from '../builtin-servers/helpers.js';
import { connectClient, ROOT, startGateway, type RunningGateway } from '../helpers/gateway.js';

const LONG = 'p'.repeat(58); // prefix + separator + read_file is over 64 characters: shortened with a hash
const TOOL_NAMES = /`([A-Za-z0-9_.-]+)`/g;

/** Every `name` in backticks in the text (the built-ins quote tool names that way). */
const quoted = (text: string) => [...text.matchAll(TOOL_NAMES)].map((m) => m[1]);

async function promptText(client: Client, name: string, args: Record<string, string>) {
  const result = await client.getPrompt({ name, arguments: args });
  return result.messages.map((m) => (m.content.type === 'text' ? m.content.text : '')).join('\n');
}

describe('behind the gateway', () => {
  let gw: RunningGateway;
  let client: Client;
  let tools: string[];
  beforeAll(async () => {
    gw = await startGateway({
      namespace: { separator: '__' },
      upstreams: {
        project: { builtin: 'project', root: '.' },
        custom: { builtin: 'project', root: '.', prefix: 'code', test_command: ['true'] },
        long: { builtin: 'project', root: '.', prefix: LONG },
        docs: { builtin: 'docs', root: 'docs' },
        sql: { builtin: 'sql', url: `sqlite:${path.join(ROOT, 'config/demo/demo.db')}` },
      },
    });
    client = await connectClient(gw.url);
    tools = (await client.listTools()).tools.map((t) => t.name);
  });
  afterAll(async () => {
    await client?.close();
    await gw?.close();
  });

  it('prompts/get of a built-in prompt names project__read_file and project__search_codebase', async () => {
    const text = await promptText(client, 'project__code_review', { file_path: 'src/cli.ts' });
    expect(text).toContain('`project__read_file`');
    expect(text).toContain('`project__search_codebase`');
    expect(text).not.toMatch(/`read_file`|`search_codebase`/);
  });

  it.each([
    ['project__code_review', { file_path: 'a.ts' }],
    ['project__investigate_bug', { description: 'it breaks' }],
    ['project__debug_error', { error_message: 'boom', stack_trace: 'at x (a.ts:1)' }],
    ['code__code_review', { file_path: 'a.ts' }],
    ['code__investigate_bug', { description: 'it breaks' }],
    ['code__debug_error', { error_message: 'boom' }],
  ])('every tool %s names is one tools/list publishes', async (prompt, args) => {
    const named = quoted(await promptText(client, prompt, args));
    expect(named.length).toBeGreaterThan(0);
    for (const name of named) expect(tools).toContain(name);
  });

  it('a custom prefix is used, and run_tests is named only where it is configured', async () => {
    const custom = await promptText(client, 'code__investigate_bug', { description: 'x' });
    expect(custom).toContain('`code__run_tests`');
    const plain = await promptText(client, 'project__investigate_bug', { description: 'x' });
    expect(plain).not.toMatch(/run_tests/);
  });

  it('a name shortened past 64 characters is named exactly as published', async () => {
    const listed = await client.listTools();
    const readFile = listed.tools.find(
      (t) => t.name.startsWith('ppppp') && /^Read a text file/.test(t.description ?? ''),
    );
    expect(readFile?.name).toMatch(/^p+_[0-9a-f]{8}$/); // shortened: not `${LONG}__read_file`
    const review = (await client.listPrompts()).prompts.find(
      (p) => p.name.startsWith('ppppp') && p.description === 'Review one file of the project',
    );
    const named = quoted(await promptText(client, review!.name, { file_path: 'a.ts' }));
    expect(named).toContain(readFile!.name);
    for (const name of named) expect(tools).toContain(name);
  });

  it('the instructions of every built-in name published tools only', async () => {
    const instructions = client.getInstructions() ?? '';
    const named = quoted(instructions);
    for (const tool of [
      'project__search_codebase',
      'project__read_file',
      'project__list_directory',
      'docs__search_documentation',
      'sql__run_sql_query',
      'sql__list_tables',
      'code__run_tests',
    ])
      expect(named).toContain(tool);
    for (const name of named) expect(tools).toContain(name);
    // The project upstream has no test command: its instructions do not promise to run tests.
    const projectLine = instructions.split('\n').find((l) => l.startsWith('project:')) ?? '';
    expect(projectLine).not.toMatch(/run_tests|run its tests/);
  });
});

describe('standalone', () => {
  let c: Connected;
  beforeAll(async () => {
    c = await connectInProcess('project', { root: ROOT });
  });
  afterAll(async () => c?.close());

  it('prompts and instructions use the plain tool names', async () => {
    const text = await promptText(c.client, 'code_review', { file_path: 'a.ts' });
    expect(quoted(text)).toEqual(expect.arrayContaining(['read_file', 'search_codebase']));
    const instructions = c.client.getInstructions() ?? '';
    expect(quoted(instructions)).toEqual(['search_codebase', 'read_file', 'list_directory']);
  });
});
