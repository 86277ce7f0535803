// The in-process OpenID provider does what the auth tests (and the upstream-credential tests) rely on: discovery,
// JWKS, client credentials with JWT access tokens for a resource, introspection, token exchange, dynamic
// registration with authorization code + PKCE, key rotation, and counters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as client from 'openid-client';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { startOidcProvider, type OidcFixture } from '../fixtures/oidc/provider.js';

const RESOURCE = 'http://127.0.0.1:1/mcp';
let idp: OidcFixture;

beforeAll(async () => {
  idp = await startOidcProvider();
});
afterAll(() => idp.close());

async function discover(clientId: string, secret?: string) {
  return client.discovery(new URL(idp.issuer), clientId, secret, undefined, {
    execute: [client.allowInsecureRequests],
  });
}

describe('in-process OpenID provider', () => {
  it('serves discovery naming its JWKS, introspection and registration endpoints', async () => {
    const config = await discover('gateway', idp.gatewayClient.clientSecret);
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(idp.issuer);
    expect(meta.jwks_uri).toBe(idp.jwksUri);
    expect(meta.introspection_endpoint).toBe(idp.introspectionEndpoint);
    expect(meta.registration_endpoint).toBeDefined();
    expect(meta.grant_types_supported).toContain('urn:ietf:params:oauth:grant-type:token-exchange');
  });

  it('issues a JWT access token for a resource through client credentials', async () => {
    const answer = await idp.clientCredentials({ resource: RESOURCE, scope: 'mcp:tools' });
    const jwks = createRemoteJWKSet(new URL(idp.jwksUri));
    const { payload } = await jwtVerify(answer.access_token, jwks, {
      issuer: idp.issuer,
      audience: RESOURCE,
    });
    expect(payload.scope).toBe('mcp:tools');
    expect(payload.client_id).toBe('gateway');
    expect(idp.tokenRequests.at(-1)?.grantType).toBe('client_credentials');
  });

  it('introspects an opaque token as active and an unknown one as inactive', async () => {
    const answer = await idp.clientCredentials({ scope: 'mcp:tools' });
    const config = await discover('gateway', idp.gatewayClient.clientSecret);
    expect((await client.tokenIntrospection(config, answer.access_token)).active).toBe(true);
    expect((await client.tokenIntrospection(config, 'not-a-token-at-all')).active).toBe(false);
  });

  it('exchanges a user token for one whose audience is another service, keeping the subject', async () => {
    const user = await idp.mint({ sub: 'bob', aud: RESOURCE, scope: 'mcp:tools', groups: ['ops'] });
    const answer = await idp.exchange({ subjectToken: user, audience: 'crm' });
    const claims = decodeJwt(answer.access_token);
    expect(claims).toMatchObject({ sub: 'bob', aud: 'crm', groups: ['ops'], act: { sub: 'gateway' } });
    expect(answer.issued_token_type).toBe('urn:ietf:params:oauth:token-type:access_token');
  });

  it('completes dynamic registration, authorization code with PKCE, and issues a token for the resource', async () => {
    const redirect = 'http://127.0.0.1:9/callback';
    const config = await client.dynamicClientRegistration(
      new URL(idp.issuer),
      { redirect_uris: [redirect], token_endpoint_auth_method: 'none', grant_types: ['authorization_code'] },
      client.None(),
      { execute: [client.allowInsecureRequests] },
    );
    const verifier = client.randomPKCECodeVerifier();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: redirect,
      scope: 'mcp:tools',
      resource: RESOURCE,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state: 'st',
    });
    idp.user = { sub: 'carol', groups: ['analysts'] };
    const back = await idp.authorize(url);
    const tokens = await client.authorizationCodeGrant(
      config,
      back,
      { pkceCodeVerifier: verifier, expectedState: 'st' },
      { resource: RESOURCE },
    );
    expect(decodeJwt(tokens.access_token)).toMatchObject({
      sub: 'carol',
      aud: RESOURCE,
      scope: 'mcp:tools',
      groups: ['analysts'],
    });
  });

  it('rotates its signing key: new tokens carry the new kid, the JWKS serves it, fetches are counted', async () => {
    const before = idp.currentKid;
    await idp.rotateKeys();
    expect(idp.currentKid).not.toBe(before);
    const token = await idp.mint({ sub: 'x' });
    expect(decodeProtectedHeader(token).kid).toBe(idp.currentKid);
    const fetches = idp.jwksFetches;
    const jwks = (await (await fetch(idp.jwksUri)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual([idp.currentKid]);
    expect(idp.jwksFetches).toBe(fetches + 1);
    const answer = await idp.clientCredentials({ resource: RESOURCE });
    expect(decodeProtectedHeader(answer.access_token).kid).toBe(idp.currentKid);
  });
});
