// upstreams.<name>.auth.tokenExchange (RFC 8693) against a real OpenID provider: each user's calls reach the
// upstream on a connection of their own, with a token exchanged for theirs (sub: the user, aud: the upstream),
// exchanged once per user while it lasts; a caller with no OAuth token to exchange is refused by name.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { useHarness } from '../helpers/harness.js';
import { RESOURCE } from '../auth/helpers.js';
import { startOidcProvider, TOKEN_EXCHANGE, type OidcFixture } from '../fixtures/oidc/provider.js';
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/servers/recording-upstream.js';
import { clientWithToken, endSession, textOf } from './credentials-helpers.js';

const AUDIENCE = 'crm';
const API_KEY = 'robot-key-2c4e6a8b0d1f3e5a';
let idp: OidcFixture;
let crm: RecordingUpstream;
const h = useHarness();

beforeAll(async () => {
  idp = await startOidcProvider();
  crm = await startRecordingUpstream({ requireBearer: true });
});
afterAll(async () => {
  await crm?.close();
  await idp?.close();
});

async function gateway() {
  return h.gateway({
    auth: {
      resource: RESOURCE,
      jwt: { issuer: idp.issuer },
      apiKeys: [{ subject: 'robot', key: API_KEY }],
    },
    upstreams: {
      crm: {
        url: crm.url,
        // The recording upstream echoes the token it got: the test reads it, so results are not redacted here.
        secrets: 'off',
        auth: {
          tokenExchange: {
            issuer: idp.issuer,
            clientId: idp.gatewayClient.clientId,
            clientSecret: idp.gatewayClient.clientSecret,
            audience: AUDIENCE,
          },
        },
      },
    },
  });
}

async function user(url: string, sub: string): Promise<Client> {
  const token = await idp.mint({ sub, aud: RESOURCE, scope: 'mcp:tools', groups: [`${sub}-group`] });
  const client = await clientWithToken(url, token);
  h.defer(() => client.close());
  return client;
}

const seenBy = async (client: Client) =>
  textOf(await client.callTool({ name: 'crm__authorization', arguments: {} })).replace(/^Bearer /, '');
const exchanges = () => idp.tokenRequests.filter((r) => r.grantType === TOKEN_EXCHANGE).length;

describe('token exchange for an upstream', () => {
  it("two users' calls carry two exchanged tokens: sub is the user, aud the configured audience", async () => {
    const gw = await gateway();
    const [alice, bob] = [await user(gw.url, 'alice'), await user(gw.url, 'bob')];
    const jwks = createRemoteJWKSet(new URL(idp.jwksUri));
    const verify = (token: string) => jwtVerify(token, jwks, { issuer: idp.issuer, audience: AUDIENCE });
    const [forAlice, forBob] = [await seenBy(alice), await seenBy(bob)];
    expect((await verify(forAlice)).payload).toMatchObject({ sub: 'alice', groups: ['alice-group'] });
    expect((await verify(forBob)).payload).toMatchObject({ sub: 'bob', groups: ['bob-group'] });
    expect(forAlice).not.toBe(forBob);
  });

  it('each user is exchanged once while the token lasts, and their sessions share one connection', async () => {
    const gw = await gateway();
    const before = exchanges();
    const initializesBefore = crm.requests.filter((r) => r.body.includes('"method":"initialize"')).length;
    const alice = await user(gw.url, 'carol');
    const aliceAgain = await user(gw.url, 'carol');
    const bob = await user(gw.url, 'dave');
    for (let i = 0; i < 5; i++) {
      for (const client of [alice, aliceAgain, bob])
        await client.callTool({ name: 'crm__echo', arguments: { text: `${i}` } });
    }
    expect(await seenBy(alice)).toBe(await seenBy(aliceAgain));
    expect(exchanges() - before).toBe(2);
    // One connection per user (carol's two sessions share hers), beside the catalogue connection.
    const initializes = crm.requests.filter((r) => r.body.includes('"method":"initialize"')).length;
    expect(initializes - initializesBefore).toBe(2);
  });

  it("a user's connection ends with the last of their sessions, not before", async () => {
    const gw = await gateway();
    const first = await user(gw.url, 'frank');
    const second = await user(gw.url, 'frank');
    await first.callTool({ name: 'crm__echo', arguments: { text: 'a' } });
    await second.callTool({ name: 'crm__echo', arguments: { text: 'b' } });
    const frankSession = crm.requests.find((r) => r.body.includes('"text":"b"'))!.headers['mcp-session-id'];
    const deletes = () =>
      crm.requests.filter((r) => r.method === 'DELETE' && r.headers['mcp-session-id'] === frankSession);
    await endSession(first);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(deletes()).toHaveLength(0);
    await second.callTool({ name: 'crm__echo', arguments: { text: 'still' } });
    await endSession(second);
    await expect.poll(() => deletes().length).toBe(1);
  });

  it('a caller with an API key (no OAuth token to exchange) is refused by name; users still served', async () => {
    const gw = await gateway();
    const robot = await clientWithToken(gw.url, API_KEY);
    h.defer(() => robot.close());
    const failed = await robot.callTool({ name: 'crm__echo', arguments: { text: 'x' } }).catch((e) => e);
    expect(failed).toMatchObject({ code: -32603 });
    expect(failed.message).toMatch(/upstream "crm": token exchange needs the caller's OAuth access token/);
    expect(failed.message).not.toContain(API_KEY);
    expect(await seenBy(await user(gw.url, 'erin'))).toMatch(/^ey/);
  });
});
