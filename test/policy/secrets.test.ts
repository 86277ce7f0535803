// The secrets detector and stage, pure: planted credentials of each kind found and redacted to
// `[REDACTED:<kind>]` (in text and in raw JSON bytes), ordinary text left alone, and the policy on literal Calls:
// redact / block / off per direction, the raw-bytes fast path, rule overrides, decision events without the secret.
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { parseConfig } from '../../src/gateway/config.js';
import { bytesMayHoldSecret, findSecrets, replaceSecrets } from '../../src/policy/secrets/detect.js';
import { createSecretsPolicy } from '../../src/policy/secrets/policy.js';
import { redactValue } from '../../src/policy/secrets/redact-value.js';
import { policySchema } from '../../src/policy/rules-schema.js';
import type { Call, CallLog, Next, Policy, Result, Target } from '../../src/policy/types.js';
import { redactText } from '../../src/redact.js';
import { ORDINARY, SAMPLES } from '../fixtures/secrets/samples.js';
import { alice, bob, target } from './rules-fixtures.js';

const label = (kind: string) => `[REDACTED:${kind}]`;
const GITHUB = SAMPLES.find((s) => s.kind === 'github-token')!.secret;
const PEM = SAMPLES.find((s) => s.kind === 'private-key' && s.text.startsWith('key:'))!;

describe('the detector', () => {
  it.each(SAMPLES.map((s) => [s.kind, s] as const))(
    'finds a planted %s and redacts exactly it',
    (kind, s) => {
      const { text, kinds } = replaceSecrets(s.text, label);
      expect(kinds).toEqual([kind]);
      expect(text).toContain(label(kind));
      expect(text).not.toContain(s.secret);
      // What stands around the secret stays (a URL keeps its host, a label its name).
      const at = s.text.indexOf(s.secret);
      if (at > 0 && kind !== 'private-key') expect(text.startsWith(s.text.slice(0, at))).toBe(true);
    },
  );

  it.each(SAMPLES.map((s) => [s.kind, s] as const))('sees a planted %s in raw JSON bytes', (_kind, s) => {
    const bytes = Buffer.from(JSON.stringify({ content: [{ type: 'text', text: s.text }] }));
    expect(bytesMayHoldSecret([bytes])).toBe(true);
    // Split into pieces anywhere (as pipe reads split them), it is still seen.
    for (const cut of [1, 17, Math.floor(bytes.length / 2), bytes.length - 3])
      expect(bytesMayHoldSecret([bytes.subarray(0, cut), bytes.subarray(cut)])).toBe(true);
  });

  it.each(ORDINARY.map((text) => [text]))('finds nothing in %j', (text) => {
    expect(findSecrets(text)).toEqual([]);
  });

  it('sees anchors a serialiser hid behind \\u escapes or escaped slashes', () => {
    const escaped = Buffer.from('{"text":"\\u0067hp_' + 'a'.repeat(36) + '"}');
    expect(bytesMayHoldSecret([escaped])).toBe(true);
    const slashes = Buffer.from('{"text":"redis:\\/\\/:s3cretpassw0rd@cache:6379"}');
    expect(bytesMayHoldSecret([slashes])).toBe(true);
    const plain = [ORDINARY[0], ORDINARY[1], ORDINARY[3], ORDINARY[6]].join(' ');
    expect(bytesMayHoldSecret([Buffer.from(JSON.stringify({ text: plain }))])).toBe(false);
  });

  it('redacts a truncated private key block (no END line) through its body', () => {
    const cut = PEM.text.slice(0, PEM.text.indexOf('-----END'));
    const { text, kinds } = replaceSecrets(`${cut}`, label);
    expect(kinds).toEqual(['private-key']);
    expect(text).not.toMatch(/MII[A-Za-z0-9+/]{20}/);
  });

  it('redacts every secret of a text with several, and is idempotent', () => {
    const text = SAMPLES.map((s) => s.text).join('\n');
    const once = replaceSecrets(text, label);
    expect(once.kinds.length).toBeGreaterThanOrEqual(SAMPLES.length);
    for (const s of SAMPLES) expect(once.text).not.toContain(s.secret);
    expect(replaceSecrets(once.text, label).kinds).toEqual([]);
  });

  it('feeds the log redaction: no planted secret survives redactText', () => {
    for (const s of SAMPLES) expect(redactText(s.text)).not.toContain(s.secret);
  });
});

