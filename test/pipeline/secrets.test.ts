// Secret scanning in a real gateway in front of a real SDK upstream over stdio (test/fixtures/servers/
// secrets-server.ts, which returns what it is asked to and journals what it receives): planted credentials of
// every kind in results and arguments are redacted, blocked or passed as configured, a large result keeps the
// upstream's bytes unless it holds a secret, and no secret appears in any log line at debug level.
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/gateway/config.js';
import { createLogger } from '../../src/gateway/logger.js';
import { buildGateway } from '../../src/gateway/server.js';
import { SAMPLES } from '../fixtures/secrets/samples.js';
import { INIT, rawPost, ROOT, TSX, type RunningGateway } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';

const h = useHarness();
const SERVER = path.join(ROOT, 'test/fixtures/servers/secrets-server.ts');
const ALL_TEXT = SAMPLES.map((s) => s.text).join('\n');
const GITHUB = SAMPLES.find((s) => s.kind === 'github-token')!;

/** A gateway on port 0 in front of the fixture (upstream `vault`), every log line captured at debug. */
async function gateway(secrets?: unknown, policy?: unknown) {
  const journal = path.join(mkdtempSync(path.join(tmpdir(), 'sb-secrets-')), 'journal.jsonl');
  const lines: string[] = [];
  const log = createLogger('debug', { destination: { write: (line: string) => void lines.push(line) } });
  const vault = {
    command: process.execPath,
    args: ['--import', TSX, SERVER, '--journal', journal],
    ...(secrets === undefined ? {} : { secrets }),
  };
  const config = parseConfig({ upstreams: { vault }, ...(policy ? { policy } : {}) }, { baseDir: ROOT });
  const app = await buildGateway(config, { log });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  h.defer(() => app.close());
  const gw: RunningGateway = { app, url: `${address}/mcp`, close: () => app.close() };
  const received = () =>
    existsSync(journal)
      ? readFileSync(journal, 'utf8')
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as { name: string; arguments: Record<string, unknown> })
      : [];
  return { gw, lines, received, client: await h.client(gw) };
}

const leaked = (text: string) => SAMPLES.filter((s) => text.includes(s.secret)).map((s) => s.kind);
const textOf = (result: unknown) => (result as { content: { text: string }[] }).content[0].text;

describe('secrets in results (the default: redact)', () => {
  it('every planted kind is redacted in text, structured content and an embedded resource; the log holds none', async () => {
    const { client, lines, received } = await gateway();
    const structured = Object.fromEntries(SAMPLES.map((s, i) => [`field${i}`, s.text]));
    const result = (await client.callTool({
      name: 'vault__reply',
      arguments: { text: ALL_TEXT, structured, resource: true },
    })) as { content: { text?: string; resource?: { text: string } }[]; structuredContent: object };
    expect(leaked(JSON.stringify(result))).toEqual([]);
    for (const s of SAMPLES) expect(result.content[0].text).toContain(`[REDACTED:${s.kind}]`);
    expect(result.content[1].resource!.text).toBe(result.content[0].text);
    expect(leaked(JSON.stringify(result.structuredContent))).toEqual([]);
    // Arguments are passed as they are by default: the upstream got the real text.
    expect(received()[0].arguments.text).toBe(ALL_TEXT);
    // The fixture logs what it received to stderr, the gateway logs stderr: still no secret in any line.
    await expect.poll(() => lines.some((line) => line.includes('upstream stderr'))).toBe(true);
    expect(leaked(lines.join('\n'))).toEqual([]);
    const decisions = lines.map((line) => JSON.parse(line)).filter((line) => line.decision);
    expect(decisions[0].decision).toMatchObject({ effect: 'redact', item: 'vault__reply' });
    expect(decisions[0].decision.secrets).toEqual(expect.arrayContaining(['private-key', 'jwt']));
  });

  it('a prompt and a resource read are redacted too', async () => {
    const { client } = await gateway();
    const prompt = await client.getPrompt({ name: 'vault__quote', arguments: { text: GITHUB.text } });
    expect(JSON.stringify(prompt)).toContain('[REDACTED:github-token]');
    expect(leaked(JSON.stringify(prompt))).toEqual([]);
    await client.callTool({ name: 'vault__reply', arguments: { text: ALL_TEXT } });
    const read = await client.readResource({ uri: 'mem://last' });
    expect(leaked(JSON.stringify(read))).toEqual([]);
    expect(JSON.stringify(read)).toContain('[REDACTED:private-key]');
  });

  it("an upstream's error quoting a secret reaches the client redacted", async () => {
    const { client, lines } = await gateway();
    const outcome = await client
      .callTool({ name: 'vault__fail', arguments: { message: `bad token ${GITHUB.secret}` } })
      .catch((error: Error) => ({ error: error.message }));
    expect(JSON.stringify(outcome)).toContain('[REDACTED:github-token]');
    expect(leaked(JSON.stringify(outcome))).toEqual([]);
    expect(leaked(lines.join('\n'))).toEqual([]);
  });
});

