// Rule limits end to end: two API-key principals with the SDK's own clients, real upstreams. A quota refuses
// the call past it with -32000, naming the rule and when to retry, while the other principal goes on; perTool
// counts each tool apart; the refusal goes away when the window passes; a call the rules deny spends nothing.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicStdio, startGateway, type RunningGateway } from '../helpers/gateway.js';

const KEYS = { bot: 'ci-bot-key-0123456789abcdef', ann: 'ann-key-0123456789abcdef' };

async function clientWith(url: string, key: string): Promise<Client> {
  const client = new Client({ name: 'limits-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${key}` } },
    }),
  );
  return client;
}

interface Refusal {
  code?: number;
  message?: string;
  data?: { retryAfterMs?: number; rule?: string; limit?: string };
}

/** The call's error, or undefined when it was answered. */
const refusal = (
  client: Client,
  name: string,
  args: Record<string, unknown> = { text: 'hi' },
): Promise<Refusal | undefined> =>
  client.callTool({ name, arguments: args }).then(
    () => undefined,
    (error: Refusal) => error,
  );

describe('rule limits with API-key principals', () => {
  let gw: RunningGateway;
  let bot: Client;
  let ann: Client;
  beforeAll(async () => {
    gw = await startGateway({
      upstreams: { a: basicStdio('a'), b: basicStdio('b') },
      auth: {
        resource: 'http://127.0.0.1/mcp',
        apiKeys: [
          { subject: 'ci-bot', groups: ['ci'], key: KEYS.bot },
          { subject: 'ann', groups: ['analysts'], key: KEYS.ann },
        ],
      },
      policy: {
        default: 'allow',
        rules: [
          { name: 'no-crash', deny: { tools: ['*__crash'] } },
          { name: 'no-shouting', deny: { tools: ['*__echo'] }, when: 'has(args.loud)' },
          {
            name: 'ci-quota',
            principals: { groups: ['ci'] },
            allow: { tools: ['a__*'] },
            limits: { calls: 3, per: '1m' },
          },
          {
            name: 'ci-burst',
            principals: { groups: ['ci'] },
            allow: { tools: ['b__echo'] },
            limits: { calls: 2, per: '1s' },
          },
          {
            name: 'ann-per-tool',
            principals: { subjects: ['ann'] },
            allow: { tools: ['a__*'] },
            limits: { calls: 1, per: '1m', perTool: true },
          },
        ],
      },
    });
    bot = await clientWith(gw.url, KEYS.bot);
    ann = await clientWith(gw.url, KEYS.ann);
  });
  afterAll(async () => {
    await Promise.all([bot?.close(), ann?.close()]);
    await gw?.close();
  });

  it('a quota of 3 calls refuses the fourth with -32000 naming the rule, while another principal still calls', async () => {
    // Refused by the rules (hidden, or denied for its arguments): they run first, so these spend no point.
    for (let i = 0; i < 4; i++) expect((await refusal(bot, 'a__crash'))?.code).toBe(-32602);
    for (let i = 0; i < 4; i++)
      expect((await refusal(bot, 'a__echo', { loud: true }))?.message).toMatch(/Forbidden/);
    for (let i = 0; i < 3; i++) expect(await refusal(bot, 'a__echo')).toBeUndefined();
    const refused = await refusal(bot, 'a__echo');
    expect(refused?.code).toBe(-32000);
    expect(refused?.message).toMatch(
      /^MCP error -32000: Rate limit: rule "ci-quota" allows 3 calls per 1m per principal; retry in \d+ s$/,
    );
    expect(refused?.data).toMatchObject({ rule: 'ci-quota', limit: 'calls' });
    expect(refused!.data!.retryAfterMs).toBeGreaterThan(0);
    expect(refused!.data!.retryAfterMs).toBeLessThanOrEqual(60_000);
    // Every tool the rule names shares the window; a tool it does not name is not counted.
    expect((await refusal(bot, 'a__whoami'))?.data?.rule).toBe('ci-quota');
    expect(await refusal(bot, 'b__whoami')).toBeUndefined();
    // The other principal has windows of its own.
    expect(await refusal(ann, 'a__echo')).toBeUndefined();
  });

  it('perTool counts each tool apart', async () => {
    expect(await refusal(ann, 'a__add')).toBeUndefined();
    const refused = await refusal(ann, 'a__add');
    expect(refused?.message).toMatch(
      /^MCP error -32000: Rate limit: rule "ann-per-tool" allows 1 call per 1m per principal and tool; retry in \d+ s$/,
    );
    expect(await refusal(ann, 'a__whoami')).toBeUndefined();
  });

  it('the refusal goes away when the window passes', async () => {
    let refused: Refusal | undefined;
    // Within one 1 s window two calls pass and the third is refused (a window may end between calls: retry).
    for (let i = 0; i < 10 && !refused; i++) refused = await refusal(bot, 'b__echo');
    expect(refused?.data).toMatchObject({ rule: 'ci-burst', limit: 'calls' });
    expect(refused!.data!.retryAfterMs).toBeLessThanOrEqual(1000);
    // Poll (no timing assertion): once the window has passed, the call is answered.
    const until = Date.now() + 10_000;
    let answered = false;
    while (!answered && Date.now() < until) {
      answered = (await refusal(bot, 'b__echo')) === undefined;
      if (!answered) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(answered).toBe(true);
  });
});
