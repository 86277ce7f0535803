// The client's own credential never reaches an upstream, proven at the wire: upstreams that record every
// request (headers and body) sit behind a gateway with API-key and JWT auth, in each upstream credential mode
// (none, static headers, client credentials, token exchange); the configured headers still go out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { useHarness } from '../helpers/harness.js';
import { startOidcProvider, type OidcFixture } from '../fixtures/oidc/provider.js';
import {
  jwtClaims,
  startRecordingUpstream,
  type RecordingUpstream,
} from '../fixtures/servers/recording-upstream.js';
import { clientWithToken, textOf } from '../upstreams/credentials-helpers.js';
import { RESOURCE } from './helpers.js';

const API_KEY = 'client-api-key-6f0e1d2c3b4a5968';
const STATIC_KEY = 'static-upstream-key-1a2b3c4d5e6f';
const STATIC_BEARER = 'Bearer configured-upstream-token-9z8y7x';
const MODES = ['plain', 'fixed', 'cc', 'tx'] as const;

let idp: OidcFixture;
const upstreams = {} as Record<(typeof MODES)[number], RecordingUpstream>;
const h = useHarness();

beforeAll(async () => {
  idp = await startOidcProvider();
  for (const mode of MODES) upstreams[mode] = await startRecordingUpstream();
});
afterAll(async () => {
  for (const mode of MODES) await upstreams[mode]?.close();
  await idp?.close();
});

function gateway() {
  const client = { issuer: idp.issuer, ...idp.gatewayClient };
  return h.gateway({
    auth: { resource: RESOURCE, jwt: { issuer: idp.issuer }, apiKeys: [{ subject: 'robot', key: API_KEY }] },
    upstreams: {
      plain: { url: upstreams.plain.url, headers: { 'X-Upstream-Key': STATIC_KEY } },
      fixed: { url: upstreams.fixed.url, headers: { Authorization: STATIC_BEARER } },
      cc: {
        url: upstreams.cc.url,
        auth: { clientCredentials: { ...client, resource: 'http://cc.test/mcp' } },
      },
      tx: { url: upstreams.tx.url, auth: { tokenExchange: { ...client, audience: 'tx' } } },
    },
  });
}

/** Everything a client does in a session: list, call each upstream, open the GET stream, end the session. */
async function exercise(client: Client, withExchange: boolean) {
  await client.listTools();
  for (const mode of MODES) {
    if (mode === 'tx' && !withExchange) continue;
    expect(textOf(await client.callTool({ name: `${mode}__echo`, arguments: { text: 'hello' } }))).toBe(
      'hello',
    );
    await client.callTool({ name: `${mode}__authorization`, arguments: {} });
  }
  await client.close();
}

/** The token, and each of its JWT parts long enough to be telling (not the header, which a provider's tokens
 * share), must appear in no header and no body any upstream received. */
function expectNeverSeen(token: string) {
  const parts = token.split('.');
  const pieces = parts.length === 3 ? [token, parts[1], parts[2]] : [token];
  let requests = 0;
  for (const mode of MODES) {
    for (const request of upstreams[mode].requests) {
      requests++;
      const wire = `${JSON.stringify(request.headers)}\n${request.body}`;
      for (const piece of pieces)
        expect(wire, `upstream ${mode} saw the client's token`).not.toContain(piece);
    }
  }
  expect(requests).toBeGreaterThan(0);
}

describe('no token passthrough', () => {
  it("an API key client's key reaches no upstream; configured headers and obtained tokens do", async () => {
    const gw = await gateway();
    await exercise(await clientWithToken(gw.url, API_KEY), false);
    expectNeverSeen(API_KEY);
    for (const request of upstreams.plain.requests) {
      expect(request.headers['x-upstream-key']).toBe(STATIC_KEY);
      expect(request.headers.authorization).toBeUndefined();
    }
    for (const request of upstreams.fixed.requests) expect(request.headers.authorization).toBe(STATIC_BEARER);
    for (const request of upstreams.cc.requests) {
      expect(jwtClaims(request.headers.authorization!.replace(/^Bearer /, ''))).toMatchObject({
        client_id: 'gateway',
        aud: 'http://cc.test/mcp',
      });
    }
  });

  it("a JWT client's token reaches no upstream, in any mode, token exchange included", async () => {
    const gw = await gateway();
    const token = await idp.mint({ sub: 'zoe-4c1d', aud: RESOURCE, scope: 'mcp:tools' });
    const seenBefore = upstreams.tx.requests.length;
    await exercise(await clientWithToken(gw.url, token), true);
    expectNeverSeen(token);
    const exchanged = upstreams.tx.requests
      .slice(seenBefore)
      .map((r) => r.headers.authorization!.replace(/^Bearer /, ''))
      .filter((t) => jwtClaims(t).sub === 'zoe-4c1d');
    expect(exchanged.length).toBeGreaterThan(0);
    for (const t of exchanged) expect(jwtClaims(t)).toMatchObject({ aud: 'tx', act: { sub: 'gateway' } });
  });
});
