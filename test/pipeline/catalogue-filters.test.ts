// Per-upstream catalogue filters (tools, prompts, resources allow/deny) with no policy at all: a filtered item is
// out of the lists (the rest unchanged, in order) and unknown on every path, byte for byte like an absent one,
// without its upstream being asked. The control is the same upstream behind a gateway without filters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  normalised,
  payload,
  RawSession,
  startPolicyGateway,
  visibilityStdio,
  type PolicyGateway,
} from './visibility-helpers.js';

const FILTERS = {
  tools: { deny: ['secr*'] },
  prompts: { allow: ['greet'] },
  // A glob over URIs and URI templates alike: the listed URI, and the template with every URI it expands to.
  resources: { deny: ['a://doc/secret', 'a://secret/*'] },
};

const uri = (value: string) => ({ uri: value });
const ROWS = [
  { method: 'tools/call', hidden: 'a__secret', absent: 'a__nothere', asked: 'tools/call secret' },
  { method: 'prompts/get', hidden: 'a__secret', absent: 'a__nothere', asked: 'prompts/get secret' },
  {
    method: 'resources/read',
    hidden: 'a://doc/secret',
    absent: 'a://doc/nothere',
    asked: 'resources/read a://doc/secret',
  },
  {
    method: 'resources/read',
    hidden: 'a://secret/1',
    absent: 'a://nothere/1',
    asked: 'resources/read a://secret/1',
  },
  {
    method: 'resources/subscribe',
    hidden: 'a://doc/secret',
    absent: 'a://doc/nothere',
    asked: 'resources/subscribe a://doc/secret',
  },
  {
    method: 'resources/subscribe',
    hidden: 'a://secret/2',
    absent: 'a://nothere/2',
    asked: 'resources/subscribe a://secret/2',
  },
  {
    method: 'completion/complete',
    hidden: 'a__secret',
    absent: 'a__nothere',
    asked: 'completion/complete secret',
  },
  {
    method: 'completion/complete',
    hidden: 'a://secret/{id}',
    absent: 'a://nothere/{id}',
    asked: 'completion/complete a://secret/{id}',
  },
];

function paramsOf(method: string, name: string): Record<string, unknown> {
  if (method === 'tools/call' || method === 'prompts/get') return { name, arguments: {} };
  if (method !== 'completion/complete') return uri(name);
  const ref = name.includes('://') ? { type: 'ref/resource', uri: name } : { type: 'ref/prompt', name };
  return { ref, argument: { name: 'id', value: '1' } };
}

const LISTS = [
  { method: 'tools/list', key: 'tools', field: 'name', gone: ['a__secret'] },
  { method: 'prompts/list', key: 'prompts', field: 'name', gone: ['a__secret'] },
  { method: 'resources/list', key: 'resources', field: 'uri', gone: ['a://doc/secret'] },
  {
    method: 'resources/templates/list',
    key: 'resourceTemplates',
    field: 'uriTemplate',
    gone: ['a://secret/{id}'],
  },
];

describe('catalogue filters', () => {
  const filtered = visibilityStdio('a', FILTERS);
  const plain = visibilityStdio('a');
  let gw: PolicyGateway;
  let control: PolicyGateway;
  let session: RawSession;
  let controlSession: RawSession;
  beforeAll(async () => {
    [gw, control] = await Promise.all([
      startPolicyGateway({ upstreams: { a: filtered.entry, b: visibilityStdio('b').entry } }, []),
      startPolicyGateway({ upstreams: { a: plain.entry, b: visibilityStdio('b').entry } }, []),
    ]);
    session = await RawSession.open(gw.url, 'anyone');
    controlSession = await RawSession.open(control.url, 'anyone');
  });
  afterAll(() => Promise.all([gw?.close(), control?.close()]));

  it.each(LISTS)('$method: leaves out exactly the filtered items', async ({ method, key, field, gone }) => {
    const full = payload(await controlSession.request(method, {})).result[key];
    const seen = payload(await session.request(method, {})).result[key];
    expect(full.map((item: Record<string, string>) => item[field])).toEqual(expect.arrayContaining(gone));
    expect(seen).toEqual(full.filter((item: Record<string, string>) => !gone.includes(item[field])));
  });

  it.each(ROWS)('$method of $hidden answers as $absent, and the upstream is not asked', async (row) => {
    const hidden = normalised(
      await session.request(row.method, paramsOf(row.method, row.hidden)),
      row.hidden,
    );
    const absent = normalised(
      await session.request(row.method, paramsOf(row.method, row.absent)),
      row.absent,
    );
    expect(payload(absent).error).toBeDefined();
    expect(hidden).toEqual(absent);
    expect(filtered.journal()).not.toContain(`${row.asked}\n`);
    // The control: without the filter the same request reaches the upstream and succeeds.
    const unfiltered = await controlSession.request(row.method, paramsOf(row.method, row.hidden));
    expect(payload(unfiltered).error).toBeUndefined();
    expect(plain.journal()).toContain(`${row.asked}\n`);
  });

  it('a template denied by its exact text hides the URIs it expands to as well', async () => {
    const exact = visibilityStdio('a', { resources: { deny: ['a://secret/{id}'] } });
    const only = await startPolicyGateway({ upstreams: { a: exact.entry } }, []);
    try {
      const s = await RawSession.open(only.url, 'anyone');
      const templates = payload(await s.request('resources/templates/list', {})).result.resourceTemplates;
      expect(templates.map((t: { uriTemplate: string }) => t.uriTemplate)).toEqual(['a://item/{id}']);
      const hidden = normalised(await s.request('resources/read', uri('a://secret/3')), 'a://secret/3');
      const absent = normalised(await s.request('resources/read', uri('a://nothere/3')), 'a://nothere/3');
      expect(hidden).toEqual(absent);
      expect(exact.journal()).not.toContain('resources/read a://secret/3\n');
    } finally {
      await only.close();
    }
  });
});
