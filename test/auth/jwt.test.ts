// JWT access tokens against a real gateway and a real OpenID provider: each row of the issue's table is a test.
// Every refusal is also checked to carry the RFC 9728 challenge and nothing of the token it refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublicKey } from 'node:crypto';
import { SignJWT } from 'jose';
import { basicStdio, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { startOidcProvider, type OidcFixture } from '../fixtures/oidc/provider.js';
import {
  bearer,
  challengeOf,
  expectNoLeak,
  initialize,
  METADATA_URL,
  now,
  RESOURCE,
  unsignedJwt,
} from './helpers.js';

const SUBJECT = 'subject-7f3a9c'; // distinctive, so a leak of the claim value is detectable
let idp: OidcFixture;
let gw: RunningGateway;

beforeAll(async () => {
  idp = await startOidcProvider();
  gw = await startGateway({
    upstreams: { a: basicStdio('a') },
    auth: { resource: RESOURCE, requiredScopes: ['mcp:tools'], jwt: { issuer: idp.issuer } },
  });
});
afterAll(async () => {
  await gw?.close();
  await idp?.close();
});

const good = (claims: Record<string, unknown> = {}, options?: { kid?: string }) =>
  idp.mint({ sub: SUBJECT, aud: RESOURCE, scope: 'mcp:tools', groups: ['g1'], ...claims }, options);

/** The public key as the PEM text an attacker would use as an HMAC secret. */
function publicPem(): Uint8Array {
  const jwk = idp.publicJwks().keys[0];
  const pem = createPublicKey({ key: jwk as any, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
  return new TextEncoder().encode(pem as string);
}

interface Row {
  name: string;
  header: () => Promise<string | undefined>;
  status: number;
  /** The `error` in WWW-Authenticate; undefined: none (a bare challenge), null: not a 401/403. */
  error?: string | null;
  description?: RegExp;
}

const rows: Row[] = [
  { name: 'no Authorization header', header: async () => undefined, status: 401 },
  {
    name: 'Basic credentials',
    header: async () => 'Basic dXNlcjpwYXNzd29yZA==',
    status: 401,
    error: 'invalid_request',
    description: /only Bearer/,
  },
  {
    name: 'Bearer with nothing after it',
    header: async () => 'Bearer',
    status: 401,
    error: 'invalid_request',
  },
  { name: 'Bearer and a space only', header: async () => 'Bearer ', status: 401, error: 'invalid_request' },
  {
    name: 'a token with a space inside',
    header: async () => `Bearer ${(await good()).replace('.', ' .')}`,
    status: 401,
    error: 'invalid_request',
  },
  {
    name: 'lower-case scheme "bearer" (RFC 6750: case-insensitive)',
    header: async () => `bearer ${await good()}`,
    status: 200,
  },
  {
    name: 'two spaces after Bearer (RFC 6750: 1*SP)',
    header: async () => `Bearer  ${await good()}`,
    status: 200,
  },
  { name: 'a valid token', header: async () => `Bearer ${await good()}`, status: 200 },
  {
    name: 'expired beyond the clock skew',
    header: async () => `Bearer ${await good({ exp: now() - 120, iat: now() - 600 })}`,
    status: 401,
    error: 'invalid_token',
    description: /expired/,
  },
  {
    name: 'expired within the 30s clock skew is accepted',
    header: async () => `Bearer ${await good({ exp: now() - 5 })}`,
    status: 200,
  },
  {
    name: 'not yet valid (nbf in the future)',
    header: async () => `Bearer ${await good({ nbf: now() + 300 })}`,
    status: 401,
    error: 'invalid_token',
    description: /not valid yet/,
  },
  {
    name: 'issued by another issuer',
    header: async () => `Bearer ${await good({ iss: 'https://idp.other.test' })}`,
    status: 401,
    error: 'invalid_token',
    description: /another issuer/,
  },
  {
    name: 'for another audience',
    header: async () => `Bearer ${await good({ aud: 'https://crm.example.test/mcp' })}`,
    status: 401,
    error: 'invalid_token',
    description: /another audience/,
  },
  {
    name: 'for the trailing-slash variant of the resource',
    header: async () => `Bearer ${await good({ aud: `${RESOURCE}/` })}`,
    status: 401,
    error: 'invalid_token',
    description: /another audience/,
  },
  {
    name: 'with the resource among several audiences',
    header: async () => `Bearer ${await good({ aud: ['https://other.test', RESOURCE] })}`,
    status: 200,
  },
  {
    name: 'alg none',
    header: async () =>
      `Bearer ${unsignedJwt({ iss: idp.issuer, sub: SUBJECT, aud: RESOURCE, scope: 'mcp:tools', exp: now() + 300 })}`,
    status: 401,
    error: 'invalid_token',
    description: /algorithm/,
  },
  {
    name: 'HS256 signed with the provider public key',
    header: async () =>
      `Bearer ${await new SignJWT({ sub: SUBJECT, aud: RESOURCE, scope: 'mcp:tools' })
        .setProtectedHeader({ alg: 'HS256', kid: idp.currentKid })
        .setIssuer(idp.issuer)
        .setExpirationTime('5m')
        .sign(publicPem())}`,
    status: 401,
    error: 'invalid_token',
    description: /algorithm/,
  },
  {
    name: 'signed with a key id the JWKS does not have',
    header: async () => `Bearer ${await good({}, { kid: 'no-such-key' })}`,
    status: 401,
    error: 'invalid_token',
    description: /unknown key/,
  },
  {
    name: 'a tampered payload',
    header: async () => {
      const [h, , s] = (await good()).split('.');
      const forged = Buffer.from(
        JSON.stringify({ iss: idp.issuer, sub: 'root', aud: RESOURCE, scope: 'mcp:tools', exp: now() + 300 }),
      ).toString('base64url');
      return `Bearer ${h}.${forged}.${s}`;
    },
    status: 401,
    error: 'invalid_token',
    description: /signature/,
  },
  {
    name: 'without an exp claim',
    header: async () => `Bearer ${await good({ exp: undefined })}`,
    status: 401,
    error: 'invalid_token',
  },
  {
    name: 'without the required scope: 403 naming it',
    header: async () => `Bearer ${await good({ scope: 'mcp:read' })}`,
    status: 403,
    error: 'insufficient_scope',
  },
  {
    name: 'with the scope as an array',
    header: async () => `Bearer ${await good({ scope: ['mcp:read', 'mcp:tools'] })}`,
    status: 200,
  },
];

describe('JWT auth: the case table', () => {
  for (const row of rows) {
    it(`${row.name} -> ${row.status}`, async () => {
      const header = await row.header();
      const answer = await initialize(gw.url, header === undefined ? {} : { authorization: header });
      expect(answer.status).toBe(row.status);
      const token = header?.split(/ +/)[1];
      if (row.status === 200) return;
      const challenge = challengeOf(answer);
      expect(challenge.resource_metadata).toBe(METADATA_URL);
      if (row.status === 403) {
        expect(challenge).toMatchObject({ error: 'insufficient_scope', scope: 'mcp:tools' });
        expect(JSON.parse(answer.text).error.message).toContain('mcp:tools');
      } else {
        expect(challenge.error).toBe(row.error);
      }
      if (row.error === undefined) expect(challenge.scope).toBe('mcp:tools');
      if (row.description) expect(challenge.error_description).toMatch(row.description);
      expectNoLeak(answer, token, [SUBJECT]);
    });
  }
});

describe('JWT auth: around the table', () => {
  it('an SDK client with a valid token lists and calls tools', async () => {
    const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
    const { StreamableHTTPClientTransport } =
      await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
    const client = new Client({ name: 't', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(gw.url), { requestInit: { headers: bearer(await good()) } }),
    );
    try {
      const { tools } = await client.listTools();
      expect(tools.length).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });

  it('a token in the query string is refused with 400 even beside a valid header', async () => {
    const token = await good();
    const answer = await initialize(`${gw.url}?access_token=${token}`, bearer(token));
    expect(answer.status).toBe(400);
    expect(challengeOf(answer).error).toBe('invalid_request');
    expect(answer.text).toMatch(/Authorization header/);
    expectNoLeak(answer, token, [SUBJECT]);
  });

  it('a session id presented by another identity is unknown (404); its owner still reaches it', async () => {
    const alice = await good({ sub: 'alice' });
    const opened = await initialize(gw.url, bearer(alice));
    const session = opened.headers.get('mcp-session-id')!;
    expect(session).toBeTruthy();
    const list = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    const headers = { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
    const asBob = await initialize(gw.url, { ...bearer(await good({ sub: 'bob' })), ...headers }, list);
    expect(asBob.status).toBe(404);
    const asAlice = await initialize(gw.url, { ...bearer(await good({ sub: 'alice' })), ...headers }, list);
    expect(asAlice.status).toBe(200);
  });

  it('serves RFC 9728 metadata at the resource path and the root, without a token', async () => {
    const base = gw.url.replace(/\/mcp$/, '');
    for (const path of [
      '/.well-known/oauth-protected-resource/mcp',
      '/.well-known/oauth-protected-resource',
    ]) {
      const response = await fetch(`${base}${path}`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        resource: RESOURCE,
        authorization_servers: [idp.issuer],
        scopes_supported: ['mcp:tools'],
        bearer_methods_supported: ['header'],
        resource_name: 'Switchboard MCP gateway',
      });
    }
  });

  it('the metadata is still behind the Host guard', async () => {
    const base = gw.url.replace(/\/mcp$/, '');
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${base}/.well-known/oauth-protected-resource/mcp`,
        { headers: { host: 'evil.example' } },
        (res) => {
          res.resume();
          resolve(res.statusCode!);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(403);
  });

  it('/healthz is open; /readyz names upstreams only to an authenticated caller', async () => {
    const base = gw.url.replace(/\/mcp$/, '');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const anonymous = (await (await fetch(`${base}/readyz`)).json()) as Record<string, unknown>;
    expect(anonymous).toEqual({ ready: true });
    const bad = (await (
      await fetch(`${base}/readyz`, { headers: bearer('nonsense-token') })
    ).json()) as Record<string, unknown>;
    expect(bad).toEqual({ ready: true });
    const known = (await (await fetch(`${base}/readyz`, { headers: bearer(await good()) })).json()) as {
      upstreams: Record<string, unknown>;
    };
    expect(Object.keys(known.upstreams)).toEqual(['a']);
  });

  it('any other path needs a token too (fail closed)', async () => {
    const base = gw.url.replace(/\/mcp$/, '');
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: bearer(await good()) })).status).toBe(404);
  });
});
