// The merged catalogue: tools, prompts, resources and templates of every live upstream, named and routed.
import { describe, expect, it } from 'vitest';
import { basicStdio, startGateway, startHttpFixture } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';

const h = useHarness();

describe('merged catalogue', () => {
  it('lists the tools of a stdio and an HTTP upstream under <upstream>__<name> and calls each', async () => {
    const http = await startHttpFixture('beta');
    h.defer(http.stop);
    const gw = await h.gateway({ upstreams: { alpha: basicStdio('alpha'), beta: { url: http.url } } });
    const client = await h.client(gw);
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toContain('alpha__echo');
    expect(names).toContain('beta__echo');
    expect(tools.find((t) => t.name === 'beta__echo')?.description).toBe('Echoes text (beta)');
    const a = await client.callTool({ name: 'alpha__whoami', arguments: {} });
    const b = await client.callTool({ name: 'beta__whoami', arguments: {} });
    expect(a.content).toEqual([{ type: 'text', text: 'alpha' }]);
    expect(b.content).toEqual([{ type: 'text', text: 'beta' }]);
  });
});

describe('names and collisions', () => {
  it('follows paginated upstream lists to the end', async () => {
    const gw = await h.gateway({ upstreams: { paged: basicStdio('paged', ['--page-size', '2']) } });
    const client = await h.client(gw);
    const { tools, nextCursor } = await client.listTools();
    expect(nextCursor).toBeUndefined();
    expect(tools).toHaveLength(15);
    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri)).toEqual(['paged://static/info', 'shared://common']);
  });

  it('uses the configured separator and prefix, and publishes unprefixed names with prefix ""', async () => {
    const gw = await h.gateway({
      namespace: { separator: '.' },
      upstreams: {
        one: { ...basicStdio('one'), prefix: 'x' },
        two: { ...basicStdio('two'), prefix: '', tools: { allow: ['echo'] } },
      },
    });
    const client = await h.client(gw);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('x.echo');
    expect(names).toContain('echo');
    expect(names).not.toContain('add');
    const prompts = (await client.listPrompts()).prompts.map((p) => p.name);
    expect(prompts.sort()).toEqual(['greet', 'x.greet']);
  });

  it('refuses to start when two unprefixed upstreams publish the same tool, naming both', async () => {
    await expect(
      startGateway({
        upstreams: { one: { ...basicStdio('one'), prefix: '' }, two: { ...basicStdio('two'), prefix: '' } },
      }),
    ).rejects.toMatchObject({
      kind: 'config',
      message: expect.stringMatching(/"echo" is published by both "one" and "two"/),
    });
  });

  it('hides tools outside allow and inside deny, in lists and in calls', async () => {
    const gw = await h.gateway({
      upstreams: { a: { ...basicStdio('a'), tools: { deny: ['ech*', 'crash'] } } },
    });
    const client = await h.client(gw);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).not.toContain('a__echo');
    expect(names).not.toContain('a__crash');
    expect(names).toContain('a__add');
    await expect(client.callTool({ name: 'a__echo', arguments: { text: 'x' } })).rejects.toMatchObject({
      code: -32602,
    });
  });

  it('shortens names over 64 characters deterministically and still routes them', async () => {
    const longPrefix = 'p'.repeat(60);
    const gw = await h.gateway({ upstreams: { long: { ...basicStdio('long'), prefix: longPrefix } } });
    const client = await h.client(gw);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names.every((n) => n.length <= 64)).toBe(true);
    expect(new Set(names).size).toBe(names.length);
    const { publicName } = await import('../../src/gateway/catalog/names.js');
    const { createHash } = await import('node:crypto');
    const hash = createHash('sha256').update(`${longPrefix}__whoami`).digest('hex').slice(0, 8);
    expect(publicName(longPrefix, '__', 'whoami')).toBe(`${'p'.repeat(55)}_${hash}`);
    expect(names).toContain(`${'p'.repeat(55)}_${hash}`);
    const result = await client.callTool({ name: publicName(longPrefix, '__', 'whoami'), arguments: {} });
    expect(result.content).toEqual([{ type: 'text', text: 'long' }]);
  });
});

