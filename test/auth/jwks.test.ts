// The JWKS cache against a real provider: a flood of unknown key ids costs at most one fetch per cooldown, a
// key rotated at the provider works after the cooldown without a restart, and a verified token is kept by its
// hash (it still passes once its key is gone from the JWKS, while an unverified token from that key does not).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicStdio, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startOidcProvider, type OidcFixture } from '../fixtures/oidc/provider.js';
import { bearer, challengeOf, initialize, RESOURCE } from './helpers.js';

const COOLDOWN_MS = 1_500;
let idp: OidcFixture;
let gw: RunningGateway;

beforeAll(async () => {
  idp = await startOidcProvider();
  gw = await startGateway({
    upstreams: { a: basicStdio('a') },
    auth: { resource: RESOURCE, jwt: { issuer: idp.issuer, jwksCooldown: `${COOLDOWN_MS}ms` } },
  });
});
afterAll(async () => {
  await gw?.close();
  await idp?.close();
});

const mint = (options?: { kid?: string }) => idp.mint({ sub: 'alice', aud: RESOURCE }, options);
const status = async (token: string) => (await initialize(gw.url, bearer(token))).status;
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('JWKS cache', () => {
  it('50 tokens with unknown key ids after the cooldown cause exactly one JWKS fetch, then none', async () => {
    expect(await status(await mint())).toBe(200);
    await pause(COOLDOWN_MS + 100);
    idp.jwksFetches = 0;
    const flood = await Promise.all(
      Array.from({ length: 50 }, async (_, i) =>
        initialize(gw.url, bearer(await mint({ kid: `unknown-${i}` }))),
      ),
    );
    expect(flood.map((a) => a.status)).toEqual(Array(50).fill(401));
    expect(challengeOf(flood[0]).error_description).toMatch(/unknown key/);
    expect(idp.jwksFetches).toBe(1);
    // Still inside the cooldown: another flood fetches nothing.
    await Promise.all(Array.from({ length: 50 }, async (_, i) => status(await mint({ kid: `again-${i}` }))));
    expect(idp.jwksFetches).toBe(1);
  });

  it('a key rotated at the provider is refused inside the cooldown and works after it, without a restart', async () => {
    const before = await mint();
    expect(await status(before)).toBe(200);
    // An unknown key id after the cooldown makes the gateway fetch now: the rotation below is inside the next.
    await pause(COOLDOWN_MS + 100);
    idp.jwksFetches = 0;
    expect(await status(await mint({ kid: 'prime' }))).toBe(401);
    expect(idp.jwksFetches).toBe(1);
    await idp.rotateKeys();
    const after = await mint();
    expect(await status(after)).toBe(401);
    await pause(COOLDOWN_MS + 100);
    expect(await status(after)).toBe(200);
    // The token verified before the rotation is kept by its hash until it expires.
    expect(await status(before)).toBe(200);
  });

  it('a token signed with the dropped key that was never verified is refused: only the cache kept the other', async () => {
    const keep = await mint();
    expect(await status(keep)).toBe(200);
    const unseen = await mint(); // same key, never presented
    await idp.rotateKeys();
    await pause(COOLDOWN_MS + 100);
    expect(await status(await mint())).toBe(200); // fetches the new JWKS, without the old key
    expect(await status(unseen)).toBe(401);
    expect(await status(keep)).toBe(200);
  });
});
