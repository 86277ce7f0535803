// The `docs` built-in server: ranked full-text search, docs:// resources, an index that follows file
// changes without a restart, and URIs that cannot escape the folder.
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { body, connectInProcess, connectStdio, tempDir, text, type Connected } from './helpers.js';

const SECRET = 'xylophonequartz'; // one token that appears only outside the root
const tmp = tempDir('sb-docs-');
const root = path.join(tmp.dir, 'docs');
const write = (rel: string, body: string) => {
  mkdirSync(path.dirname(path.join(tmp.dir, rel)), { recursive: true });
  writeFileSync(path.join(tmp.dir, rel), body);
};
write('secret.md', `# Secret\n${SECRET}\n`);
write('docs2/secret.md', `# Sibling\n${SECRET}\n`);
write(
  'docs/getting-started.md',
  '# Getting started\n\nInstall with npm, then run the gateway with `switchboard serve`.\n',
);
write(
  'docs/configuration.md',
  '# Configuration\n\n## Upstreams\n\nEach upstream is a stdio command or an HTTP url. Policies filter tools.\n',
);
write(
  'docs/guides/policies.md',
  '# Policies\n\nA policy allows or denies tools. Rate limiting is a policy too.\n',
);
write('docs/notes.txt', 'Plain text notes about telemetry and metrics.\n');
write('docs/image.png', 'not a document');
symlinkSync(path.join(tmp.dir, 'secret.md'), path.join(root, 'leak.md'));
afterAll(() => tmp.cleanup());

type Hit = { uri: string; title: string; snippet: string };
const hits = (result: unknown) =>
  (result as { structuredContent: { results: Hit[] } }).structuredContent.results;

describe.each([
  ['in-process', () => connectInProcess('docs', { root: 'docs' }, tmp.dir)],
  ['stdio', () => connectStdio('docs', ['--root', root])],
])('docs server (%s)', (_mode, connect) => {
  let c: Connected;
  beforeAll(async () => {
    c = await connect();
  });
  afterAll(async () => c?.close());

  it('search_documentation ranks the best match first with title, snippet and docs:// URI', async () => {
    const result = await c.client.callTool({
      name: 'search_documentation',
      arguments: { query: 'policy tools' },
    });
    expect(result.isError).toBeFalsy();
    const found = hits(result);
    expect(found[0]).toMatchObject({ uri: 'docs://guides/policies.md', title: 'Policies' });
    expect(found[0].snippet).toContain('A policy allows or denies tools');
    expect(found.map((h) => h.uri)).toContain('docs://configuration.md');
    expect(text(result)).toMatch(/^1\. Policies \(docs:\/\/guides\/policies\.md, score [\d.]+\)/);
  });

  it('search_documentation matches prefixes and typos', async () => {
    expect(
      hits(await c.client.callTool({ name: 'search_documentation', arguments: { query: 'telem' } }))[0].uri,
    ).toBe('docs://notes.txt');
    expect(
      hits(await c.client.callTool({ name: 'search_documentation', arguments: { query: 'confguration' } }))[0]
        .uri,
    ).toBe('docs://configuration.md');
  });

  it('lists every document (not symlinks or other files) as a docs:// resource and reads it', async () => {
    const uris = (await c.client.listResources()).resources.map((r) => r.uri).sort();
    expect(uris).toEqual([
      'docs://configuration.md',
      'docs://getting-started.md',
      'docs://guides/policies.md',
      'docs://notes.txt',
    ]);
    const doc = await c.client.readResource({ uri: 'docs://guides/policies.md' });
    expect(body(doc)).toBe('# Policies\n\nA policy allows or denies tools. Rate limiting is a policy too.\n');
  });
});

describe('docs server index and guards', () => {
  let c: Connected;
  beforeAll(async () => {
    c = await connectInProcess('docs', { root });
  });
  afterAll(async () => c?.close());

  const search = async (query: string) =>
    hits(await c.client.callTool({ name: 'search_documentation', arguments: { query } }));

  it('follows added, changed and removed files without a restart', async () => {
    expect(await search('kubernetes')).toEqual([]);
    write('docs/deploy.md', '# Deploy\n\nRun it on Kubernetes.\n');
    expect((await search('kubernetes')).map((h) => h.uri)).toEqual(['docs://deploy.md']);
    write('docs/deploy.md', '# Deploy\n\nRun it with docker compose.\n');
    expect(await search('kubernetes')).toEqual([]);
    expect((await search('compose')).map((h) => h.uri)).toEqual(['docs://deploy.md']);
    rmSync(path.join(root, 'deploy.md'));
    expect(await search('compose')).toEqual([]);
  });

  it.each([
    ['traversal', 'docs://..%2Fsecret.md', /outside the root/],
    ['prefix sibling docs2/', 'docs://..%2Fdocs2%2Fsecret.md', /outside the root/],
    ['symlink escape', 'docs://leak.md', /symbolic link/],
    ['null byte', 'docs://configuration.md%00.png', /null byte/],
    ['not a document', 'docs://image.png', /not a document/],
  ])('refuses %s without leaking', async (_name, uri, message) => {
    const read = c.client.readResource({ uri });
    await expect(read).rejects.toThrow(message);
    await read.catch((err: Error) => expect(err.message).not.toContain(SECRET));
  });

  it('never indexes what lies outside the root', async () => {
    expect(await search(SECRET)).toEqual([]);
  });
});