describe('a large result and the raw-bytes path', () => {
  /** tools/call over raw HTTP: the bytes the gateway wrote. */
  async function rawCall(gw: RunningGateway, text: string) {
    const init = await rawPost(gw.url, INIT);
    const headers = { 'mcp-session-id': init.headers.get('mcp-session-id')!, accept: 'application/json' };
    const body = {
      jsonrpc: '2.0',
      id: 5,
      method: 'tools/call',
      params: { name: 'vault__reply', arguments: { text, pad: 8000 } },
    };
    return (await rawPost(gw.url, JSON.stringify(body), headers)).text;
  }

  it("without a secret the upstream's own bytes go out; with one the result is redacted and re-serialised", async () => {
    const { gw } = await gateway();
    // The SDK upstream writes `{"result":...}` first; the gateway's own envelope starts with "jsonrpc".
    const clean = await rawCall(gw, 'nothing to see here');
    expect(clean.startsWith('{"result":')).toBe(true);
    const withSecret = await rawCall(gw, `look: ${SAMPLES.find((s) => s.text.startsWith('key:'))!.text}`);
    expect(withSecret.startsWith('{"jsonrpc":"2.0"')).toBe(true);
    expect(withSecret).toContain('[REDACTED:private-key]');
    expect(leaked(withSecret)).toEqual([]);
    expect(() => JSON.parse(withSecret)).not.toThrow();
  });
});

describe('secrets in arguments', () => {
  it('block: the tool call is refused with isError naming the kind, and the upstream never sees it', async () => {
    const { client, received, lines } = await gateway('block');
    const result = await client.callTool({ name: 'vault__reply', arguments: { text: GITHUB.text } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/github-token/);
    expect(leaked(JSON.stringify(result))).toEqual([]);
    const prompt = client.getPrompt({ name: 'vault__quote', arguments: { text: GITHUB.text } });
    await expect(prompt).rejects.toMatchObject({ code: -32000 });
    expect(received()).toEqual([]);
    expect(leaked(lines.join('\n'))).toEqual([]);
    // The gateway keeps serving: a clean call goes through.
    expect(textOf(await client.callTool({ name: 'vault__reply', arguments: { text: 'hello' } }))).toBe(
      'hello',
    );
  });

  it('redact: the upstream receives the arguments redacted', async () => {
    const { client, received } = await gateway({ args: 'redact' });
    await client.callTool({ name: 'vault__reply', arguments: { text: ALL_TEXT } });
    const got = received()[0].arguments.text as string;
    expect(leaked(got)).toEqual([]);
    for (const s of SAMPLES) expect(got).toContain(`[REDACTED:${s.kind}]`);
  });

  it('off (by a rule, over the upstream): results pass untouched', async () => {
    const { client } = await gateway('block', {
      default: 'allow',
      rules: [{ name: 'vault-readers', allow: { tools: ['vault__*'] }, secrets: 'off' }],
    });
    const result = await client.callTool({ name: 'vault__reply', arguments: { text: GITHUB.text } });
    expect(textOf(result)).toBe(GITHUB.text);
  });
});
