// HS256 when it is configured with a secret: a token signed with that secret passes; one signed with the
// provider's public key (the RS/HS confusion attack) or with an HS algorithm not on the list does not.
import { createPublicKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import { basicStdio, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startOidcProvider, type OidcFixture } from '../fixtures/oidc/provider.js';
import { bearer, challengeOf, initialize, RESOURCE } from './helpers.js';

const SECRET = 'a-shared-hmac-secret-of-forty-bytes-0001';
let idp: OidcFixture;
let gw: RunningGateway;

beforeAll(async () => {
  idp = await startOidcProvider();
  gw = await startGateway({
    upstreams: { a: basicStdio('a') },
    auth: { resource: RESOURCE, jwt: { issuer: idp.issuer, algorithms: ['RS256', 'HS256'], secret: SECRET } },
  });
});
afterAll(async () => {
  await gw?.close();
  await idp?.close();
});

function hmac(alg: string, key: Uint8Array, kid?: string) {
  return new SignJWT({ sub: 'alice', aud: RESOURCE })
    .setProtectedHeader({ alg, ...(kid ? { kid } : {}) })
    .setIssuer(idp.issuer)
    .setExpirationTime('5m')
    .sign(key);
}

const publicPem = () =>
  new TextEncoder().encode(
    createPublicKey({ key: idp.publicJwks().keys[0] as any, format: 'jwk' }).export({
      type: 'spki',
      format: 'pem',
    }) as string,
  );

describe('HS256 with a configured secret', () => {
  it('a token signed with the secret is accepted', async () => {
    const token = await hmac('HS256', new TextEncoder().encode(SECRET));
    expect((await initialize(gw.url, bearer(token))).status).toBe(200);
  });

  it('an RS256 token from the provider is still accepted', async () => {
    expect((await initialize(gw.url, bearer(await idp.mint({ sub: 'alice', aud: RESOURCE })))).status).toBe(
      200,
    );
  });

  it('an HS256 token signed with the provider public key is refused (signature)', async () => {
    const answer = await initialize(gw.url, bearer(await hmac('HS256', publicPem(), idp.currentKid)));
    expect(answer.status).toBe(401);
    expect(challengeOf(answer).error_description).toMatch(/signature/);
  });

  it('an HS384 token is refused: not on the algorithm list', async () => {
    const answer = await initialize(
      gw.url,
      bearer(await hmac('HS384', new TextEncoder().encode(SECRET + SECRET))),
    );
    expect(answer.status).toBe(401);
    expect(challengeOf(answer).error_description).toMatch(/algorithm/);
  });
});
