// The SDK's own client OAuth flow against the gateway and a real authorization server: 401 -> protected-resource
// metadata -> authorization-server metadata -> dynamic client registration -> authorization code with PKCE ->
// token -> tools/list through the gateway. The test plays only the user at the provider's login and consent.
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { auth, type OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { startAuthorizedGateway, type AuthorizedGateway } from './real-clients-helpers.js';

const REDIRECT = 'http://127.0.0.1:9/callback';

/** A host's OAuth state kept in memory; the "browser" is the URL it is asked to open. */
class MemoryProvider implements OAuthClientProvider {
  client?: OAuthClientInformationMixed;
  saved?: OAuthTokens;
  verifier = '';
  opened?: URL;

  get redirectUrl() {
    return REDIRECT;
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: 'switchboard real-client test',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  state() {
    return 'state-81f2';
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.opened = url;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

let setup: AuthorizedGateway | undefined;
afterEach(async () => {
  await setup?.close();
  setup = undefined;
});

describe('the SDK client OAuth flow through the gateway', () => {
  it('completes 401, both metadata documents, registration, code + PKCE and token, then lists tools', async () => {
    setup = await startAuthorizedGateway();
    const { idp, url } = setup;
    const steps: string[] = [];
    const recording: FetchLike = async (target, init) => {
      const response = await fetch(target, init);
      const at = new URL(target);
      steps.push(
        `${init?.method ?? 'GET'} ${at.origin === idp.issuer ? 'idp' : 'gw'}${at.pathname} ${response.status}`,
      );
      return response;
    };

    // 1. Unauthenticated: the gateway answers 401 and names its resource metadata.
    const denied = await recording(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    const challenge = denied.headers.get('www-authenticate') ?? '';
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)?.[1];
    expect(denied.status).toBe(401);
    expect(metadataUrl).toBe(url.replace('/mcp', '/.well-known/oauth-protected-resource/mcp'));

    // 2. auth(): discovery, registration and the authorization request (the host "opens the browser").
    const provider = new MemoryProvider();
    const first = await auth(provider, {
      serverUrl: url,
      resourceMetadataUrl: new URL(metadataUrl!),
      fetchFn: recording,
    });
    expect(first).toBe('REDIRECT');
    expect(provider.client?.client_id).toBeTruthy();
    const asked = provider.opened!;
    expect(asked.searchParams.get('code_challenge_method')).toBe('S256');
    expect(asked.searchParams.get('resource')).toBe(url);
    expect(asked.searchParams.get('scope')).toContain('mcp:tools');

    // 3. The user logs in and consents at the provider, which redirects back with a code.
    idp.user = { sub: 'sdk-user', groups: ['analysts'] };
    const back = await idp.authorize(asked);
    expect(back.searchParams.get('state')).toBe('state-81f2');
    const code = back.searchParams.get('code')!;

    // 4. auth() again with the code: the token request (with the PKCE verifier).
    expect(await auth(provider, { serverUrl: url, authorizationCode: code, fetchFn: recording })).toBe(
      'AUTHORIZED',
    );
    expect(provider.saved?.access_token).toBeTruthy();

    // 5. The SDK client with that provider lists and calls tools through the gateway.
    const client = new Client({ name: 'sdk-oauth', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(url), { authProvider: provider }));
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toContain('a__echo');
    const echoed = await client.callTool({ name: 'a__echo', arguments: { text: 'through' } });
    expect(JSON.stringify(echoed)).toContain('through');
    await client.close();

    // The order of the flow as the wire saw it.
    const flow = steps.join('\n');
    expect(steps[0]).toBe('POST gw/mcp 401');
    expect(flow).toMatch(
      /GET gw\/\.well-known\/oauth-protected-resource\/mcp 200[\s\S]*GET idp\/\.well-known\/(oauth-authorization-server|openid-configuration) 200[\s\S]*POST idp\/reg 201[\s\S]*POST idp\/token 200/,
    );
  });
});
