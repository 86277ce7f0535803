// mcp-remote from npm, spawned as the stdio bridge a host would run, completes the whole OAuth flow against the
// gateway and a real authorization server (401 -> resource metadata -> authorization-server metadata ->
// registration -> code + PKCE -> token) and serves tools/list through the gateway. Its "browser" is a stand-in
// (BROWSER) that hands the URL to this test, where the provider fixture plays the user.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ROOT } from '../helpers/gateway.js';
import { makeTempDir } from '../helpers/harness.js';
import { startAuthorizedGateway, type AuthorizedGateway } from './real-clients-helpers.js';

const MCP_REMOTE = path.join(ROOT, 'node_modules/mcp-remote/dist/proxy.js');
const FAKE_BROWSER = path.join(ROOT, 'test/fixtures/servers/fake-browser.mjs');

let setup: AuthorizedGateway | undefined;
let relay: Server | undefined;
let client: Client | undefined;
afterEach(async () => {
  await client?.close();
  relay?.closeAllConnections();
  await new Promise((resolve) => (relay ? relay.close(resolve) : resolve(undefined)));
  await setup?.close();
  [client, relay, setup] = [undefined, undefined, undefined];
});

/** Where the stand-in browser sends the URLs it is asked to open: the user logs in, the redirect is followed. */
async function startRelay(login: (url: string) => Promise<void>): Promise<string> {
  relay = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      login(body).then(
        () => res.writeHead(200).end(),
        (error: Error) => res.writeHead(500).end(error.message),
      );
    });
  });
  await new Promise<void>((resolve) => relay!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(relay.address() as AddressInfo).port}/open`;
}

describe('mcp-remote through the gateway', () => {
  it('logs in with OAuth (registration, code + PKCE, token) and lists tools through the gateway', async () => {
    setup = await startAuthorizedGateway();
    const { idp, url } = setup;
    idp.user = { sub: 'remote-user', groups: [] };
    const opened: URL[] = [];
    const relayUrl = await startRelay(async (target) => {
      const asked = new URL(target);
      opened.push(asked);
      const callback = await idp.authorize(asked);
      const answer = await fetch(callback);
      await answer.arrayBuffer();
    });
    const stderr: string[] = [];
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [MCP_REMOTE, url, '--host', '127.0.0.1', '--allow-http'],
      env: {
        PATH: process.env.PATH ?? '',
        HOME: makeTempDir('mcp-remote-home-'),
        MCP_REMOTE_CONFIG_DIR: makeTempDir('mcp-remote-config-'),
        BROWSER: FAKE_BROWSER,
        FAKE_BROWSER_RELAY: relayUrl,
      },
      stderr: 'pipe',
    });
    transport.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    client = new Client({ name: 'host-behind-mcp-remote', version: '1.0.0' });
    try {
      await client.connect(transport, { timeout: 60_000 });
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('a__echo');
    } catch (error) {
      throw new Error(`${(error as Error).message}\nmcp-remote said:\n${stderr.join('').slice(-4000)}`);
    }
    // The browser was sent to the provider with PKCE and the gateway as the resource.
    expect(opened).toHaveLength(1);
    expect(opened[0].origin).toBe(idp.issuer);
    expect(opened[0].searchParams.get('code_challenge_method')).toBe('S256');
    expect(opened[0].searchParams.get('resource')).toBe(url);
    // Registration and the code exchange happened at the provider.
    expect(idp.tokenRequests.map((r) => r.grantType)).toContain('authorization_code');
  }, 90_000);
});
