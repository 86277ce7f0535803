// upstreams.<name>.auth.clientCredentials against a real OpenID provider: the upstream receives a token the
// provider issued to the gateway's client for that upstream, one grant serves many calls, a new token replaces
// an expired one, and a provider that is down or refuses fails that upstream's calls clearly, nothing else.
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { basicStdio } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';
import { startOidcProvider, type OidcFixture } from '../fixtures/oidc/provider.js';
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/servers/recording-upstream.js';
import { textOf } from './credentials-helpers.js';

const UPSTREAM_RESOURCE = 'http://crm.internal.test/mcp';
const h = useHarness();
const started: { close(): Promise<void> }[] = [];
afterEach(async () => {
  while (started.length) await started.pop()!.close();
});

async function provider(ttl?: number): Promise<OidcFixture> {
  const idp = await startOidcProvider({ ttl });
  started.push(idp);
  return idp;
}

async function upstream(legacy = false): Promise<RecordingUpstream> {
  // 401 without a bearer: the catalogue connection must carry a token too.
  const recording = await startRecordingUpstream({ requireBearer: true, legacy });
  started.push(recording);
  return recording;
}

function ccUpstream(idp: OidcFixture, url: string, secret = idp.gatewayClient.clientSecret) {
  return {
    url,
    // The fixture answers with the token it received: the test reads it, so results are not redacted here.
    secrets: 'off',
    auth: {
      clientCredentials: {
        issuer: idp.issuer,
        clientId: idp.gatewayClient.clientId,
        clientSecret: secret,
        resource: UPSTREAM_RESOURCE,
        scope: 'mcp:tools',
      },
    },
  };
}

const grants = (idp: OidcFixture) => idp.tokenRequests.filter((r) => r.grantType === 'client_credentials');
const bearerOf = (header: string) => header.replace(/^Bearer /, '');

describe('client credentials for an upstream', () => {
  it('the upstream receives a token the provider issued to the gateway client, for that upstream', async () => {
    const idp = await provider();
    const crm = await upstream();
    const gw = await h.gateway({ upstreams: { crm: ccUpstream(idp, crm.url) } });
    const client = await h.client(gw);
    const header = textOf(await client.callTool({ name: 'crm__authorization', arguments: {} }));
    const { payload } = await jwtVerify(bearerOf(header), createRemoteJWKSet(new URL(idp.jwksUri)), {
      issuer: idp.issuer,
      audience: UPSTREAM_RESOURCE,
    });
    expect(payload).toMatchObject({ client_id: 'gateway', scope: 'mcp:tools' });
    // Every request the upstream saw, the handshake included, carried it; none was refused.
    expect(crm.refused).toBe(0);
    for (const request of crm.requests) expect(request.headers.authorization).toBe(header);
  });

  it('a legacy HTTP+SSE upstream gets the token on its stream and on every message', async () => {
    const idp = await provider();
    const old = await upstream(true);
    const gw = await h.gateway({ upstreams: { old: { ...ccUpstream(idp, old.url), type: 'sse' } } });
    const client = await h.client(gw);
    const header = textOf(await client.callTool({ name: 'old__authorization', arguments: {} }));
    expect(header).toMatch(/^Bearer ey/);
    expect(old.refused).toBe(0);
    expect(new Set(old.requests.map((r) => r.method))).toEqual(new Set(['GET', 'POST']));
    for (const request of old.requests) expect(request.headers.authorization).toBe(header);
  });

  it('one grant serves many calls (the token is cached)', async () => {
    const idp = await provider();
    const crm = await upstream();
    const gw = await h.gateway({ upstreams: { crm: ccUpstream(idp, crm.url) } });
    const client = await h.client(gw);
    for (let i = 0; i < 20; i++) await client.callTool({ name: 'crm__echo', arguments: { text: `${i}` } });
    expect(grants(idp)).toHaveLength(1);
  });

  it('an expired token is replaced by a new grant, on the same upstream connection', async () => {
    const idp = await provider(2);
    const crm = await upstream();
    const gw = await h.gateway({ upstreams: { crm: ccUpstream(idp, crm.url) } });
    const client = await h.client(gw);
    const first = textOf(await client.callTool({ name: 'crm__authorization', arguments: {} }));
    await new Promise((resolve) => setTimeout(resolve, 2200));
    const second = textOf(await client.callTool({ name: 'crm__authorization', arguments: {} }));
    expect(second).toMatch(/^Bearer /);
    expect(second).not.toBe(first);
    expect(grants(idp)).toHaveLength(2);
    // No new upstream session: the connection stayed, only its header changed.
    const initializes = crm.requests.filter((r) => r.body.includes('"method":"initialize"'));
    expect(initializes).toHaveLength(1);
  });

  it('a provider that is down fails that upstream clearly; the others keep serving', async () => {
    const idp = await provider(2);
    const crm = await upstream();
    const gw = await h.gateway({ upstreams: { crm: ccUpstream(idp, crm.url), local: basicStdio('local') } });
    const client = await h.client(gw);
    await client.callTool({ name: 'crm__echo', arguments: { text: 'before' } });
    await idp.close();
    await new Promise((resolve) => setTimeout(resolve, 2200));
    const failed = client.callTool({ name: 'crm__echo', arguments: { text: 'after' } });
    await expect(failed).rejects.toMatchObject({ code: -32603 });
    const message = ((await failed.catch((e: Error) => e)) as Error).message;
    expect(message).toContain('upstream "crm"');
    expect(message).toContain('client credentials grant');
    expect(message).toContain(idp.issuer);
    expect(message).not.toContain(idp.gatewayClient.clientSecret);
    const echoed = await client.callTool({ name: 'local__echo', arguments: { text: 'still here' } });
    expect(JSON.stringify(echoed)).toContain('still here');
  });

  it("a provider's refusal names the upstream and the provider's error code, never the secret", async () => {
    const idp = await provider();
    const crm = await upstream();
    const wrong = 'wrong-secret-4f1e9d2c8b7a6e5d';
    const gw = await h.gateway({
      upstreams: { crm: ccUpstream(idp, crm.url, wrong), local: basicStdio('local') },
    });
    const ready = await (await fetch(gw.url.replace(/\/mcp$/, '/readyz'))).json();
    expect(ready.upstreams.crm.state).toBe('down');
    expect(ready.upstreams.crm.error).toMatch(
      /upstream "crm": the client credentials grant at .* failed: invalid_client/,
    );
    expect(JSON.stringify(ready)).not.toContain(wrong);
    expect(ready.upstreams.local.state).toBe('ready');
    // The upstream was never asked without a token.
    expect(crm.requests).toHaveLength(0);
  });
});
