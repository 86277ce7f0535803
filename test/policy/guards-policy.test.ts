// The guards policy, pure: literal Calls and a `next` that records whether it ran. Upstream guards match by
// upstream and original name, rule guards by public-name glob, principals and `when`; a refusal is an isError
// result naming argument, guard and config path, leaves a decision event, and never reaches `next`. Random
// argument values never make the stage throw.
import fc from 'fast-check';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createGuardsPolicy } from '../../src/policy/guards/policy.js';
import { guardsSchema } from '../../src/policy/guards/schema.js';
import { policySchema } from '../../src/policy/rules-schema.js';
import type { Call, CallLog, Next, Policy, Principal, Result, Target } from '../../src/policy/types.js';
import { tempDir } from '../builtin-servers/helpers.js';
import { alice, bob } from './rules-fixtures.js';

const tmp = tempDir('sb-guards-policy-');
const share = path.join(tmp.dir, 'share');
mkdirSync(share);
writeFileSync(path.join(share, 'a.txt'), 'a\n');
afterAll(() => tmp.cleanup());

const OK: Result = { value: { content: [{ type: 'text', text: 'ok' }] } };
const readFile: Target = { kind: 'tool', upstream: 'files', name: 'fs__read', original: 'read_file' };
const otherFiles: Target = {
  kind: 'tool',
  upstream: 'other',
  name: 'other__read_file',
  original: 'read_file',
};

interface Run {
  result: Result;
  reached: boolean;
  logged: any[];
}

async function run(policy: Policy, principal: Principal, to: Target, args: unknown): Promise<Run> {
  const logged: any[] = [];
  const log: CallLog = { debug() {}, info: (fields) => void logged.push(fields), warn() {}, error() {} };
  const call: Call = {
    method: 'tools/call',
    params: { name: to.original, arguments: args },
    target: to,
    principal,
    signal: new AbortController().signal,
    log,
    askClient: async () => ({}),
  };
  let reached = false;
  const next: Next = async () => {
    reached = true;
    return OK;
  };
  const result = await policy.around!(call, next);
  return { result, reached, logged };
}

const textOf = (result: Result) => (result.value as any).content[0].text as string;

function guardsOf(upstreams: Record<string, unknown>, rules: unknown[] = []): Policy {
  const policy = createGuardsPolicy({
    upstreams: new Map(Object.entries(upstreams).map(([name, g]) => [name, guardsSchema.parse(g)])),
    rules: policySchema.parse({ default: 'allow', rules }).rules,
    baseDir: tmp.dir,
    // No name is looked up for real in a unit test.
    lookup: async () => {
      throw new Error('no DNS here');
    },
  });
  if (!policy) throw new Error('expected a guards policy');
  return policy;
}

