// The token life cycle of upstream credentials against a real OpenID provider, with the gateway's clock moved
// by hand: a fresh token costs no request (and no promise), one past its refresh time is renewed in the
// background while calls go on, an expired one is awaited, and a failing provider is asked at most once a second.
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { upstreamCredentials } from '../../src/upstreams/credentials.js';
import { startOidcProvider, type OidcFixture } from '../fixtures/oidc/provider.js';

const TTL_S = 300; // refresh at 240 s (a fifth before expiry, at most 60 s), stop sending at 298 s
let idp: OidcFixture;

beforeAll(async () => {
  idp = await startOidcProvider({ ttl: TTL_S });
});
afterAll(() => idp?.close());

function clientCredentials(now: () => number, issuer = idp.issuer) {
  return upstreamCredentials(
    { clientCredentials: { issuer, clientId: 'gateway', clientSecret: idp.gatewayClient.clientSecret } },
    now,
  ).shared;
}

/** An issuer URL on a loopback port nobody listens on. */
async function closedPort(): Promise<string> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

const grants = () => idp.tokenRequests.filter((r) => r.grantType === 'client_credentials').length;

describe('upstream token life cycle', () => {
  it('fresh: no request and no promise; past refresh: renewed in the background; expired: awaited', async () => {
    let clock = Date.now();
    const token = clientCredentials(() => clock);
    const before = grants();
    await token.fresh();
    const first = token.header();
    expect(first).toMatch(/^Bearer /);
    expect(grants() - before).toBe(1);

    clock += 200_000;
    expect(token.fresh()).toBeUndefined();
    expect(grants() - before).toBe(1);

    clock += 50_000; // 250 s: past the refresh time, still usable
    expect(token.fresh()).toBeUndefined();
    expect(token.header()).toBe(first);
    await expect.poll(() => token.header() !== first).toBe(true);
    expect(grants() - before).toBe(2);

    clock += 400_000; // the renewed token has expired too
    const waiting = token.fresh();
    expect(waiting).toBeInstanceOf(Promise);
    const renewedAgain = token.header();
    await waiting;
    expect(token.header()).not.toBe(renewedAgain);
    expect(grants() - before).toBe(3);
  });

  it('concurrent calls needing a token share one request', async () => {
    const token = clientCredentials(Date.now);
    const before = grants();
    await Promise.all(Array.from({ length: 10 }, () => token.fresh()));
    expect(grants() - before).toBe(1);
  });

  it('a provider that cannot be reached fails with the network error, and is not asked again for a second', async () => {
    let clock = Date.now();
    const dead = await closedPort();
    const token = clientCredentials(() => clock, dead);
    const failure = (await token.fresh()!.catch((error: Error) => error)) as Error;
    expect(failure.message).toMatch(
      /^the client credentials grant at http:\/\/127\.0\.0\.1:\d+ failed: .*ECONNREFUSED/,
    );
    expect(failure.message).not.toContain(idp.gatewayClient.clientSecret);
    // Within the cooldown the same error comes back at once: the same object, so no new attempt was made.
    clock += 500;
    expect((await token.fresh()!.catch((error: Error) => error)) as Error).toBe(failure);
    clock += 1000;
    const again = (await token.fresh()!.catch((error: Error) => error)) as Error;
    expect(again).not.toBe(failure);
    expect(again.message).toBe(failure.message);
  });
});
