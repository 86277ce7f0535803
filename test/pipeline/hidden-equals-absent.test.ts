// Hidden = absent on every routed path: for each method, what a principal may not see is answered byte for byte
// as a name that does not exist (the name itself aside), and the upstream behind it is never even asked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hidePolicy } from '../fixtures/policies/hide.js';
import {
  payload,
  normalised,
  RawSession,
  startPolicyGateway,
  visibilityStdio,
  type PolicyGateway,
} from './visibility-helpers.js';

interface Row {
  path: string;
  method: string;
  params(name: string): Record<string, unknown>;
  hidden: string;
  absent: string;
  /** The upstream that serves the hidden item, and the line its journal would have if it had been asked. */
  upstream: 'a' | 'b';
  asked: string;
  /** What the control (a principal who sees the item) needs done first. */
  prepare?: (session: RawSession) => Promise<unknown>;
}

const call = (name: string) => ({ name, arguments: {} });
const prompt = (name: string) => ({ name, arguments: {} });
const uri = (value: string) => ({ uri: value });
const completePrompt = (name: string) => ({
  ref: { type: 'ref/prompt', name },
  argument: { name: 'who', value: 'x' },
});
const completeTemplate = (value: string) => ({
  ref: { type: 'ref/resource', uri: value },
  argument: { name: 'id', value: '1' },
});

/** shared://doc of upstream a, as the gateway publishes it (b lists the same URI). */
const SHARED_A = 'switchboard://a/shared%3A%2F%2Fdoc';

/** eve may not see a's secret tool, prompt, resource and template, nor upstream b at all. */
const ROWS: Row[] = [
  {
    path: 'tools/call',
    method: 'tools/call',
    params: call,
    hidden: 'a__secret',
    absent: 'a__nothere',
    upstream: 'a',
    asked: 'tools/call secret',
  },
  {
    path: 'tools/call, upstream hidden',
    method: 'tools/call',
    params: call,
    hidden: 'b__echo',
    absent: 'b__nothere',
    upstream: 'b',
    asked: 'tools/call echo',
  },
  {
    path: 'prompts/get',
    method: 'prompts/get',
    params: prompt,
    hidden: 'a__secret',
    absent: 'a__nothere',
    upstream: 'a',
    asked: 'prompts/get secret',
  },
  {
    path: 'prompts/get, upstream hidden',
    method: 'prompts/get',
    params: prompt,
    hidden: 'b__greet',
    absent: 'b__nothere',
    upstream: 'b',
    asked: 'prompts/get greet',
  },
  {
    path: 'resources/read of a listed URI',
    method: 'resources/read',
    params: uri,
    hidden: 'a://doc/secret',
    absent: 'a://doc/nothere',
    upstream: 'a',
    asked: 'resources/read a://doc/secret',
  },
  {
    path: 'resources/read of a listed URI, upstream hidden',
    method: 'resources/read',
    params: uri,
    hidden: 'b://doc/open',
    absent: 'b://doc/nothere',
    upstream: 'b',
    asked: 'resources/read b://doc/open',
  },
  {
    path: 'resources/read through a template',
    method: 'resources/read',
    params: uri,
    hidden: 'a://secret/1',
    absent: 'a://nothere/1',
    upstream: 'a',
    asked: 'resources/read a://secret/1',
  },
  {
    path: 'resources/read through a template, upstream hidden',
    method: 'resources/read',
    params: uri,
    hidden: 'b://item/1',
    absent: 'b://nothere/1',
    upstream: 'b',
    asked: 'resources/read b://item/1',
  },
  {
    path: 'resources/read of an unlisted URI (probe)',
    method: 'resources/read',
    params: uri,
    hidden: 'b://unlisted/x',
    absent: 'b://nothere/x',
    upstream: 'b',
    asked: 'resources/read b://unlisted/x',
  },
  {
    path: 'resources/subscribe',
    method: 'resources/subscribe',
    params: uri,
    hidden: 'a://doc/secret',
    absent: 'a://doc/nothere',
    upstream: 'a',
    asked: 'resources/subscribe a://doc/secret',
  },
  {
    path: 'resources/subscribe through a template',
    method: 'resources/subscribe',
    params: uri,
    hidden: 'a://secret/2',
    absent: 'a://nothere/2',
    upstream: 'a',
    asked: 'resources/subscribe a://secret/2',
  },
  // A URI two upstreams list is published rewritten; one that names nothing in that scheme is absent.
  {
    path: 'resources/read of a rewritten (colliding) URI',
    method: 'resources/read',
    params: uri,
    hidden: SHARED_A,
    absent: 'switchboard://a/shared%3A%2F%2Fnothere',
    upstream: 'a',
    asked: 'resources/read shared://doc',
  },
  {
    path: 'resources/subscribe of a rewritten (colliding) URI',
    method: 'resources/subscribe',
    params: uri,
    hidden: SHARED_A,
    absent: 'switchboard://a/shared%3A%2F%2Fnothere',
    upstream: 'a',
    asked: 'resources/subscribe shared://doc',
  },
  {
    path: 'resources/unsubscribe',
    method: 'resources/unsubscribe',
    params: uri,
    hidden: 'b://doc/secret',
    absent: 'b://doc/nothere',
    upstream: 'b',
    asked: 'resources/unsubscribe b://doc/secret',
    prepare: (s) => s.request('resources/subscribe', uri('b://doc/secret')),
  },
  {
    path: 'completion/complete ref/prompt',
    method: 'completion/complete',
    params: completePrompt,
    hidden: 'a__secret',
    absent: 'a__nothere',
    upstream: 'a',
    asked: 'completion/complete secret',
  },
  {
    path: 'completion/complete ref/resource',
    method: 'completion/complete',
    params: completeTemplate,
    hidden: 'a://secret/{id}',
    absent: 'a://nothere/{id}',
    upstream: 'a',
    asked: 'completion/complete a://secret/{id}',
  },
  {
    path: 'completion/complete ref/resource, upstream hidden',
    method: 'completion/complete',
    params: completeTemplate,
    hidden: 'b://item/{id}',
    absent: 'b://nothere/{id}',
    upstream: 'b',
    asked: 'completion/complete b://item/{id}',
  },
];

