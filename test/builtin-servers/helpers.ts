// Test helpers: connect the SDK Client to a built-in server in-process (in-memory transport) or over
// stdio (the run-builtin fixture as a child process), and build throwaway trees.
import { mkdtempSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { builtinServers, type BuiltinName } from '../../src/builtin-servers/index.js';

export interface Connected {
  client: Client;
  close(): Promise<void>;
}

const runner = fileURLToPath(new URL('../fixtures/builtin/run-builtin.ts', import.meta.url));

export async function connectInProcess(
  name: BuiltinName,
  options: Record<string, unknown>,
  baseDir = process.cwd(),
): Promise<Connected> {
  const definition = builtinServers[name];
  const parsed = (definition.optionsSchema as { parse(v: unknown): unknown }).parse(options);
  const instance = await (
    definition.create as (
      o: unknown,
      c: { baseDir: string },
    ) => Promise<{ server: { connect(t: unknown): Promise<void> }; close(): Promise<void> }>
  )(parsed, { baseDir });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await instance.server.connect(serverSide);
  const client = new Client({ name: 'test', version: '0' });
  await client.connect(clientSide);
  return {
    client,
    close: async () => {
      await client.close();
      await instance.close();
    },
  };
}

export async function connectStdio(name: string, args: string[], cwd = process.cwd()): Promise<Connected> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', 'tsx', runner, name, ...args],
    cwd,
    stderr: 'pipe',
  });
  const client = new Client({ name: 'test', version: '0' });
  await client.connect(transport);
  return { client, close: () => client.close() };
}

/** The text of a tool result's first content item. */
export function text(result: unknown): string {
  const content = (result as CallToolResult).content;
  const first = content[0];
  return first && first.type === 'text' ? first.text : '';
}

export function tempDir(prefix: string): { dir: string; cleanup(): void } {
  const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), prefix)));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The text of a resources/read result's first content item. */
export function body(result: { contents: unknown[] }): string {
  return (result.contents[0] as { text?: string }).text ?? '';
}
