// The `policy:` rules end to end: a real gateway, two real upstreams, principals from a test header. Lists differ
// per principal, a denied item answers byte for byte as an absent one on every routed path (its upstream never
// asked), a when: on args refuses one call and lets the same tool through with other args, and each deny leaves
// one decision line in the log.
import type { IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/gateway/config.js';
import { createLogger } from '../../src/gateway/logger.js';
import { buildGateway } from '../../src/gateway/server.js';
import type { Principal } from '../../src/policy/types.js';
import { ROOT } from '../helpers/gateway.js';
import { normalised, payload, RawSession, visibilityStdio } from './visibility-helpers.js';

/** The groups of each test subject (an API key's groups, in real life). */
const GROUPS: Record<string, string[]> = { alice: ['analysts'], eve: ['contractors'] };

function authenticate(headers: IncomingHttpHeaders): Principal {
  const subject = String(headers['x-test-subject'] ?? 'anonymous');
  return { subject, groups: GROUPS[subject] ?? [], scopes: [], via: 'apiKey' };
}

/** shared://doc of upstream a, as the gateway publishes it (b lists the same URI). */
const SHARED_A = 'switchboard://a/shared%3A%2F%2Fdoc';

const POLICY = {
  default: 'allow',
  rules: [
    {
      name: 'contractors-no-secrets',
      principals: { groups: ['contractors'] },
      deny: {
        tools: ['a__secret'],
        prompts: ['a__secret'],
        resources: ['a://doc/secret', 'a://secret/*', SHARED_A],
      },
    },
    {
      name: 'contractors-not-b',
      principals: { groups: ['contractors'] },
      deny: { tools: ['*'], prompts: ['*'], resources: ['*'] },
      when: "upstream == 'b'",
    },
    { name: 'shallow-echo', deny: { tools: ['a__echo'] }, when: 'has(args.depth) && args.depth > 2' },
  ],
};

const call = (name: string) => ({ name, arguments: {} });
const uri = (value: string) => ({ uri: value });
const completeTemplate = (value: string) => ({
  ref: { type: 'ref/resource', uri: value },
  argument: { name: 'id', value: '1' },
});

/** [path, method, params, denied, absent, upstream, what its journal would show had it been asked] */
const ROWS: [string, string, (n: string) => Record<string, unknown>, string, string, 'a' | 'b', string][] = [
  ['tools/call', 'tools/call', call, 'a__secret', 'a__nothere', 'a', 'tools/call secret'],
  ['tools/call on a hidden upstream', 'tools/call', call, 'b__echo', 'b__nothere', 'b', 'tools/call echo'],
  ['prompts/get', 'prompts/get', call, 'a__secret', 'a__nothere', 'a', 'prompts/get secret'],
  [
    'resources/read of a listed URI',
    'resources/read',
    uri,
    'a://doc/secret',
    'a://doc/nothere',
    'a',
    'resources/read a://doc/secret',
  ],
  [
    'resources/read through a template',
    'resources/read',
    uri,
    'a://secret/1',
    'a://nothere/1',
    'a',
    'resources/read a://secret/1',
  ],
  [
    'resources/read of an unlisted URI',
    'resources/read',
    uri,
    'b://unlisted/x',
    'b://nothere/x',
    'b',
    'resources/read b://unlisted/x',
  ],
  [
    'resources/read of a rewritten URI',
    'resources/read',
    uri,
    SHARED_A,
    'switchboard://a/shared%3A%2F%2Fnothere',
    'a',
    'resources/read shared://doc',
  ],
  [
    'resources/subscribe',
    'resources/subscribe',
    uri,
    'a://doc/secret',
    'a://doc/nothere',
    'a',
    'resources/subscribe a://doc/secret',
  ],
  [
    'completion/complete of a prompt',
    'completion/complete',
    (n) => ({ ref: { type: 'ref/prompt', name: n }, argument: { name: 'who', value: 'x' } }),
    'a__secret',
    'a__nothere',
    'a',
    'completion/complete secret',
  ],
  [
    'completion/complete of a template',
    'completion/complete',
    completeTemplate,
    'a://secret/{id}',
    'a://nothere/{id}',
    'a',
    'completion/complete a://secret/{id}',
  ],
];

describe('policy rules through a real gateway', () => {
  const upstreams = { a: visibilityStdio('a'), b: visibilityStdio('b') };
  const logLines: any[] = [];
  let close: () => Promise<unknown>;
  let url: string;
  let alice: RawSession;
  let eve: RawSession;
  beforeAll(async () => {
    const config = parseConfig(
      { upstreams: { a: upstreams.a.entry, b: upstreams.b.entry }, policy: POLICY },
      { baseDir: ROOT },
    );
    const log = createLogger('info', {
      destination: { write: (line: string) => void logLines.push(JSON.parse(line)) },
    });
    const app = await buildGateway(config, { log, authenticate });
    url = `${await app.listen({ host: '127.0.0.1', port: 0 })}/mcp`;
    close = () => app.close();
    alice = await RawSession.open(url, 'alice');
    eve = await RawSession.open(url, 'eve');
  });
  afterAll(() => close?.());

  const names = async (session: RawSession, method: string, key: string, field: string) =>
    (payload(await session.request(method, {})).result[key] as Record<string, string>[])
      .map((item) => item[field])
      .sort();

  it('lists differ per principal: each sees exactly what the rules allow', async () => {
    const aliceTools = await names(alice, 'tools/list', 'tools', 'name');
    expect(aliceTools).toEqual([
      'a__add_tool',
      'a__echo',
      'a__log_later',
      'a__secret',
      'a__touch',
      'b__add_tool',
      'b__echo',
      'b__log_later',
      'b__secret',
      'b__touch',
    ]);
    expect(await names(eve, 'tools/list', 'tools', 'name')).toEqual([
      'a__add_tool',
      'a__echo',
      'a__log_later',
      'a__touch',
    ]);
    expect(await names(eve, 'prompts/list', 'prompts', 'name')).toEqual(['a__greet']);
    expect(await names(eve, 'resources/list', 'resources', 'uri')).toEqual(['a://doc/open']);
    expect(await names(eve, 'resources/templates/list', 'resourceTemplates', 'uriTemplate')).toEqual([
      'a://item/{id}',
    ]);
    expect(await names(alice, 'resources/templates/list', 'resourceTemplates', 'uriTemplate')).toHaveLength(
      4,
    );
  });

  it.each(ROWS)(
    '%s: a denied name answers as an absent one, and its upstream is never asked',
    async (_path, method, params, denied, absent, upstream, asked) => {
      const journal = upstreams[upstream].journal;
      const hidden = normalised(await eve.request(method, params(denied)), denied);
      const missing = normalised(await eve.request(method, params(absent)), absent);
      expect(hidden).toEqual(missing);
      expect(payload(missing).error).toBeDefined();
      expect(journal()).not.toContain(`${asked}\n`);
      // The control: alice may see it, and her request reaches the upstream.
      expect(payload(await alice.request(method, params(denied))).error).toBeUndefined();
      expect(journal()).toContain(`${asked}\n`);
    },
  );

  it('the initialize instructions leave out an upstream hidden as a whole', async () => {
    const init = async (subject: string) => {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'x-test-subject': subject,
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: {
            protocolVersion: '2025-11-25',
            capabilities: {},
            clientInfo: { name: 't', version: '1' },
          },
        }),
      });
      return String((await response.json()).result.instructions ?? '');
    };
    expect(await init('alice')).toContain('Fixture b instructions');
    const eves = await init('eve');
    expect(eves).toContain('Fixture a instructions');
    expect(eves).not.toContain('Fixture b');
  });

  it('a when: on args refuses one call and lets the same tool through with other args', async () => {
    const echo = (depth: number) => eve.request('tools/call', { name: 'a__echo', arguments: { depth } });
    const refused = payload(await echo(5)).error;
    expect(refused).toEqual({
      code: -32000,
      message: 'Forbidden: the policy does not allow this call of a__echo with these arguments',
    });
    expect(payload(await echo(1)).result.content[0].text).toBe('echo of a');
    // The tool stays listed for everyone: args decide calls, never lists.
    expect(await names(eve, 'tools/list', 'tools', 'name')).toContain('a__echo');
    expect(
      payload(await alice.request('tools/call', { name: 'a__echo', arguments: { depth: 9 } })).error?.code,
    ).toBe(-32000);
  });

  it('each deny leaves one decision line at info, naming the rule; what is allowed leaves none', async () => {
    logLines.length = 0;
    await eve.request('tools/call', call('a__secret'));
    await eve.request('tools/call', { name: 'a__echo', arguments: { depth: 7 } });
    await eve.request('tools/call', call('a__nothere'));
    await alice.request('tools/call', call('a__secret'));
    const decisions = logLines.filter((line) => line.msg === 'policy decision');
    expect(decisions.map((line) => ({ level: line.level, ...line.decision }))).toEqual([
      {
        level: 30,
        subject: 'eve',
        via: 'apiKey',
        method: 'tools/call',
        kind: 'tool',
        item: 'a__secret',
        upstream: 'a',
        rule: 'contractors-no-secrets',
        effect: 'deny',
        reason: 'denied by rule "contractors-no-secrets" (tools: "a__secret")',
      },
      {
        level: 30,
        subject: 'eve',
        via: 'apiKey',
        method: 'tools/call',
        kind: 'tool',
        item: 'a__echo',
        upstream: 'a',
        rule: 'shallow-echo',
        effect: 'deny',
        reason: 'denied by rule "shallow-echo" (tools: "a__echo", when: true)',
      },
    ]);
  });
});