describe('redactValue', () => {
  it('redacts inside string values anywhere, keeps keys, media data and blobs, and copies only what changed', () => {
    const untouched = { id: 7, tags: ['a', 'b'] };
    const value = {
      content: [
        { type: 'text', text: `token ${GITHUB}` },
        { type: 'image', data: 'Z2hwXw==', mimeType: 'image/png' },
        { type: 'resource', resource: { uri: 'mem://x', text: PEM.text } },
      ],
      structuredContent: { aws_secret_access_key: 'A'.repeat(39) + 'b', untouched },
    };
    const { value: out, kinds } = redactValue(value) as { value: any; kinds: string[] };
    expect(kinds).toEqual(['github-token', 'private-key', 'aws-secret-access-key']);
    expect(out.content[0].text).toBe(`token ${label('github-token')}`);
    expect(out.content[1]).toBe(value.content[1]);
    expect(out.content[2].resource.text).toContain(label('private-key'));
    expect(out.structuredContent.aws_secret_access_key).toBe(label('aws-secret-access-key'));
    expect(out.structuredContent.untouched).toBe(untouched);
    expect(value.content[0].text).toBe(`token ${GITHUB}`);
  });

  it('returns the very same object when there is nothing to redact', () => {
    const value = { content: [{ type: 'text', text: ORDINARY.join('\n') }] };
    expect(redactValue(value).value).toBe(value);
  });

  it('replaces a secret under a "__proto__" key as an own property', () => {
    const value = JSON.parse(`{"__proto__":"${GITHUB}"}`);
    const out = redactValue(value).value as Record<string, unknown>;
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toBe(label('github-token'));
  });
});

// ---------------------------------------------------------------------------------------------------------------

interface Logged {
  fields: any;
  message?: string;
}

const METHOD: Record<string, string> = {
  tool: 'tools/call',
  prompt: 'prompts/get',
  resource: 'resources/read',
};

function callOf(to: Target, args?: Record<string, unknown>, log: Logged[] = [], principal = alice): Call {
  const sink: CallLog = {
    debug() {},
    info: (fields, message) => void log.push({ fields, message }),
    warn() {},
    error() {},
  };
  return {
    method: METHOD[to.kind],
    params: to.kind === 'resource' ? { uri: to.original } : { name: to.original, arguments: args },
    target: to,
    principal,
    signal: new AbortController().signal,
    log: sink,
    askClient: async () => ({}),
  };
}

const tool = target('tool', 'crm', 'crm__lookup');
const prompt = target('prompt', 'crm', 'crm__brief');
const resource = target('resource', 'crm', 'crm://notes');
const textResult = (text: string): Result => ({ value: { content: [{ type: 'text', text }] } });

function policyOf(upstream?: unknown, rules: unknown[] = []): Policy {
  const config = parseConfig({
    upstreams: { crm: { command: 'x', ...(upstream === undefined ? {} : { secrets: upstream }) } },
    ...(rules.length ? { policy: { default: 'allow', rules } } : {}),
  });
  const policy = createSecretsPolicy({
    upstreams: new Map([['crm', config.upstreams.crm.secrets]]),
    rules: config.policy?.rules ?? [],
  });
  if (!policy) throw new Error('expected a secrets policy');
  return policy;
}

/** Runs the stage on a call; `next` records what reached it and answers `result`. */
async function run(policy: Policy, call: Call, result: Result = textResult('ok')) {
  const reached: Call[] = [];
  const next: Next = async (passed) => {
    reached.push(passed);
    return result;
  };
  const out = await policy.around!(call, next);
  return { out, reached };
}