describe('guards policy', () => {
  it('is absent when nothing is guarded', () => {
    expect(createGuardsPolicy({ upstreams: new Map(), rules: [], baseDir: tmp.dir })).toBeUndefined();
    const rules = policySchema.parse({
      default: 'allow',
      rules: [{ name: 'r', allow: { tools: ['*'] } }],
    }).rules;
    expect(createGuardsPolicy({ upstreams: new Map(), rules, baseDir: tmp.dir })).toBeUndefined();
  });

  it('an upstream guard refuses with an isError naming argument, guard and config path, without calling next', async () => {
    const policy = guardsOf({ files: { read_file: { path: { path: { roots: [share] } } } } });
    expect(policy.methods).toEqual(['tools/call']);
    const refused = await run(policy, alice, readFile, { path: '/etc/passwd' });
    expect(refused.reached).toBe(false);
    expect((refused.result.value as any).isError).toBe(true);
    expect(textOf(refused.result)).toBe(
      'Refused by the gateway: argument "path" is outside the allowed roots (path guard upstreams.files.tools.guards.read_file.path)',
    );
    expect(refused.logged).toHaveLength(1);
    expect(refused.logged[0].decision).toMatchObject({
      subject: 'alice',
      method: 'tools/call',
      item: 'fs__read',
      upstream: 'files',
      effect: 'guard',
    });
    expect(JSON.stringify(refused.logged)).not.toContain('/etc/passwd');
    const passed = await run(policy, alice, readFile, { path: path.join(share, 'a.txt') });
    expect(passed).toMatchObject({ reached: true, result: OK, logged: [] });
  });

  it('matches by upstream and its own tool name: the same tool name on another upstream is not guarded', async () => {
    const policy = guardsOf({ files: { read_file: { path: { path: { roots: [share] } } } } });
    expect((await run(policy, alice, otherFiles, { path: '/etc/passwd' })).reached).toBe(true);
  });

  it('an absent guarded argument passes (a guard does not make it required); no arguments at all pass too', async () => {
    const policy = guardsOf({ files: { read_file: { path: { path: { roots: [share] } } } } });
    expect((await run(policy, alice, readFile, { other: '/etc/passwd' })).reached).toBe(true);
    expect((await run(policy, alice, readFile, undefined)).reached).toBe(true);
  });

  it('rule guards apply by public-name glob to the rule principals, where its when holds', async () => {
    const policy = guardsOf({}, [
      {
        name: 'ci-paths',
        principals: { groups: ['ci'] },
        when: "args.mode != 'dry'",
        guards: { '*__read*': { path: { maxLength: 5 } } },
      },
    ]);
    const refused = await run(policy, bob, readFile, { path: 'longer than five' });
    expect(refused.reached).toBe(false);
    expect(textOf(refused.result)).toBe(
      'Refused by the gateway: argument "path" is longer than 5 characters (maxLength guard policy.rules.0.guards.*__read*.path, rule "ci-paths")',
    );
    expect(refused.logged[0].decision.rule).toBe('ci-paths');
    // Not about alice; not where `when` is false; not for a name the glob does not match.
    expect((await run(policy, alice, readFile, { path: 'longer than five' })).reached).toBe(true);
    expect((await run(policy, bob, readFile, { path: 'longer than five', mode: 'dry' })).reached).toBe(true);
    expect((await run(policy, bob, { ...readFile, name: 'fs__write' }, { path: 'longer' })).reached).toBe(
      true,
    );
  });

  it('a guard-only rule is valid config; a rule with nothing is not', () => {
    expect(
      policySchema.safeParse({
        default: 'deny',
        rules: [{ name: 'g', guards: { '*': { q: { maxLength: 1 } } } }],
      }).success,
    ).toBe(true);
    const empty = policySchema.safeParse({ default: 'deny', rules: [{ name: 'e' }] });
    expect(empty.success).toBe(false);
    expect(empty.error!.issues[0].message).toMatch(/needs allow, deny\b.*\bguards\b/);
  });

  it('both the upstream guards and the rule guards must pass', async () => {
    const policy = guardsOf({ files: { read_file: { path: { maxLength: 100 } } } }, [
      { name: 'short', guards: { 'fs__*': { path: { maxLength: 3 } } } },
    ]);
    expect(textOf((await run(policy, alice, readFile, { path: 'abcd' })).result)).toMatch(/rule "short"/);
    expect((await run(policy, alice, readFile, { path: 'abc' })).reached).toBe(true);
  });

  it('random argument values never throw out of the stage and never reach next when refused', async () => {
    const policy = guardsOf(
      {
        files: {
          read_file: {
            path: { path: { roots: [share] } },
            paths: { path: { roots: [share] }, maxItems: 3 },
            url: { url: {} },
            mode: { enum: ['a', 'b'] },
            id: { pattern: '^[a-z]+$', maxLength: 8 },
          },
        },
      },
      [],
    );
    const value = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.constantFrom(
        '/etc/passwd',
        `${share}/a.txt`,
        `${share}/../x`,
        'https://127.0.0.1/',
        '\0',
        '__proto__',
      ),
    );
    const args = fc.dictionary(
      fc.constantFrom('path', 'paths', 'url', 'mode', 'id', 'other', '__proto__'),
      value,
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(args, fc.jsonValue({ maxDepth: 2 })), async (given) => {
        const { result, reached } = await run(policy, alice, readFile, given);
        if (reached) expect(result).toBe(OK);
        else {
          expect((result.value as any).isError).toBe(true);
          expect(textOf(result)).toMatch(/^Refused by the gateway: argument "(path|paths|url|mode|id)" /);
        }
      }),
      { numRuns: 300 },
    );
  });
});
