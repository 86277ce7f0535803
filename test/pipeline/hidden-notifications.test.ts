// Server-to-client traffic reveals nothing hidden: resource updates reach only sessions that still see the URI,
// logs of an upstream hidden as a whole reach nobody who may not see it, and initialize names only visible
// upstreams (byte for byte the answer of a gateway without the hidden one).
import { afterEach, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { hidePolicy } from '../fixtures/policies/hide.js';
import { INIT, waitFor } from '../helpers/gateway.js';
import { clientAs, startPolicyGateway, visibilityStdio, type PolicyGateway } from './visibility-helpers.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

async function gateway(upstreams: Record<string, unknown>, policies = [hidePolicy().policy]) {
  const gw = await startPolicyGateway({ upstreams }, policies);
  open.push(gw);
  return gw;
}

/** An SDK client for `subject` that records the notifications it gets on its GET stream. */
async function listener(gw: PolicyGateway, subject: string) {
  const client: Client = await clientAs(gw.url, subject);
  open.push(client);
  const updates: string[] = [];
  const logs: unknown[] = [];
  const toolsChanged: number[] = [];
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updates.push(n.params.uri));
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => void toolsChanged.push(Date.now()));
  return { client, updates, logs, toolsChanged };
}

/** Notifications that belong to no request travel on GET streams: wait until every session has one open. */
async function streamsOpen(gw: PolicyGateway, count: number): Promise<void> {
  await waitFor(() => {
    const sessions = [...gw.app.runtime.sessions.all()];
    return sessions.length === count && sessions.every((s) => s.outlet);
  });
}

/** Lets a notification that was sent to one session reach any other it was (wrongly) sent to as well. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

describe('notifications/resources/updated', () => {
  it.each([
    { what: 'a listed URI', uri: 'a://doc/open', rule: { kind: 'resource', name: 'a://doc/open' } },
    { what: 'a URI of a template', uri: 'a://item/7', rule: { kind: 'template', name: 'a://item/{id}' } },
    { what: 'a URI of an upstream', uri: 'a://item/8', rule: { upstream: 'a' } },
  ] as const)('reaches a session subscribed to $what only while it may see it', async ({ uri, rule }) => {
    const hide = hidePolicy();
    const gw = await gateway({ a: visibilityStdio('a').entry }, [hide.policy]);
    const alice = await listener(gw, 'alice');
    const eve = await listener(gw, 'eve');
    await streamsOpen(gw, 2);
    await alice.client.subscribeResource({ uri });
    await eve.client.subscribeResource({ uri });
    const touch = () => alice.client.callTool({ name: 'a__touch', arguments: { uri, afterMs: 20 } });

    await touch();
    await waitFor(() => alice.updates.length === 1 && eve.updates.length === 1);
    expect(eve.updates).toEqual([uri]);

    hide.set('eve', rule);
    await touch();
    await waitFor(() => alice.updates.length === 2);
    await settle();
    expect(alice.updates).toEqual([uri, uri]);
    expect(eve.updates).toEqual([uri]);
  });
});

describe('log messages (notifications/message)', () => {
  it('from an upstream hidden as a whole reach only the sessions that may see it', async () => {
    const hide = hidePolicy();
    const gw = await gateway({ a: visibilityStdio('a').entry, b: visibilityStdio('b').entry }, [hide.policy]);
    const alice = await listener(gw, 'alice');
    const eve = await listener(gw, 'eve');
    await streamsOpen(gw, 2);
    await alice.client.setLoggingLevel('debug');
    await eve.client.setLoggingLevel('debug');
    const logLater = (data: string) =>
      alice.client.callTool({ name: 'b__log_later', arguments: { data, afterMs: 20 } });

    await logLater('first');
    await waitFor(() => alice.logs.length === 1 && eve.logs.length === 1);
    expect(eve.logs).toEqual(['first']);

    hide.set('eve', { kind: 'upstream', name: 'b' });
    await logLater('second');
    await waitFor(() => alice.logs.length === 2);
    await settle();
    expect(alice.logs).toEqual(['first', 'second']);
    expect(eve.logs).toEqual(['first']);
  });
});

describe('notifications/tools/list_changed', () => {
  it('is not sent to a session whose view did not change (only hidden tools came or went)', async () => {
    const hide = hidePolicy({ eve: [{ kind: 'tool', name: 'a__later_secret' }] });
    const gw = await gateway({ a: visibilityStdio('a').entry }, [hide.policy]);
    const alice = await listener(gw, 'alice');
    const eve = await listener(gw, 'eve');
    await streamsOpen(gw, 2);
    const add = (name: string) => alice.client.callTool({ name: 'a__add_tool', arguments: { name } });

    await add('later');
    await waitFor(() => alice.toolsChanged.length === 1 && eve.toolsChanged.length === 1);
    // A tool eve may not see: for her it is as if nothing had been added at all.
    await add('later_secret');
    await waitFor(() => alice.toolsChanged.length === 2);
    await settle();
    expect(eve.toolsChanged).toHaveLength(1);
  });
});

describe('initialize instructions', () => {
  async function initialize(gw: PolicyGateway, subject: string) {
    const response = await fetch(gw.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'x-test-subject': subject,
      },
      body: INIT,
    });
    return {
      status: response.status,
      contentType: response.headers.get('content-type'),
      body: await response.text(),
    };
  }

  it('do not name an upstream the principal may not see: the answer of a gateway without it', async () => {
    const b = visibilityStdio('b');
    const hide = hidePolicy({ eve: [{ kind: 'upstream', name: 'b' }] });
    const both = await gateway({ a: visibilityStdio('a').entry, b: b.entry }, [hide.policy]);
    const aOnly = await gateway({ a: visibilityStdio('a').entry }, [hidePolicy().policy]);

    const seen = await initialize(both, 'alice');
    expect(JSON.parse(seen.body).result.instructions).toContain('b: Fixture b instructions');
    const hidden = await initialize(both, 'eve');
    expect(hidden.body).not.toContain('Fixture b');
    expect(hidden).toEqual(await initialize(aOnly, 'eve'));
  });
});