describe('the secrets stage', () => {
  it('with no config, results are redacted and arguments pass as they are', async () => {
    const log: Logged[] = [];
    const call = callOf(tool, { token: GITHUB }, log);
    const { out, reached } = await run(policyOf(), call, textResult(`here: ${GITHUB}`));
    expect(reached[0].params.arguments).toEqual({ token: GITHUB });
    expect(out.value).toEqual(textResult(`here: ${label('github-token')}`).value);
    expect(log).toHaveLength(1);
    expect(log[0].fields.decision).toMatchObject({ effect: 'redact', secrets: ['github-token'] });
    expect(JSON.stringify(log)).not.toContain(GITHUB);
  });

  it('redact on args: the upstream gets the redacted arguments', async () => {
    const { reached } = await run(policyOf('redact'), callOf(tool, { token: GITHUB, n: 1 }));
    expect(reached[0].params.arguments).toEqual({ token: label('github-token'), n: 1 });
  });

  it('block on args: a tool call gets an isError result naming the kind and argument, the upstream is not called', async () => {
    const log: Logged[] = [];
    const { out, reached } = await run(policyOf({ args: 'block' }), callOf(tool, { token: GITHUB }, log));
    expect(reached).toEqual([]);
    const value = out.value as { isError: boolean; content: { text: string }[] };
    expect(value.isError).toBe(true);
    expect(value.content[0].text).toMatch(/github-token/);
    expect(value.content[0].text).toMatch(/\(token\)/);
    expect(value.content[0].text).not.toContain(GITHUB);
    expect(log[0].fields.decision).toMatchObject({ effect: 'block', secrets: ['github-token'] });
  });

  it('block on args of a prompt: a forbidden error naming the kind', async () => {
    const failure = run(policyOf('block'), callOf(prompt, { text: PEM.text }));
    await expect(failure).rejects.toSatisfy(
      (e: unknown) => e instanceof GatewayError && e.kind === 'forbidden' && /private-key/.test(e.message),
    );
  });

  it('block on results: a tool gets a refusal naming the kind, a resource read a forbidden error', async () => {
    const policy = policyOf({ results: 'block' });
    const { out } = await run(policy, callOf(tool, {}), textResult(`x ${GITHUB}`));
    const value = out.value as { isError: boolean; content: { text: string }[] };
    expect(value.isError).toBe(true);
    expect(value.content[0].text).toMatch(/github-token/);
    expect(JSON.stringify(out)).not.toContain(GITHUB);
    const read = run(policy, callOf(resource), {
      value: { contents: [{ uri: 'crm://notes', text: PEM.text }] },
    });
    await expect(read).rejects.toSatisfy((e: unknown) => e instanceof GatewayError && e.kind === 'forbidden');
  });

  it('off passes both directions untouched', async () => {
    const result = textResult(GITHUB);
    const onlyBob = [{ name: 'bob', principals: { subjects: ['bob'] }, secrets: 'redact' }];
    const { out, reached } = await run(policyOf('off', onlyBob), callOf(tool, { t: GITHUB }), result);
    expect(out).toBe(result);
    expect(reached[0].params.arguments).toEqual({ t: GITHUB });
    expect(createSecretsPolicy({ upstreams: new Map([['crm', 'off']]), rules: [] })).toBeUndefined();
  });

  it('a matching rule overrides the upstream; among matching rules the strictest wins', async () => {
    const rules = [
      { name: 'bob-sees-all', principals: { subjects: ['bob'] }, secrets: 'off' },
      { name: 'lookups-blocked', allow: { tools: ['crm__lookup'] }, secrets: { results: 'block' } },
      { name: 'lookups-redacted', allow: { tools: ['crm__lookup'] }, secrets: { results: 'redact' } },
    ];
    const policy = policyOf('redact', rules);
    const result = textResult(GITHUB);
    const forAlice = await run(policy, callOf(tool, {}, [], alice), result);
    expect((forAlice.out.value as { isError?: boolean }).isError).toBe(true);
    // Bob matches all three: block is the strictest of them.
    const forBob = await run(policy, callOf(tool, {}, [], bob), result);
    expect((forBob.out.value as { isError?: boolean }).isError).toBe(true);
    // Bob's `off` applies where the lookup rules do not: the prompt.
    const bobPrompt = await run(policy, callOf(prompt, { text: GITHUB }, [], bob), result);
    expect(bobPrompt.out).toBe(result);
    expect(bobPrompt.reached[0].params.arguments).toEqual({ text: GITHUB });
  });

  it('a rule with a when over args applies only where it holds', async () => {
    const policy = policyOf(undefined, [
      { name: 'prod-args', when: "args.env == 'prod'", secrets: { args: 'block' } },
    ]);
    const prod = await run(policy, callOf(tool, { env: 'prod', token: GITHUB }));
    expect(prod.reached).toEqual([]);
    const dev = await run(policy, callOf(tool, { env: 'dev', token: GITHUB }));
    expect(dev.reached).toHaveLength(1);
  });

  it('a result in raw bytes without a secret passes as the same Result, raw bytes kept', async () => {
    const text = 'x'.repeat(5000);
    const raw = [Buffer.from(JSON.stringify({ content: [{ type: 'text', text }] }))];
    const result: Result = { value: { content: [{ type: 'text', text }] }, raw };
    const { out } = await run(policyOf(), callOf(tool, {}), result);
    expect(out).toBe(result);
    expect(out.raw).toBe(raw);
  });

  it('a result in raw bytes with a secret (a PEM block, escaped, split across pieces) comes back redacted, without raw', async () => {
    const value = { content: [{ type: 'text', text: `${'y'.repeat(3000)}\n${PEM.text}` }] };
    const bytes = Buffer.from(JSON.stringify(value));
    const cut = bytes.indexOf('PRIVATE KEY') + 4;
    const { out } = await run(policyOf(), callOf(tool, {}), {
      value,
      raw: [bytes.subarray(0, cut), bytes.subarray(cut)],
    });
    expect(out.raw).toBeUndefined();
    const text = (out.value as { content: { text: string }[] }).content[0].text;
    expect(text).toContain(label('private-key'));
    expect(text).not.toContain(PEM.secret.slice(40, 100));
  });

  it("an upstream's error message and data are redacted, its code kept", async () => {
    const error = Object.assign(new Error(`MCP error -32099: bad token ${GITHUB}`), {
      code: -32099,
      data: { token: GITHUB },
    });
    const failing: Next = async () => {
      throw error;
    };
    const outcome = policyOf().around!(callOf(tool, {}), failing);
    await expect(outcome).rejects.toSatisfy(
      (e: unknown) =>
        e instanceof GatewayError &&
        e.code === -32099 &&
        e.message === `bad token ${label('github-token')}` &&
        JSON.stringify(e.data) === JSON.stringify({ token: label('github-token') }),
    );
  });
});

