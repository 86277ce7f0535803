// The path jail under races: a child process swaps a directory of the root for a symlink to a folder
// outside, back and forth, while every reading path of the project and docs servers runs in a loop.
// Nothing from outside (content or file names) may ever appear in a result.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { body, connectInProcess, tempDir, text, type Connected } from '../builtin-servers/helpers.js';

const MARK = 'TOPSECRET-7f3a'; // in the outside file's content and in an outside file's name
const RUN_MS = 3000;

const tmp = tempDir('sb-race-');
const root = path.join(tmp.dir, 'proj');
const outside = path.join(tmp.dir, 'outside');

// Renames `d` (a real folder) and `d_link` (a symlink to the outside folder) into each other's place as
// fast as it can, so any check-then-open by name is raced thousands of times per second.
const SWAPPER = `
const fs = require('node:fs');
process.chdir(process.argv[1]);
const end = Date.now() + Number(process.argv[2]);
let swaps = 0;
while (Date.now() < end) {
  try {
    fs.renameSync('d', 'd_real'); fs.renameSync('d_link', 'd');
    fs.renameSync('d', 'd_link'); fs.renameSync('d_real', 'd');
    swaps++;
  } catch {}
}
process.stdout.write(String(swaps));
`;

let project: Connected;
let docs: Connected;
let swapper: ChildProcess | undefined;

beforeAll(async () => {
  mkdirSync(path.join(root, 'd'), { recursive: true });
  mkdirSync(outside);
  // Same names inside and outside: a read that follows the swapped link finds a file where it looks.
  writeFileSync(path.join(root, 'd', 'note.md'), '# Inside\nharmless inside text\n');
  writeFileSync(path.join(outside, 'note.md'), `# Outside\n${MARK} outside content\n`);
  writeFileSync(path.join(outside, `${MARK}-name.md`), `${MARK}\n`);
  symlinkSync(outside, path.join(root, 'd_link'));
  project = await connectInProcess('project', { root });
  docs = await connectInProcess('docs', { root });
});

afterAll(async () => {
  if (swapper && swapper.exitCode === null) swapper.kill('SIGKILL');
  await project?.close();
  await docs?.close();
  tmp.cleanup();
});

/** Every way the two servers read the tree, each returning the text a client would see (or the error). */
const readers: [string, () => Promise<string>][] = [
  [
    'read_file',
    async () =>
      text(await project.client.callTool({ name: 'read_file', arguments: { file_path: 'd/note.md' } })),
  ],
  [
    'list_directory',
    async () => text(await project.client.callTool({ name: 'list_directory', arguments: { dir_path: 'd' } })),
  ],
  [
    'search_codebase',
    async () =>
      text(
        await project.client.callTool({
          name: 'search_codebase',
          arguments: { pattern: 'TOPSECRET|inside' },
        }),
      ),
  ],
  [
    'project://file',
    async () => body(await project.client.readResource({ uri: 'project://file/d/note.md' })),
  ],
  [
    'project://structure',
    async () => body(await project.client.readResource({ uri: 'project://structure' })),
  ],
  ['docs://', async () => body(await docs.client.readResource({ uri: 'docs://d/note.md' }))],
  [
    'search_documentation',
    async () =>
      JSON.stringify(
        await docs.client.callTool({
          name: 'search_documentation',
          arguments: { query: 'TOPSECRET outside inside' },
        }),
      ),
  ],
  ['docs resources/list', async () => JSON.stringify(await docs.client.listResources())],
];

describe('the path jail under a directory/symlink swapping race', () => {
  it('no reading path ever returns content or names from outside the root, while reads inside still succeed', async () => {
    swapper = spawn(process.execPath, ['-e', SWAPPER, root, String(RUN_MS)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let swaps = '';
    swapper.stdout!.on('data', (d: Buffer) => (swaps += d.toString()));
    const exited = new Promise((resolve) => swapper!.once('exit', resolve));
    const escapes: string[] = [];
    const insideReads = new Map<string, number>();
    const end = Date.now() + RUN_MS;
    await Promise.all(
      readers.map(async ([name, read]) => {
        while (Date.now() < end) {
          const out = await read().catch((err: Error) => err.message);
          if (out.includes(MARK)) escapes.push(`${name}: ${out.slice(0, 200)}`);
          else if (/inside|note\.md/i.test(out)) insideReads.set(name, (insideReads.get(name) ?? 0) + 1);
        }
      }),
    );
    await exited;
    expect(Number(swaps)).toBeGreaterThan(100); // the race really ran
    expect(escapes).toEqual([]);
    // Not vacuous: each path read the real inside files (or listed them) while the race ran.
    for (const [name] of readers) expect(insideReads.get(name) ?? 0, name).toBeGreaterThan(0);
  });
});
