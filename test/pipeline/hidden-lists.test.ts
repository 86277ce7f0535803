// The four lists per principal view: a hidden item is simply not there (the rest in the same order), views are
// cached per view key, and a view changes when what is hidden changes and when the catalogue is rebuilt.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hidePolicy, type HideRule } from '../fixtures/policies/hide.js';
import {
  payload,
  RawSession,
  startPolicyGateway,
  visibilityStdio,
  type PolicyGateway,
} from './visibility-helpers.js';

const LISTS = [
  { method: 'tools/list', key: 'tools', field: 'name', hidden: 'a__secret', rule: { kind: 'tool' } },
  { method: 'prompts/list', key: 'prompts', field: 'name', hidden: 'a__secret', rule: { kind: 'prompt' } },
  {
    method: 'resources/list',
    key: 'resources',
    field: 'uri',
    hidden: 'a://doc/secret',
    rule: { kind: 'resource' },
  },
  {
    method: 'resources/templates/list',
    key: 'resourceTemplates',
    field: 'uriTemplate',
    hidden: 'a://secret/{id}',
    rule: { kind: 'template' },
  },
] as const;

type Listed = Record<string, string>;

async function list(session: RawSession, method: string, key: string): Promise<Listed[]> {
  const answer = await session.request(method, {});
  expect(answer.status).toBe(200);
  return payload(answer).result[key];
}

describe('lists per principal view', () => {
  const hide = hidePolicy();
  let gw: PolicyGateway;
  beforeAll(async () => {
    gw = await startPolicyGateway(
      { upstreams: { a: visibilityStdio('a').entry, b: visibilityStdio('b').entry } },
      [hide.policy],
    );
  });
  afterAll(() => gw?.close());

  it.each(LISTS)(
    '$method: the hidden item is absent and the rest is the full list in the same order',
    async ({ method, key, field, hidden, rule }) => {
      hide.set('eve', { ...(rule as HideRule), name: hidden });
      const alice = await RawSession.open(gw.url, 'alice');
      const eve = await RawSession.open(gw.url, 'eve');
      const full = await list(alice, method, key);
      expect(full.map((item) => item[field])).toContain(hidden);
      const seen = await list(eve, method, key);
      expect(seen).toEqual(full.filter((item) => item[field] !== hidden));
    },
  );

  it('serves different views to different principals of the same gateway, and one view to equal ones', async () => {
    hide.set('eve', { kind: 'tool', name: 'a__secret' });
    hide.set('mallory', { kind: 'tool', name: 'a__echo' });
    const names = async (subject: string) =>
      (await list(await RawSession.open(gw.url, subject), 'tools/list', 'tools')).map((t) => t.name);
    // Interleaved, so a cache keyed by anything less than the view would serve one principal another's list.
    const everyone = await names('alice');
    const eve = await names('eve');
    const mallory = await names('mallory');
    const eveAgain = await names('eve');
    expect(everyone).toEqual(expect.arrayContaining(['a__secret', 'a__echo']));
    expect(eve).toEqual(everyone.filter((n) => n !== 'a__secret'));
    expect(mallory).toEqual(everyone.filter((n) => n !== 'a__echo'));
    expect(eveAgain).toEqual(eve);
    // Two subjects with the same rules are one view: the same bytes.
    hide.set('trudy', { kind: 'tool', name: 'a__secret' });
    const trudy = await (await RawSession.open(gw.url, 'trudy')).request('tools/list', {});
    const eveBytes = await (await RawSession.open(gw.url, 'eve')).request('tools/list', {});
    expect(trudy).toEqual(eveBytes);
  });

  it('changes a principal view when what is hidden changes, within one session', async () => {
    hide.set('eve');
    const eve = await RawSession.open(gw.url, 'eve');
    const names = async () => (await list(eve, 'tools/list', 'tools')).map((t) => t.name);
    const all = await names();
    expect(all).toContain('b__echo');
    hide.hide('eve', { upstream: 'b' });
    expect(await names()).toEqual(all.filter((n) => !n.startsWith('b__')));
    hide.set('eve');
    expect(await names()).toEqual(all);
  });

  it('rebuilds every cached view after list_changed, still without the hidden items', async () => {
    const hiddenNames = ['a__secret', 'a__later_secret'];
    hide.set('eve', ...hiddenNames.map((name) => ({ kind: 'tool' as const, name })));
    const eve = await RawSession.open(gw.url, 'eve');
    const alice = await RawSession.open(gw.url, 'alice');
    const names = async (s: RawSession) => (await list(s, 'tools/list', 'tools')).map((t) => t.name);
    expect(await names(eve)).not.toContain('a__later'); // eve's view is cached now
    for (const name of ['later', 'later_secret']) {
      const added = await alice.request('tools/call', { name: 'a__add_tool', arguments: { name } });
      expect(payload(added).error).toBeUndefined();
    }
    const full = await waitForAsync(async () => {
      const current = await names(alice);
      return current.includes('a__later_secret') && current;
    });
    expect(await names(eve)).toEqual(full.filter((n) => !hiddenNames.includes(n)));
    expect(await names(eve)).toContain('a__later');
  });
});

/** Polls an async check until it returns a value (the catalogue refresh follows list_changed shortly). */
async function waitForAsync<T>(check: () => Promise<T | false>, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
