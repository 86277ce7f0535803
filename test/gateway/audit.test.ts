// The audit log on a real gateway: a scripted session (API keys, a policy with a deny, a limit, a guard, an
// approval declined, secret scanning) leaves one record per call and per decision with who, what and how it
// ended, and the shape of the arguments but never a value; `audit verify` passes on it and names the first bad
// line after an edit, a deletion, a swap and a truncation; rotation carries the chain across files.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { filesToVerify, verifyFiles } from '../../src/gateway/audit/verify.js';
import { GENESIS } from '../../src/gateway/audit/chain.js';
import { basicStdio, connectClient, ROOT, TSX, waitFor } from '../helpers/gateway.js';
import { loggedGateway, pinsSetup, rugPull } from './pins-helpers.js';
import { makeTempDir, useHarness } from '../helpers/harness.js';

const h = useHarness();
const KEY = 'audit-test-key-5c1d9e7a3b';
/** Planted in arguments: it must never reach the audit file. */
const SECRET = 'PLANTED-ARGUMENT-VALUE-7f3a9c';
/** A credential the secrets stage finds in the echoed result. */
const TOKEN = `ghp_${'A1b2C3d4E5'.repeat(4).slice(0, 36)}`;

const POLICY = {
  default: 'allow',
  rules: [
    { name: 'no-fail', deny: { tools: ['a__fail'] } },
    { name: 'add-quota', allow: { tools: ['a__add'] }, limits: { calls: 1, per: '1m' } },
    { name: 'short-echo', guards: { a__echo: { text: { maxLength: 64 } } } },
    { name: 'confirm-adds', approve: { tools: ['a__add_tool'] } },
  ],
};

