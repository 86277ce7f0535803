// When the identity provider cannot be reached, tokens that need it get 503 (not the client's fault, and never
// a pass), while API keys keep working: nothing on their path needs the provider.
import { describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import { SignJWT } from 'jose';
import { basicStdio } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';
import { bearer, initialize, RESOURCE } from './helpers.js';

const h = useHarness();
const KEY = 'provider-down-key-0123456789';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('identity provider unreachable', () => {
  it('a JWT gets 503 auth_unavailable, an opaque token too, an API key still 200', async () => {
    const issuer = `http://127.0.0.1:${await closedPort()}`;
    const gw = await h.gateway({
      upstreams: { a: basicStdio('a') },
      auth: {
        resource: RESOURCE,
        apiKeys: [{ subject: 'ci', key: KEY }],
        jwt: { issuer },
        introspection: { issuer, clientId: 'gw', clientSecret: 'secret' },
      },
    });
    const jwt = await new SignJWT({ sub: 'alice', aud: RESOURCE })
      .setProtectedHeader({ alg: 'RS256', kid: 'k' })
      .setIssuer(issuer)
      .setExpirationTime('5m')
      .sign((await import('node:crypto')).generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
    const viaJwt = await initialize(gw.url, bearer(jwt));
    expect(viaJwt.status).toBe(503);
    expect(JSON.parse(viaJwt.text).error.message).toMatch(/could not be reached/);
    expect((await initialize(gw.url, bearer('an-opaque-token-0000000000'))).status).toBe(503);
    expect((await initialize(gw.url, bearer(KEY))).status).toBe(200);
  });
});