describe('resources', () => {
  it('publishes unique URIs unchanged, rewrites colliding ones reversibly, and reads every listed URI back', async () => {
    const gw = await h.gateway({ upstreams: { a: basicStdio('a'), b: basicStdio('b') } });
    const client = await h.client(gw);
    const { resources } = await client.listResources();
    const uris = resources.map((r) => r.uri);
    expect(uris).toContain('a://static/info');
    expect(uris).toContain('b://static/info');
    expect(uris).not.toContain('shared://common');
    const rewritten = uris.filter((u) => u.startsWith('switchboard://'));
    expect(rewritten).toHaveLength(2);
    for (const uri of uris) {
      const read = await client.readResource({ uri });
      expect(read.contents[0].uri).toBe(uri);
    }
    const fromB = await client.readResource({
      uri: rewritten.find((u) => u.startsWith('switchboard://b/'))!,
    });
    expect(fromB.contents[0]).toMatchObject({ text: 'b:shared://common' });
  });

  it('reads expanded templates and links returned inside tool results through the gateway', async () => {
    const gw = await h.gateway({ upstreams: { a: basicStdio('a'), b: basicStdio('b') } });
    const client = await h.client(gw);
    const { resourceTemplates } = await client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate).sort()).toEqual(['a://items/{id}', 'b://items/{id}']);
    expect((await client.readResource({ uri: 'b://items/42' })).contents[0]).toMatchObject({ text: 'b:42' });
    const result = await client.callTool({ name: 'a__all_content', arguments: {} });
    const content = result.content as any[];
    const embedded = content.find((c) => c.type === 'resource');
    expect(embedded.resource.uri).toMatch(/^switchboard:\/\/a\//);
    const link = content.find((c) => c.type === 'resource_link');
    expect((await client.readResource({ uri: link.uri })).contents[0]).toMatchObject({
      text: 'a:a://static/info',
    });
    expect((await client.readResource({ uri: embedded.resource.uri })).contents[0]).toMatchObject({
      text: 'a:shared://common',
    });
  });

  it('answers an unknown resource URI with a clear not-found error', async () => {
    const gw = await h.gateway({ upstreams: { a: basicStdio('a') } });
    const client = await h.client(gw);
    await expect(client.readResource({ uri: 'nowhere://x' })).rejects.toMatchObject({ code: -32602 });
  });
});

describe('list_changed', () => {
  it('refreshes the merged list when an upstream announces a change, and tells connected clients', async () => {
    const gw = await h.gateway({ upstreams: { a: basicStdio('a') } });
    const client = await h.client(gw);
    let notified = 0;
    client.setNotificationHandler(
      (await import('@modelcontextprotocol/sdk/types.js')).ToolListChangedNotificationSchema,
      () => void notified++,
    );
    // The GET stream carries notifications that belong to no request; give it a moment to open.
    await new Promise((r) => setTimeout(r, 200));
    await client.callTool({ name: 'a__add_tool', arguments: { name: 'fresh' } });
    const { waitFor } = await import('../helpers/gateway.js');
    await waitFor(() => notified > 0);
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('a__fresh');
  });
});

describe('legacy SSE upstreams', () => {
  it('falls back to the legacy SSE transport when the server only speaks that (server-everything sse)', async () => {
    const { spawn } = await import('node:child_process');
    const { createRequire } = await import('node:module');
    const { waitFor } = await import('../helpers/gateway.js');
    const entry = createRequire(import.meta.url).resolve(
      '@modelcontextprotocol/server-everything/dist/index.js',
    );
    const { createServer } = await import('node:net');
    const probe = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => probe.once('listening', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));
    const child = spawn(process.execPath, [entry, 'sse'], {
      env: { ...process.env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    h.defer(async () => void child.kill('SIGTERM'));
    let output = '';
    child.stdout!.on('data', (c) => (output += c));
    child.stderr!.on('data', (c) => (output += c));
    await waitFor(() => /running on port/i.test(output), 15_000);
    const gw = await h.gateway({ upstreams: { legacy: { url: `http://127.0.0.1:${port}/sse` } } });
    const client = await h.client(gw);
    expect(gw.app.runtime.upstream('legacy')!.state).toBe('ready');
    const result = await client.callTool({ name: 'legacy__echo', arguments: { message: 'over sse' } });
    expect(result.content).toEqual([{ type: 'text', text: 'Echo: over sse' }]);
  });
});
