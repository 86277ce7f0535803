// The path guard end to end on @modelcontextprotocol/server-filesystem from npm, allowed a wider folder than
// the guard's root: traversal, a symlink out, encoded forms, a FIFO, relative paths and lists of paths are
// refused by the gateway with an isError naming the argument. Each refused path is one the server itself would
// serve, as its unguarded twin shows, and a refused write leaves no file: the upstream was never reached.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../builtin-servers/helpers.js';
import { connectClient, ROOT, startGateway, type RunningGateway } from '../helpers/gateway.js';

const SERVER = path.join(ROOT, 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js');
const SECRET = 'SECRET-BESIDE-THE-SHARE';
const tmp = tempDir('sb-guards-fs-');
const share = path.join(tmp.dir, 'share');
const secret = path.join(tmp.dir, 'private', 'secret.txt');

const filesystem = (guards?: Record<string, unknown>) => ({
  command: process.execPath,
  args: [SERVER, tmp.dir],
  ...(guards ? { tools: { guards } } : {}),
});
const textOf = (result: any) => result.content.map((c: any) => c.text).join('\n') as string;

let gw: RunningGateway;
let client: Client;
beforeAll(async () => {
  mkdirSync(share);
  mkdirSync(path.dirname(secret));
  writeFileSync(path.join(share, 'ok.txt'), 'shared text\n');
  writeFileSync(secret, `${SECRET}\n`);
  symlinkSync(path.dirname(secret), path.join(share, 'link-out'));
  execFileSync('mkfifo', [path.join(share, 'fifo')]);
  const roots = { roots: [share] };
  gw = await startGateway({
    upstreams: {
      fs: filesystem({
        read_text_file: { path: { path: roots } },
        read_multiple_files: { paths: { path: roots, maxItems: 5 } },
        write_file: { path: { path: { ...roots, allowMissing: true } } },
      }),
      fsopen: filesystem(),
    },
  });
  client = await connectClient(gw.url);
}, 60_000);
afterAll(async () => {
  await client?.close();
  await gw?.close();
  tmp.cleanup();
});

const escapes: [string, () => string, RegExp][] = [
  ['parent traversal', () => `${share}/../private/secret.txt`, /is outside the allowed roots \(/],
  ['symlink to a folder outside the root', () => `${share}/link-out/secret.txt`, /through a symbolic link/],
  ['absolute path beside the root', () => secret, /is outside the allowed roots \(/],
];

describe('server-filesystem behind a path guard', () => {
  it.each(escapes)('%s is refused, though the server itself serves it', async (_name, value, reason) => {
    const guarded: any = await client.callTool({ name: 'fs__read_text_file', arguments: { path: value() } });
    expect(guarded.isError).toBe(true);
    expect(textOf(guarded)).toMatch(reason);
    expect(textOf(guarded)).toMatch(
      /^Refused by the gateway: argument "path" .* \(path guard upstreams\.fs\.tools\.guards\.read_text_file\.path\)$/,
    );
    expect(textOf(guarded)).not.toContain(SECRET);
    const open: any = await client.callTool({ name: 'fsopen__read_text_file', arguments: { path: value() } });
    expect(open.isError).toBeFalsy();
    expect(textOf(open)).toContain(SECRET);
  });

  it.each([
    [
      'encoded traversal (a literal name that does not exist)',
      () => `${share}/%2e%2e/private/secret.txt`,
      /does not exist/,
    ],
    ['a FIFO', () => `${share}/fifo`, /is a special file/],
    ['a relative path', () => 'ok.txt', /must be an absolute path/],
    ['a null byte', () => `${share}/ok.txt\0/../../private/secret.txt`, /null byte/],
    ['a number', () => 42 as unknown as string, /must be a string/],
  ])('%s is refused', async (_name, value, reason) => {
    const result: any = await client.callTool({ name: 'fs__read_text_file', arguments: { path: value() } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(reason);
  });

  it('a path inside the root passes and the server answers', async () => {
    const result: any = await client.callTool({
      name: 'fs__read_text_file',
      arguments: { path: path.join(share, 'ok.txt') },
    });
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toContain('shared text');
  });

  it('read_multiple_files: every item of paths is checked', async () => {
    const refused: any = await client.callTool({
      name: 'fs__read_multiple_files',
      arguments: { paths: [path.join(share, 'ok.txt'), secret] },
    });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(
      /^Refused by the gateway: argument "paths" item 1 is outside the allowed roots/,
    );
    expect(textOf(refused)).not.toContain('shared text');
    const ok: any = await client.callTool({
      name: 'fs__read_multiple_files',
      arguments: { paths: [path.join(share, 'ok.txt')] },
    });
    expect(textOf(ok)).toContain('shared text');
  });

  it('write_file: a new file inside the root is written; one outside is refused and never created', async () => {
    const outside = path.join(tmp.dir, 'private', 'planted.txt');
    const viaLink = path.join(share, 'link-out', 'planted2.txt');
    for (const target of [outside, viaLink, `${share}/../private/planted3.txt`]) {
      const result: any = await client.callTool({
        name: 'fs__write_file',
        arguments: { path: target, content: 'planted' },
      });
      expect(result.isError, target).toBe(true);
      expect(textOf(result)).toMatch(/argument "path" is outside the allowed roots/);
    }
    expect(existsSync(outside)).toBe(false);
    expect(existsSync(path.join(tmp.dir, 'private', 'planted2.txt'))).toBe(false);
    expect(existsSync(path.join(tmp.dir, 'private', 'planted3.txt'))).toBe(false);
    const inside = path.join(share, 'new.txt');
    const written: any = await client.callTool({
      name: 'fs__write_file',
      arguments: { path: inside, content: 'new' },
    });
    expect(written.isError).toBeFalsy();
    expect(existsSync(inside)).toBe(true);
    // The unguarded twin would have written outside: the gateway is what stopped it.
    const open: any = await client.callTool({
      name: 'fsopen__write_file',
      arguments: { path: outside, content: 'x' },
    });
    expect(open.isError).toBeFalsy();
    expect(existsSync(outside)).toBe(true);
  });
});
