// Tool and prompt names outside the spec's characters (spaces, control and zero-width characters, `/`, `..`,
// empty, not a string) are sanitised deterministically or left out when the catalogue is built, with a log line.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { safeName } from '../../src/gateway/catalog/names.js';
import { connectClient } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';
import { gatewayWithLog as keptLogGateway, wireStdio } from './wire-helpers.js';

const h = useHarness();
const hash = (name: string) => createHash('sha256').update(name).digest('hex').slice(0, 6);
const SPEC = /^[A-Za-z0-9_.-]{1,128}$/;

const BAD_TOOLS = [
  'my tool',
  'a/b',
  '..',
  '../../etc/passwd',
  'zero\u200bwidth',
  'bell\u0007',
  'new\nline',
  'right\u202eleft',
  'caf\u00e9',
];
const TOOLS = [...BAD_TOOLS, 'ok_name', 'dots.are-fine', 'my_tool', '', 42, null, { name: 'x' }];

/** A gateway at info level whose log lines are kept, and a client connected to it. */
async function gatewayWithLog(upstreams: Record<string, unknown>) {
  const gw = await keptLogGateway({ upstreams }, 'info');
  h.defer(gw.close);
  const client = await connectClient(gw.url);
  h.defer(() => client.close());
  return { app: gw.app, client, lines: gw.lines };
}

describe('safeName', () => {
  it('keeps names within the spec characters and rewrites every other one to spec characters plus a hash', () => {
    for (const name of ['echo', 'a.b-c_D9', 'x'.repeat(128)]) expect(safeName(name)).toBe(name);
    expect(safeName('my tool')).toBe(`my_tool_${hash('my tool')}`);
    expect(safeName('..')).toBe(`__${hash('..')}`);
    for (const name of [...BAD_TOOLS, 'x'.repeat(129), 'a..b', '\u{1F600}']) {
      const safe = safeName(name)!;
      expect(safe).toMatch(SPEC);
      expect(safe).not.toContain('..');
      expect(safeName(name)).toBe(safe);
    }
  });

  it('never merges two different bad names into one, nor a bad name into a good one', () => {
    const names = ['a b', 'a/b', 'a\tb', 'a\u200bb', 'a_b'];
    expect(new Set(names.map(safeName)).size).toBe(names.length);
  });

  it('refuses names that are empty or not strings', () => {
    for (const name of ['', 42, null, undefined, { toString: () => 'x' }, ['a']])
      expect(safeName(name)).toBeUndefined();
  });
});

describe('names from an upstream', () => {
  it('publishes bad tool names sanitised, leaves out unusable ones, logs each once, and routes calls to the original', async () => {
    const { client, lines, app } = await gatewayWithLog({ w: wireStdio({ tools: TOOLS }) });
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names.every((n) => SPEC.test(n) && !n.includes('..'))).toBe(true);
    expect(names).toEqual(
      expect.arrayContaining([
        'w__ok_name',
        'w__dots.are-fine',
        'w__my_tool',
        `w__my_tool_${hash('my tool')}`,
        `w__a_b_${hash('a/b')}`,
      ]),
    );
    // 9 sanitised + 3 good + the fixture's own emit, status and roots_answer; '', 42, null and an object are left out.
    expect(names).toHaveLength(BAD_TOOLS.length + 3 + 3);
    const call = await client.callTool({ name: `w__a_b_${hash('a/b')}`, arguments: {} });
    expect(call.content).toEqual([{ type: 'text', text: 'called "a/b"' }]);
    const sanitised = lines.filter((l) => l.msg === "tools name outside the spec's characters sanitised");
    expect(sanitised.map((l) => l.name).sort()).toEqual([...BAD_TOOLS].sort());
    expect(sanitised[0]).toMatchObject({ upstream: 'w', level: 40 });
    const leftOut = lines.filter((l) => l.msg === 'tools item without a usable name left out');
    // What is not a string is shown as its JSON text.
    expect(leftOut.map((l) => l.name).sort()).toEqual(['', '42', 'null', '{"name":"x"}']);
    // A rebuild (another list change) does not repeat the lines.
    const before = lines.length;
    app.runtime.router.rebuild();
    expect(lines.length).toBe(before);
  });

  it('sanitises prompt names the same way and gets the original prompt', async () => {
    const { client } = await gatewayWithLog({
      w: wireStdio({ prompts: ['bad prompt', '', 'good', 'x/../y'] }),
    });
    const names = (await client.listPrompts()).prompts.map((p) => p.name).sort();
    expect(names).toEqual(
      ['w__good', `w__bad_prompt_${hash('bad prompt')}`, `w__x___y_${hash('x/../y')}`].sort(),
    );
    const prompt = await client.getPrompt({ name: `w__bad_prompt_${hash('bad prompt')}` });
    expect(prompt.messages[0].content).toEqual({ type: 'text', text: 'prompt bad prompt' });
  });

  it('publishes the same sanitised names after a restart', async () => {
    const first = await gatewayWithLog({ w: wireStdio({ tools: BAD_TOOLS }) });
    const a = (await first.client.listTools()).tools.map((t) => t.name);
    const second = await gatewayWithLog({ w: wireStdio({ tools: BAD_TOOLS }) });
    expect((await second.client.listTools()).tools.map((t) => t.name)).toEqual(a);
  });

  it('leaves out names and URIs whose toString is not callable, with allow/deny lists in use', async () => {
    const { client, lines } = await gatewayWithLog({
      w: {
        ...wireStdio({ tools: [{ toString: 1 }, 'kept'] }),
        tools: { allow: ['kept', 'emit'], deny: ['x*'] },
      },
    });
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(['w__emit', 'w__kept']);
    expect(lines).toContainEqual(
      expect.objectContaining({ name: '{"toString":1}', msg: 'tools item without a usable name left out' }),
    );
  });

  it('keeps an unprefixed bad name sanitised too (prefix "")', async () => {
    const { client } = await gatewayWithLog({ w: { ...wireStdio({ tools: ['rm -rf /'] }), prefix: '' } });
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain(`rm_-rf___${hash('rm -rf /')}`);
  });
});