function records(file: string): any[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

async function auditedGateway(audit: Record<string, unknown>) {
  return h.gateway({
    upstreams: { a: basicStdio('a') },
    auth: { resource: 'http://127.0.0.1/mcp', apiKeys: [{ subject: 'ci-bot', groups: ['ci'], key: KEY }] },
    policy: POLICY,
    audit,
  });
}

async function keyClient(url: string, key = KEY, declineAll = false) {
  const client = new Client(
    { name: 'audit-test', version: '1.0.0' },
    { capabilities: declineAll ? { elicitation: { form: {} } } : {} },
  );
  if (declineAll) client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'decline' }));
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${key}` } },
    }),
  );
  h.defer(() => client.close());
  return client;
}

/** The scripted session: one of each decision kind, each with the planted value in its arguments. */
async function script(url: string) {
  const client = await keyClient(url, KEY, true);
  await client.callTool({ name: 'a__echo', arguments: { text: SECRET, nested: { list: [SECRET, 1] } } });
  await client.callTool({ name: 'a__echo', arguments: { text: TOKEN } });
  await expect(client.callTool({ name: 'a__fail', arguments: { why: SECRET } })).rejects.toThrow();
  await client.callTool({ name: 'a__add', arguments: { a: 1, b: 2 } });
  await expect(client.callTool({ name: 'a__add', arguments: { a: 1, b: 2 } })).rejects.toThrow(/limit/i);
  const guarded = await client.callTool({ name: 'a__echo', arguments: { text: SECRET.repeat(5) } });
  expect(guarded.isError).toBe(true);
  const declined = await client.callTool({ name: 'a__add_tool', arguments: { name: SECRET } });
  expect(declined.isError).toBe(true);
  await client.getPrompt({ name: 'a__greet', arguments: { who: SECRET } });
  await client.readResource({ uri: 'a://static/info' });
  // A wrong key: refused at the HTTP edge.
  await expect(keyClient(url, 'not-the-key-0000000000')).rejects.toThrow();
}

describe('audit log', () => {
  it('records every call and decision with who, what and outcome, never an argument value', async () => {
    const file = path.join(makeTempDir('audit-'), 'audit.jsonl');
    const gw = await auditedGateway({ file });
    await script(gw.url);
    await gw.close();
    const text = readFileSync(file, 'utf8');
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain(KEY);
    const all = records(file);
    expect(all.map((r) => r.seq)).toEqual(all.map((_, i) => i + 1));
    expect(all[0].prev).toBe(GENESIS);
    const calls = all.filter((r) => r.event === 'call');
    const decisions = all.filter((r) => r.event === 'decision');
    expect(calls.map((r) => [r.method, r.name, r.outcome])).toEqual([
      ['tools/call', 'a__echo', 'ok'],
      ['tools/call', 'a__echo', 'ok'],
      ['tools/call', 'a__fail', 'error'],
      ['tools/call', 'a__add', 'ok'],
      ['tools/call', 'a__add', 'error'],
      ['tools/call', 'a__echo', 'isError'],
      ['tools/call', 'a__add_tool', 'isError'],
      ['prompts/get', 'a__greet', 'ok'],
      ['resources/read', 'a://static/info', 'ok'],
    ]);
    const first = calls[0];
    expect(first).toMatchObject({
      upstream: 'a',
      original: 'echo',
      principal: { subject: 'ci-bot', groups: ['ci'], via: 'apiKey' },
      args: {
        text: `string(${SECRET.length})`,
        nested: { list: { array: 2, items: [expect.any(String), 'number'] } },
      },
    });
    expect(first.session).toMatch(/^[0-9a-f]{32}$/);
    expect(typeof first.durationMs).toBe('number');
    expect(calls[4].error).toMatchObject({ kind: 'rate_limited' });
    expect(decisions.map((r) => [r.decision, r.rule, r.name])).toEqual(
      expect.arrayContaining([
        ['redact', undefined, 'a__echo'],
        ['deny', 'no-fail', 'a__fail'],
        ['limit', 'add-quota', 'a__add'],
        ['guard', 'short-echo', 'a__echo'],
        [expect.any(String), 'confirm-adds', 'a__add_tool'],
      ]),
    );
    expect(decisions.find((r) => r.rule === 'confirm-adds').outcome).toBe('declined');
    const auth = all.filter((r) => r.event === 'auth');
    expect(auth).toHaveLength(1);
    expect(auth[0]).toMatchObject({ decision: 'deny', status: 401, http: { method: 'POST', path: '/mcp' } });
    expect(verifyFiles([file])).toMatchObject({ ok: true, records: all.length, firstSeq: 1 });
  });

  it('audit verify names the first bad line after an edit, a deletion, a swap and a truncation', async () => {
    const dir = makeTempDir('audit-tamper-');
    const file = path.join(dir, 'audit.jsonl');
    const gw = await auditedGateway({ file });
    const client = await keyClient(gw.url);
    for (let i = 0; i < 6; i++) await client.callTool({ name: 'a__echo', arguments: { text: `n${i}` } });
    await gw.close();
    const lines = readFileSync(file, 'utf8').split('\n').slice(0, -1);
    expect(lines.length).toBeGreaterThanOrEqual(6);
    const variant = (name: string, changed: string[], tail = '\n') => {
      const target = path.join(dir, name);
      writeFileSync(target, changed.join('\n') + tail);
      return verifyFiles([target]);
    };
    expect(variant('ok.jsonl', lines).ok).toBe(true);

    const edited = [...lines];
    edited[2] = edited[2].replace('"outcome":"ok"', '"outcome":"isError"');
    expect(edited[2]).not.toBe(lines[2]);
    expect(variant('edited.jsonl', edited).bad).toMatchObject({
      line: 3,
      why: expect.stringMatching(/hash mismatch/),
    });

    const deleted = lines.filter((_, i) => i !== 3);
    expect(variant('deleted.jsonl', deleted).bad).toMatchObject({
      line: 4,
      why: expect.stringMatching(/prev/),
    });

    const swapped = [...lines];
    [swapped[1], swapped[2]] = [swapped[2], swapped[1]];
    expect(variant('swapped.jsonl', swapped).bad).toMatchObject({
      line: 2,
      why: expect.stringMatching(/prev/),
    });

    const cut = [...lines.slice(0, 4), lines[4].slice(0, 40)];
    expect(variant('cut.jsonl', cut, '').bad).toMatchObject({
      line: 5,
      why: expect.stringMatching(/truncated/),
    });

    // The command names the file and line, and exits 1; 0 with a summary on the intact log.
    const cli = (file: string) =>
      spawnSync(process.execPath, ['--import', TSX, path.join(ROOT, 'src/cli.ts'), 'audit', 'verify', file], {
        encoding: 'utf8',
      });
    const good = cli(path.join(dir, 'ok.jsonl'));
    expect([good.status, good.stdout]).toEqual([
      0,
      expect.stringMatching(/OK: \d+ records .*from the start/),
    ]);
    const bad = cli(path.join(dir, 'deleted.jsonl'));
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain(`${path.join(dir, 'deleted.jsonl')}:4: prev does not match`);

    const garbage = [...lines];
    garbage[1] = '{"seq":2,';
    expect(variant('garbage.jsonl', garbage).bad).toMatchObject({
      line: 2,
      why: expect.stringMatching(/JSON/),
    });
  });

  it('rotation keeps the chain across files, and a restart continues it', async () => {
    const dir = makeTempDir('audit-rotate-');
    const file = path.join(dir, 'audit.jsonl');
    const audit = { file, maxBytes: 4096, keep: 100 };
    for (const round of [0, 1]) {
      const gw = await auditedGateway(audit);
      const client = await keyClient(gw.url);
      for (let i = 0; i < 15; i++)
        await client.callTool({ name: 'a__echo', arguments: { text: `round ${round} call ${i}` } });
      await gw.close();
    }
    const files = filesToVerify([file]);
    expect(files.length).toBeGreaterThan(2);
    expect(files.at(-1)).toBe(file);
    // The rotated names sort in the order they were written; the live file is the newest.
    const rotated = files.slice(0, -1);
    expect([...rotated].sort()).toEqual(rotated);
    const report = verifyFiles(files);
    expect(report).toMatchObject({ ok: true, firstSeq: 1, records: 30 });
    // Each rotated file's first record links to the last of the file before it.
    const second = records(files[1]);
    expect(second[0].prev).toBe(records(files[0]).at(-1).hash);
    // Dropping a middle file breaks the chain where the next one starts.
    const without = files.filter((_, i) => i !== 1);
    expect(verifyFiles(without).bad).toMatchObject({ file: files[2], line: 1 });
  });

  it('a quarantined tool leaves a decision record, the gateway its subject', async () => {
    const file = path.join(makeTempDir('audit-quarantine-'), 'audit.jsonl');
    const { config } = pinsSetup({
      upstreams: { rp: { ...rugPull(), pinning: { newTools: 'quarantine' } } },
      audit: { file },
    });
    const gw = await loggedGateway(config);
    h.defer(gw.close);
    const client = await connectClient(gw.url);
    h.defer(() => client.close());
    await client.callTool({ name: 'rp__add_tool', arguments: { name: 'later' } });
    const quarantine = await waitFor(
      () =>
        records(file).find((r) => r.event === 'decision' && r.decision === 'quarantine') as
          Record<string, unknown> | undefined,
    );
    expect(quarantine).toMatchObject({
      kind: 'tool',
      name: 'rp__later',
      upstream: 'rp',
      principal: { subject: 'switchboard', via: 'catalogue' },
      reason: expect.stringMatching(/new tool/),
    });
  });

  it('a keyed log verifies only under its key', async () => {
    const dir = makeTempDir('audit-keyed-');
    const file = path.join(dir, 'audit.jsonl');
    const hashKey = 'a-long-enough-audit-key-123';
    const gw = await auditedGateway({ file, hashKey });
    const client = await keyClient(gw.url);
    await client.callTool({ name: 'a__echo', arguments: { text: 'x' } });
    await gw.close();
    expect(verifyFiles([file], hashKey).ok).toBe(true);
    expect(verifyFiles([file]).bad).toMatchObject({ line: 1, why: expect.stringMatching(/hash mismatch/) });
  });
});
