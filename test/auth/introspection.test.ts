// Opaque tokens through RFC 7662 introspection at a real provider: active, inactive, kept by hash (a second
// request costs no round trip), the provider's audience honoured, and JWT and introspection side by side.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicStdio, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startOidcProvider, type OidcFixture } from '../fixtures/oidc/provider.js';
import { bearer, challengeOf, expectNoLeak, initialize, RESOURCE } from './helpers.js';

let idp: OidcFixture;
let gw: RunningGateway;

beforeAll(async () => {
  idp = await startOidcProvider();
  gw = await startGateway({
    upstreams: { a: basicStdio('a') },
    auth: {
      resource: RESOURCE,
      requiredScopes: ['mcp:tools'],
      jwt: { issuer: idp.issuer },
      introspection: {
        issuer: idp.issuer,
        clientId: idp.gatewayClient.clientId,
        clientSecret: idp.gatewayClient.clientSecret,
      },
    },
  });
});
afterAll(async () => {
  await gw?.close();
  await idp?.close();
});

/** An opaque token (no resource indicator: the provider issues an opaque one). */
const opaque = async (scope = 'mcp:tools') => (await idp.clientCredentials({ scope })).access_token;

describe('introspection', () => {
  it('an active opaque token is accepted', async () => {
    const token = await opaque();
    expect(token.split('.').length).toBe(1);
    expect((await initialize(gw.url, bearer(token))).status).toBe(200);
  });

  it('an inactive token is refused with 401 invalid_token', async () => {
    const token = 'opaque-token-the-provider-never-issued-000';
    const answer = await initialize(gw.url, bearer(token));
    expect(answer.status).toBe(401);
    expect(challengeOf(answer)).toMatchObject({
      error: 'invalid_token',
      error_description: 'the token is not active',
    });
    expectNoLeak(answer, token);
  });

  it('the answer is kept: a token used again costs no introspection, a refused one neither', async () => {
    const token = await opaque();
    idp.introspections = 0;
    expect((await initialize(gw.url, bearer(token))).status).toBe(200);
    expect((await initialize(gw.url, bearer(token))).status).toBe(200);
    expect(idp.introspections).toBe(1);
    const bad = 'another-opaque-token-never-issued-111';
    await initialize(gw.url, bearer(bad));
    await initialize(gw.url, bearer(bad));
    expect(idp.introspections).toBe(2);
  });

  it('concurrent requests with one new token share one introspection', async () => {
    const token = await opaque();
    idp.introspections = 0;
    const answers = await Promise.all(Array.from({ length: 10 }, () => initialize(gw.url, bearer(token))));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(idp.introspections).toBe(1);
  });

  it('an active token without the required scope gets 403 insufficient_scope', async () => {
    const answer = await initialize(gw.url, bearer(await opaque('mcp:read')));
    expect(answer.status).toBe(403);
    expect(challengeOf(answer)).toMatchObject({ error: 'insufficient_scope', scope: 'mcp:tools' });
  });

  it('a JWT-shaped token goes to the JWT verifier, not to introspection', async () => {
    idp.introspections = 0;
    const jwt = await idp.mint({ sub: 'alice', aud: RESOURCE, scope: 'mcp:tools' });
    expect((await initialize(gw.url, bearer(jwt))).status).toBe(200);
    expect(idp.introspections).toBe(0);
  });
});
