// The config files MCP hosts already have (VS Code's .vscode/mcp.json, Cursor's mcp.json, Windsurf's
// mcp_config.json, Claude Desktop's file) served as gateway configs: a real gateway on each, real upstreams,
// and the SDK's Client listing and calling through it.
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { loadConfig } from '../../src/gateway/config.js';
import { createLogger } from '../../src/gateway/logger.js';
import { buildGateway } from '../../src/gateway/server.js';
import { BASIC_SERVER, ROOT, TSX, connectClient, startHttpFixture } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';

const HOSTS = path.join(ROOT, 'test/fixtures/configs/hosts');
const EVERYTHING = createRequire(import.meta.url).resolve(
  '@modelcontextprotocol/server-everything/dist/index.js',
);
const h = useHarness();

/** Starts an HTTP fixture upstream, then a gateway on the host's file; returns a connected client. */
async function serveHostFile(file: string): Promise<Client> {
  const remote = await startHttpFixture('remote');
  h.defer(() => remote.stop());
  const env = {
    ...process.env,
    TSX,
    BASIC_SERVER,
    EVERYTHING,
    HTTP_FIXTURE_URL: remote.url,
    FIXTURE_TOKEN: 'token-123',
  };
  const config = loadConfig(path.join(HOSTS, file), env);
  const app = await buildGateway(config, { log: createLogger('silent') });
  h.defer(() => app.close());
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const client = await connectClient(`${address}/mcp`);
  h.defer(() => client.close());
  return client;
}

const text = (result: Awaited<ReturnType<Client['callTool']>>) =>
  (result.content as { type: string; text: string }[])[0].text;

describe('host config files served as gateway configs', () => {
  it("serves VS Code's .vscode/mcp.json: servers:, type, inputs, ${workspaceFolder}, ${env:}, envFile", async () => {
    const client = await serveHostFile('vscode/.vscode/mcp.json');
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['basic__echo', 'everything__get-env', 'remote__whoami']));
    expect(text(await client.callTool({ name: 'basic__whoami', arguments: {} }))).toBe('vscode');
    expect(text(await client.callTool({ name: 'remote__whoami', arguments: {} }))).toBe('remote');
    const childEnv = JSON.parse(text(await client.callTool({ name: 'everything__get-env', arguments: {} })));
    expect(childEnv).toMatchObject({
      FIXTURE_GREETING: 'hello from envFile',
      FIXTURE_PLAIN: 'plain value',
      FIXTURE_OVERRIDE: 'from env',
    });
  });

  it("serves Cursor's mcp.json: mcpServers with command entries and url entries with headers", async () => {
    const client = await serveHostFile('cursor/.cursor/mcp.json');
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['local__echo', 'remote__echo']));
    expect(text(await client.callTool({ name: 'local__whoami', arguments: {} }))).toBe('cursor');
    expect(text(await client.callTool({ name: 'remote__whoami', arguments: {} }))).toBe('remote');
  });

  it("serves Windsurf's mcp_config.json: serverUrl for remote servers, disabled: true kept off", async () => {
    const client = await serveHostFile('windsurf/mcp_config.json');
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['local__echo', 'remote__echo']));
    expect(names.some((name) => name.startsWith('switched-off__'))).toBe(false);
    expect(text(await client.callTool({ name: 'local__whoami', arguments: {} }))).toBe('windsurf');
    expect(text(await client.callTool({ name: 'remote__whoami', arguments: {} }))).toBe('remote');
  });

  it("serves Claude Desktop's claude_desktop_config.json", async () => {
    const client = await serveHostFile('claude/claude_desktop_config.json');
    expect(text(await client.callTool({ name: 'local__whoami', arguments: {} }))).toBe('claude');
  });
});
