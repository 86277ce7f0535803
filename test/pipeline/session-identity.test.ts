// A session answers only to the identity that opened it (subject, via, clientId): to anyone else its id is an
// unknown session, byte for byte, on POST, GET and DELETE; and their attempts leave it working for its owner.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INIT } from '../helpers/gateway.js';
import { startPolicyGateway, type PolicyGateway } from './visibility-helpers.js';

type Identity = Record<string, string>;

const ALICE: Identity = { 'x-test-subject': 'alice' };
const OTHERS: { who: string; headers: Identity }[] = [
  { who: 'another subject', headers: { 'x-test-subject': 'bob' } },
  { who: 'the same subject through another via', headers: { ...ALICE, 'x-test-via': 'jwt' } },
  { who: 'the same subject with another client id', headers: { ...ALICE, 'x-test-client': 'other-app' } },
];
const PING = JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'ping' });

interface Seen {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** One request; every header but the date is kept, as a client could tell answers apart by any of them. */
async function send(
  gw: PolicyGateway,
  method: 'POST' | 'GET' | 'DELETE',
  identity: Identity,
  sessionId: string,
): Promise<Seen> {
  const response = await fetch(gw.url, {
    method,
    headers: {
      ...identity,
      'mcp-session-id': sessionId,
      'mcp-protocol-version': '2025-11-25',
      accept: method === 'GET' ? 'text/event-stream' : 'application/json, text/event-stream',
      ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
    },
    body: method === 'POST' ? PING : undefined,
  });
  const headers = Object.fromEntries([...response.headers].filter(([name]) => name !== 'date'));
  return { status: response.status, headers, body: await response.text() };
}

async function openSession(gw: PolicyGateway, identity: Identity): Promise<string> {
  const response = await fetch(gw.url, {
    method: 'POST',
    headers: {
      ...identity,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: INIT,
  });
  await response.text();
  const id = response.headers.get('mcp-session-id');
  expect(response.status).toBe(200);
  expect(id).toBeTruthy();
  return id!;
}

/** The owner's GET stream opens (200, event stream); it is closed again at once. */
async function ownerStreamOpens(gw: PolicyGateway, sessionId: string): Promise<void> {
  const controller = new AbortController();
  const response = await fetch(gw.url, {
    headers: { ...ALICE, 'mcp-session-id': sessionId, accept: 'text/event-stream' },
    signal: controller.signal,
  });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toBe('text/event-stream');
  controller.abort();
  await response.body?.cancel().catch(() => {});
}

describe('a session is bound to the identity that opened it', () => {
  let gw: PolicyGateway;
  beforeAll(async () => {
    gw = await startPolicyGateway({ upstreams: {} }, []);
  });
  afterAll(() => gw?.close());

  it.each(OTHERS)(
    'to $who it is an unknown session on POST, GET and DELETE, and its owner keeps it',
    async ({ headers }) => {
      const sessionId = await openSession(gw, ALICE);
      for (const method of ['POST', 'GET', 'DELETE'] as const) {
        const theirs = await send(gw, method, headers, sessionId);
        const unknown = await send(gw, method, headers, randomUUID());
        expect(theirs.status, method).toBe(404);
        expect(theirs, method).toEqual(unknown);
      }
      // Nothing the others did touched it: the owner's requests, stream and DELETE still work.
      const ping = await send(gw, 'POST', ALICE, sessionId);
      expect(ping.status).toBe(200);
      expect(JSON.parse(ping.body)).toEqual({ jsonrpc: '2.0', id: 3, result: {} });
      await ownerStreamOpens(gw, sessionId);
      expect((await send(gw, 'DELETE', ALICE, sessionId)).status).toBe(200);
      // Once its owner ended it, it is unknown to the owner as well.
      expect(await send(gw, 'POST', ALICE, sessionId)).toEqual(await send(gw, 'POST', ALICE, randomUUID()));
    },
  );
});