describe('the secrets config', () => {
  it('accepts a word, an object per direction, and a rule with only secrets', () => {
    const config = parseConfig({
      upstreams: { a: { command: 'x', secrets: 'block' }, b: { command: 'x', secrets: { args: 'redact' } } },
      policy: { default: 'allow', rules: [{ name: 'only-secrets', secrets: { results: 'off' } }] },
    });
    expect(config.upstreams.a.secrets).toBe('block');
    expect(config.upstreams.b.secrets).toEqual({ args: 'redact' });
    expect(
      policySchema.parse({ default: 'allow', rules: [{ name: 'r', secrets: 'redact' }] }).rules[0].secrets,
    ).toBe('redact');
  });

  it.each([
    [{ upstreams: { a: { command: 'x', secrets: 'maybe' } } }, /upstreams\.a\.secrets/],
    [{ upstreams: { a: { command: 'x', secrets: { arguments: 'block' } } } }, /upstreams\.a\.secrets/],
    [
      { upstreams: {}, policy: { default: 'allow', rules: [{ name: 'r', secrets: {} }] } },
      /policy\.rules\.0\.secrets/,
    ],
    [{ upstreams: {}, policy: { default: 'allow', rules: [{ name: 'r' }] } }, /needs allow, deny.*secrets/],
  ])('rejects %j', (raw, message) => {
    expect(() => parseConfig(raw)).toThrow(message);
  });
});
