// What a keep-alive connection remembers of the API key it proved (auth-connection-keys.ts), attacked on one real
// connection to a real gateway: a near-miss, a longer or shorter header, another client's key behind the same
// connection (as through a proxy), and a key revoked by a reload while the connection stays open. Also the
// constant-time comparison itself, against === for any pair of strings.
import { createHash } from 'node:crypto';
import http from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sameText } from '../../src/gateway/front/auth-connection-keys.js';
import { basicStdio, INIT, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { RESOURCE } from './helpers.js';

const KEY_A = 'key-a-7c1e9b2d4f6a8c0e1b3d5f7a';
const KEY_B = 'key-b-0f2e4d6c8b0a1f3e5d7c9b1a';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** One POST on `agent` (one socket at most, kept alive): its status, session id, and whether the socket was reused. */
function post(
  gateway: RunningGateway,
  agent: http.Agent,
  headers: Record<string, string>,
  body = INIT,
): Promise<{ status: number; session?: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      gateway.url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...headers,
        },
      },
      (response) => {
        response.resume();
        response.on('end', () =>
          resolve({
            status: response.statusCode!,
            session: response.headers['mcp-session-id'] as string | undefined,
            reused: request.reusedSocket,
          }),
        );
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

const as = (key: string) => ({ authorization: `Bearer ${key}` });
const LIST = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' });

describe('an API key remembered per connection', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway({
      upstreams: { a: basicStdio('a') },
      auth: {
        resource: RESOURCE,
        apiKeys: [
          { subject: 'alice', sha256: sha256(KEY_A) },
          { subject: 'bob', sha256: sha256(KEY_B) },
        ],
      },
    });
  });
  afterAll(() => gateway?.close());

  it('accepts only the very header it proved: a near-miss, a longer and a shorter one are refused', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await post(gateway, agent, as(KEY_A))).toMatchObject({ status: 200 });
      const attempts = [
        `${KEY_A.slice(0, -1)}b`, // the last character differs
        `${KEY_A}0`, // the remembered header is a prefix of this one
        KEY_A.slice(0, -1), // this one is a prefix of the remembered header
        `${KEY_A.slice(0, 5)}${KEY_A[5] === 'x' ? 'y' : 'x'}${KEY_A.slice(6)}`, // a difference in the middle
      ];
      for (const key of attempts)
        expect(await post(gateway, agent, as(key))).toEqual({ status: 401, reused: true });
      // Another scheme, or no Bearer at all, with the remembered token.
      expect(await post(gateway, agent, { authorization: KEY_A })).toMatchObject({
        status: 401,
        reused: true,
      });
      expect(await post(gateway, agent, as(KEY_A))).toMatchObject({ status: 200, reused: true });
    } finally {
      agent.destroy();
    }
  });

  it("never lends one client's principal to another on a shared connection (as behind a proxy)", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const alice = await post(gateway, agent, as(KEY_A));
      const bob = await post(gateway, agent, as(KEY_B));
      expect([alice.status, bob.status, bob.reused]).toEqual([200, 200, true]);
      const mcp = { 'mcp-protocol-version': '2025-11-25' };
      // Bob, presenting his own key right after Alice's on the same socket, is a stranger to her session.
      const intrusion = await post(
        gateway,
        agent,
        { ...as(KEY_B), ...mcp, 'mcp-session-id': alice.session! },
        LIST,
      );
      expect(intrusion).toEqual({ status: 404, reused: true });
      expect(
        await post(gateway, agent, { ...as(KEY_A), ...mcp, 'mcp-session-id': alice.session! }, LIST),
      ).toMatchObject({ status: 200, reused: true });
      expect(
        await post(gateway, agent, { ...as(KEY_A), ...mcp, 'mcp-session-id': bob.session! }, LIST),
      ).toMatchObject({ status: 404, reused: true });
    } finally {
      agent.destroy();
    }
  });

  it('forgets a key the key set no longer has, on the same open connection', async () => {
    const own = await startGateway({
      upstreams: { a: basicStdio('a') },
      auth: { resource: RESOURCE, apiKeys: [{ subject: 'alice', sha256: sha256(KEY_A) }] },
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect((await post(own, agent, as(KEY_A))).status).toBe(200);
      expect((await post(own, agent, as(KEY_A))).status).toBe(200);
      own.app.inboundAuth!.apiKeys.replace([{ subject: 'bob', sha256: sha256(KEY_B) }]);
      expect(await post(own, agent, as(KEY_A))).toEqual({ status: 401, reused: true });
      expect(await post(own, agent, as(KEY_B))).toMatchObject({ status: 200, reused: true });
    } finally {
      agent.destroy();
      await own.close();
    }
  });
});

describe('sameText (the constant-time comparison)', () => {
  it('is === for any two strings, prefixes, lone surrogates and empty ones included', () => {
    const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('', 'a', 'ab', '\0'));
    fc.assert(
      fc.property(text, text, (a, b) => {
        expect(sameText(a, b)).toBe(a === b);
        expect(sameText(a, a + b)).toBe(b === '');
        expect(sameText(a + b, a)).toBe(b === '');
      }),
      { numRuns: 500 },
    );
  });
});
