// Attack table for the project server's guards: every escape from the root is refused with an isError
// result (or a resource error) that leaks nothing from outside, and a catastrophic regex cannot hang it.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectInProcess, text, type Connected } from './helpers.js';
import { makeProjectTree, SECRET } from './project-tree.js';

const tree = makeProjectTree();
let c: Connected;
beforeAll(async () => {
  c = await connectInProcess('project', {
    root: tree.root,
    test_command: [process.execPath, '-e', 'console.log(process.argv.slice(1))'],
  });
});
afterAll(async () => {
  await c?.close();
  tree.cleanup();
});

const outside = () => path.join(tree.dir, 'outside', 'secret.txt');
const sibling = () => path.join(tree.dir, 'root2', 'secret.txt');

const pathAttacks: [string, () => string, RegExp][] = [
  ['parent traversal', () => '../outside/secret.txt', /outside the root/],
  ['traversal after a real folder', () => 'src/../../outside/secret.txt', /outside the root/],
  ['absolute path outside', () => outside(), /outside the root/],
  ['/etc/passwd', () => '/etc/passwd', /outside the root/],
  ['prefix collision root2/ (relative)', () => '../root2/secret.txt', /outside the root/],
  ['prefix collision root2/ (absolute)', () => sibling(), /outside the root/],
  [
    'symlink to a file outside',
    () => 'link-file',
    /outside the root \(it resolves through a symbolic link\)/,
  ],
  [
    'symlink to a folder outside',
    () => 'link-out/secret.txt',
    /outside the root \(it resolves through a symbolic link\)/,
  ],
  ['null byte', () => 'src/app.ts\0../../outside/secret.txt', /null byte/],
  ['encoded traversal is a literal name, not decoded', () => '%2e%2e/outside/secret.txt', /not found/],
  ['FIFO', () => 'fifo', /special file/],
];

describe('read_file refuses every escape', () => {
  it.each(pathAttacks)('%s', async (_name, arg, message) => {
    const result = await c.client.callTool({ name: 'read_file', arguments: { file_path: arg() } });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(message);
    expect(text(result)).not.toContain(SECRET);
  });
});

describe('list_directory and run_tests refuse paths outside the root', () => {
  it.each([['..'], ['link-out'], ['../root2'], [path.join(tree.dir, 'root2')]])(
    'list_directory %s',
    async (dir) => {
      const result = await c.client.callTool({ name: 'list_directory', arguments: { dir_path: dir } });
      expect(result.isError).toBe(true);
      expect(text(result)).toMatch(/outside the root/);
      expect(text(result)).not.toContain('secret.txt');
    },
  );

  it.each([['../outside'], ['link-out'], ['fifo']])('run_tests test_path %s', async (testPath) => {
    const result = await c.client.callTool({ name: 'run_tests', arguments: { test_path: testPath } });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/outside the root|special file/);
  });
});

describe('project://file/{+path} refuses every escape', () => {
  it.each([
    ['encoded traversal', 'project://file/..%2Foutside%2Fsecret.txt', /outside the root/],
    // URL parsing removes an encoded dot segment, so this asks for root/outside/secret.txt: not there.
    ['encoded dots', 'project://file/%2e%2e/outside/secret.txt', /not found/],
    [
      'double-encoded traversal stays literal',
      'project://file/%252e%252e%252Foutside%252Fsecret.txt',
      /not found/,
    ],
    ['prefix collision', 'project://file/..%2Froot2%2Fsecret.txt', /outside the root/],
    ['symlink escape', 'project://file/link-out/secret.txt', /symbolic link/],
    ['encoded null byte', 'project://file/src%2Fapp.ts%00.md', /null byte/],
    ['malformed encoding', 'project://file/%E0%A4%A', /malformed/],
    ['FIFO', 'project://file/fifo', /special file/],
  ])('%s', async (_name, uri, message) => {
    const read = c.client.readResource({ uri });
    await expect(read).rejects.toThrow(message);
    await read.catch((err: Error) => expect(err.message).not.toContain(SECRET));
  });
});

describe('search_codebase', () => {
  it('matches a catastrophic-backtracking pattern in linear time', async () => {
    const started = Date.now();
    const result = await c.client.callTool({
      name: 'search_codebase',
      arguments: { pattern: '^(a+)+$', file_glob: 'redos.txt' },
    });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(result.isError).toBeFalsy();
    expect(text(result)).toMatch(/^no matches/);
  });

  it('never searches through symlinks, so nothing outside the root is found', async () => {
    const result = await c.client.callTool({ name: 'search_codebase', arguments: { pattern: SECRET } });
    expect(text(result)).toMatch(/^no matches/);
  });

  it('refuses an over-long pattern', async () => {
    const result = await c.client.callTool({
      name: 'search_codebase',
      arguments: { pattern: 'a'.repeat(1001) },
    });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/longer than 1000/);
  });
});