describe('a hidden item answers exactly as an absent one, on every routed path', () => {
  const upstreams = { a: visibilityStdio('a'), b: visibilityStdio('b') };
  const hide = hidePolicy({
    eve: [
      { kind: 'tool', name: 'a__secret' },
      { kind: 'prompt', name: 'a__secret' },
      { kind: 'resource', name: 'a://doc/secret' },
      { kind: 'template', name: 'a://secret/{id}' },
      { kind: 'resource', name: SHARED_A },
      { upstream: 'b' },
    ],
  });
  let gw: PolicyGateway;
  let eve: RawSession;
  let alice: RawSession;
  beforeAll(async () => {
    gw = await startPolicyGateway({ upstreams: { a: upstreams.a.entry, b: upstreams.b.entry } }, [
      hide.policy,
    ]);
    eve = await RawSession.open(gw.url, 'eve');
    alice = await RawSession.open(gw.url, 'alice');
  });
  afterAll(() => gw?.close());

  it.each(ROWS)('$path: $hidden answers as $absent, and its upstream is never asked', async (row) => {
    const journal = upstreams[row.upstream].journal;
    const hidden = normalised(await eve.request(row.method, row.params(row.hidden)), row.hidden);
    const absent = normalised(await eve.request(row.method, row.params(row.absent)), row.absent);
    expect(hidden).toEqual(absent);
    expect(absent.status).toBe(200);
    expect(payload(absent).error).toBeDefined();
    expect(journal()).not.toContain(`${row.asked}\n`);
    // The control: the item exists, and whoever may see it reaches the upstream with it.
    await row.prepare?.(alice);
    const seen = await alice.request(row.method, row.params(row.hidden));
    expect(payload(seen).error).toBeUndefined();
    expect(journal()).toContain(`${row.asked}\n`);
  });
});
