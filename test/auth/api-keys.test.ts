// API keys on a real gateway: a key given as its SHA-256 or from the environment, a wrong key, a key revoked by
// swapping the key set (what config reload does), keys beside JWT auth, and the principal a key yields.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicStdio, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';
import { ApiKeys, tokenDigest } from '../../src/gateway/front/auth-api-keys.js';
import { bearer, challengeOf, expectNoLeak, initialize, METADATA_URL, RESOURCE } from './helpers.js';

const CI_KEY = 'ci-key-3b7f0d2a9e8c4b1f';
const OPS_KEY = 'ops-key-9a8b7c6d5e4f3a2b';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const h = useHarness();

/** `start`: the harness (closed after the test) or startGateway (closed by the caller). */
async function keyGateway(start: typeof startGateway = h.gateway): Promise<RunningGateway> {
  process.env.SWITCHBOARD_TEST_OPS_KEY = OPS_KEY;
  return start({
    upstreams: { a: basicStdio('a') },
    auth: {
      resource: RESOURCE,
      requiredScopes: ['mcp:tools'],
      apiKeys: [
        { subject: 'ci-bot', groups: ['ci'], sha256: `sha256:${sha256(CI_KEY)}` },
        { subject: 'ops', groups: ['ops'], scopes: ['admin'], key: '${SWITCHBOARD_TEST_OPS_KEY}' },
      ],
    },
  });
}

describe('API keys', () => {
  // One gateway for the cases that only read; the revocation case swaps keys on a gateway of its own.
  let shared: RunningGateway;
  beforeAll(async () => {
    shared = await keyGateway(startGateway);
  });
  afterAll(() => shared?.close());
  const cases = [
    { name: 'a key stored as sha256: is accepted', key: CI_KEY, status: 200 },
    { name: 'a key read from the environment is accepted', key: OPS_KEY, status: 200 },
    { name: 'a wrong key is refused with invalid_token', key: 'ci-key-3b7f0d2a9e8c4b1e', status: 401 },
    { name: 'the digest itself is not a key', key: sha256(CI_KEY), status: 401 },
  ];
  for (const row of cases) {
    it(`${row.name} (${row.status})`, async () => {
      const answer = await initialize(shared.url, bearer(row.key));
      expect(answer.status).toBe(row.status);
      if (row.status === 401) {
        expect(challengeOf(answer)).toMatchObject({
          error: 'invalid_token',
          resource_metadata: METADATA_URL,
        });
        expectNoLeak(answer, row.key);
      }
    });
  }

  it('requiredScopes do not apply to API keys (the operator grants a key directly)', async () => {
    expect((await initialize(shared.url, bearer(CI_KEY))).status).toBe(200);
  });

  it('a key revoked by replacing the key set is refused on the next request, its session included', async () => {
    const gw = await keyGateway();
    const opened = await initialize(gw.url, bearer(CI_KEY));
    expect(opened.status).toBe(200);
    const session = opened.headers.get('mcp-session-id')!;
    gw.app.inboundAuth!.apiKeys.replace([{ subject: 'ops', groups: ['ops'], key: OPS_KEY }]);
    const list = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    const again = await initialize(gw.url, { ...bearer(CI_KEY), 'mcp-session-id': session }, list);
    expect(again.status).toBe(401);
    expect((await initialize(gw.url, bearer(OPS_KEY))).status).toBe(200);
  });

  it('a session opened with one key is unknown (404) to another key', async () => {
    const gw = shared;
    const opened = await initialize(gw.url, bearer(CI_KEY));
    const list = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    const headers = {
      'mcp-session-id': opened.headers.get('mcp-session-id')!,
      'mcp-protocol-version': '2025-11-25',
    };
    expect((await initialize(gw.url, { ...bearer(OPS_KEY), ...headers }, list)).status).toBe(404);
    expect((await initialize(gw.url, { ...bearer(CI_KEY), ...headers }, list)).status).toBe(200);
  });

  it('the RFC 9728 document of a keys-only gateway names no authorization server', async () => {
    const gw = shared;
    const body = await (
      await fetch(gw.url.replace(/\/mcp$/, '/.well-known/oauth-protected-resource/mcp'))
    ).json();
    expect(body).toMatchObject({ resource: RESOURCE, bearer_methods_supported: ['header'] });
    expect(body).not.toHaveProperty('authorization_servers');
  });
});

describe('ApiKeys (the key set)', () => {
  it('yields the configured subject, groups and scopes, via apiKey', () => {
    const keys = new ApiKeys([
      { subject: 'ci-bot', groups: ['ci'], scopes: ['deploy'], sha256: sha256(CI_KEY) },
    ]);
    expect(keys.match(tokenDigest(CI_KEY))).toEqual({
      subject: 'ci-bot',
      groups: ['ci'],
      scopes: ['deploy'],
      via: 'apiKey',
    });
  });

  it('replace() swaps the whole set: keys left out stop matching, new ones start', () => {
    const keys = new ApiKeys([{ subject: 'a', key: CI_KEY }]);
    keys.replace([{ subject: 'b', key: OPS_KEY }]);
    expect(keys.match(tokenDigest(CI_KEY))).toBeUndefined();
    expect(keys.match(tokenDigest(OPS_KEY))?.subject).toBe('b');
    expect(keys.size).toBe(1);
  });
});
