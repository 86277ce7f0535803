// Start-up errors of the built-in servers say what is wrong: a project or docs root of `/` or the home
// folder needs allow_broad_root (by any spelling: relative, through a symlink), and a missing or unreadable
// SQLite file is named. Through the gateway the reason is the upstream's error, and the others keep serving.
import { execFile } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { connectInProcess, connectStdio, tempDir } from '../builtin-servers/helpers.js';
import { connectClient, startGateway } from '../helpers/gateway.js';

const tmp = tempDir('sb-cfg-');
afterAll(() => tmp.cleanup());
const home = os.homedir();
const depth = tmp.dir.split(path.sep).length; // enough `..` to reach `/` from the temp folder
const BROAD =
  /is (the whole file system|your home folder), which exposes every file in it.*set allow_broad_root: true/;

describe('a broad root needs allow_broad_root', () => {
  const roots: [string, () => string, string][] = [
    ['/', () => '/', 'the whole file system'],
    ['the home folder', () => home, 'your home folder'],
    ['/ spelled relatively', () => '../'.repeat(depth), 'the whole file system'],
    ['/ spelled with a trailing /. ', () => '/./', 'the whole file system'],
    [
      'the home folder through a symlink',
      () => {
        const link = path.join(tmp.dir, 'home-link');
        symlinkSync(home, link);
        return link;
      },
      'your home folder',
    ],
  ];

  it.each(roots)('project with root %s is refused, naming the option', async (_name, root, what) => {
    await expect(connectInProcess('project', { root: root() }, tmp.dir)).rejects.toThrow(
      new RegExp(`project: root .* is ${what}.*allow_broad_root: true`),
    );
  });

  it('docs with root / is refused the same way', async () => {
    await expect(connectInProcess('docs', { root: '/' }, tmp.dir)).rejects.toThrow(BROAD);
  });

  it('allow_broad_root: true serves the home folder', async () => {
    const c = await connectInProcess('project', { root: home, allow_broad_root: true });
    try {
      expect((await c.client.listTools()).tools.map((t) => t.name)).toContain('read_file');
    } finally {
      await c.close();
    }
  });

  it('a folder inside the home folder needs no opt-in', async () => {
    const c = await connectInProcess('project', { root: tmp.dir });
    await c.close();
  });

  it('standalone: --root / fails with the message, --allow-broad-root true serves', async () => {
    const runner = fileURLToPath(new URL('../fixtures/builtin/run-builtin.ts', import.meta.url));
    const failed = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', runner, 'project', '--root', '/'],
      { timeout: 20_000 },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
    );
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toMatch(BROAD);
    const c = await connectStdio('project', ['--root', '/', '--allow-broad-root', 'true']);
    try {
      expect((await c.client.listTools()).tools.length).toBeGreaterThan(0);
    } finally {
      await c.close();
    }
  });
});

describe('a SQLite file that cannot be opened is named', () => {
  it('a missing file names the resolved path and the url', async () => {
    await expect(connectInProcess('sql', { url: 'sqlite:nope/missing.db' }, tmp.dir)).rejects.toThrow(
      `sql: SQLite database file ${path.join(tmp.dir, 'nope/missing.db')} does not exist (url: sqlite:nope/missing.db)`,
    );
  });

  it('a folder is not a database file', async () => {
    mkdirSync(path.join(tmp.dir, 'folder.db'));
    await expect(connectInProcess('sql', { url: 'sqlite:folder.db' }, tmp.dir)).rejects.toThrow(
      `sql: SQLite database ${path.join(tmp.dir, 'folder.db')} is not a file`,
    );
  });

  it('a file that is not a database says so, not a worker exit with a Node version line', async () => {
    writeFileSync(
      path.join(tmp.dir, 'junk.db'),
      'this is not a database, just text that is long enough to be read\n'.repeat(100),
    );
    const err = await connectInProcess('sql', { url: 'sqlite:junk.db' }, tmp.dir).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toBe(
      `sql: could not open SQLite database ${path.join(tmp.dir, 'junk.db')}: file is not a database`,
    );
  });
});

describe('through the gateway', () => {
  it("the reasons are the upstreams' errors in /readyz, and a good upstream keeps serving", async () => {
    const gw = await startGateway({
      upstreams: {
        everything: { builtin: 'project', root: '/' },
        db: { builtin: 'sql', url: `sqlite:${path.join(tmp.dir, 'gone.db')}` },
        good: { builtin: 'project', root: tmp.dir },
      },
    });
    try {
      const ready = (await (await fetch(gw.url.replace(/\/mcp$/, '/readyz'))).json()) as {
        upstreams: Record<string, { state: string; error?: string }>;
      };
      expect(ready.upstreams.everything).toMatchObject({
        state: 'down',
        error: expect.stringMatching(BROAD),
      });
      expect(ready.upstreams.db).toMatchObject({
        state: 'down',
        error: expect.stringContaining(
          `SQLite database file ${path.join(tmp.dir, 'gone.db')} does not exist`,
        ),
      });
      const client = await connectClient(gw.url);
      const result = await client.callTool({ name: 'good__list_directory', arguments: {} });
      expect(result.isError).toBeFalsy();
      await client.close();
    } finally {
      await gw.close();
    }
  });
});
