// The `project` built-in server: every tool, resource and prompt, in-process and alone over stdio.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { body, connectInProcess, connectStdio, text, type Connected } from './helpers.js';
import { makeProjectTree } from './project-tree.js';

const tree = makeProjectTree();
afterAll(() => tree.cleanup());

const echoTests = [
  process.execPath,
  '-e',
  'console.log("tests ran with", JSON.stringify(process.argv.slice(1)))',
];

describe.each([
  [
    'in-process',
    () => connectInProcess('project', { root: 'root', test_command: echoTests }, path.dirname(tree.root)),
  ],
  [
    'stdio',
    () =>
      connectStdio('project', [
        '--root',
        tree.root,
        '--test-command',
        echoTests.map((a) => JSON.stringify(a)).join(' '),
      ]),
  ],
])('project server (%s)', (_mode, connect) => {
  let c: Connected;
  beforeAll(async () => {
    c = await connect();
  });
  afterAll(async () => c?.close());

  it('lists its four tools, four resources/templates and three prompts', async () => {
    const tools = (await c.client.listTools()).tools.map((t) => t.name).sort();
    expect(tools).toEqual(['list_directory', 'read_file', 'run_tests', 'search_codebase']);
    const resources = (await c.client.listResources()).resources.map((r) => r.uri).sort();
    expect(resources).toEqual(['project://dependencies', 'project://readme', 'project://structure']);
    const templates = (await c.client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
    expect(templates).toEqual(['project://file/{+path}']);
    const prompts = (await c.client.listPrompts()).prompts.map((p) => p.name).sort();
    expect(prompts).toEqual(['code_review', 'debug_error', 'investigate_bug']);
  });

  it('search_codebase returns path:line: text and skips .gitignored files (nested rules too)', async () => {
    const result = await c.client.callTool({
      name: 'search_codebase',
      arguments: { pattern: 'function greet' },
    });
    expect(result.isError).toBeFalsy();
    expect(text(result)).toBe('src/app.ts:1: export function greet(name: string) {');
  });

  it('search_codebase filters by file_glob and says when results were cut', async () => {
    const globbed = await c.client.callTool({
      name: 'search_codebase',
      arguments: { pattern: 'export', file_glob: 'src/util/*.ts' },
    });
    expect(text(globbed)).toBe('src/util/strings.ts:2: export const shout = (s: string) => s.toUpperCase();');
    const cut = await c.client.callTool({
      name: 'search_codebase',
      arguments: { pattern: 'export', max_results: 2 },
    });
    const lines = text(cut).split('\n');
    expect(lines.slice(0, 2)).toEqual([
      'src/app.ts:1: export function greet(name: string) {',
      'src/app.ts:5: export const answer = 42;',
    ]);
    expect(lines[2]).toMatch(/results cut at 2 matches/);
  });

  it('search_codebase reports an invalid pattern as an isError result', async () => {
    const result = await c.client.callTool({ name: 'search_codebase', arguments: { pattern: '(unclosed' } });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/invalid regular expression/);
  });

  it('read_file returns numbered lines, whole or a range', async () => {
    const whole = await c.client.callTool({ name: 'read_file', arguments: { file_path: 'src/app.ts' } });
    expect(text(whole)).toBe(
      'src/app.ts (lines 1-5 of 5)\n1  export function greet(name: string) {\n2    return `hello ${name}`;\n3  }\n4  \n5  export const answer = 42;',
    );
    const range = await c.client.callTool({
      name: 'read_file',
      arguments: { file_path: 'src/app.ts', start_line: 2, end_line: 3 },
    });
    expect(text(range)).toBe('src/app.ts (lines 2-3 of 5)\n2    return `hello ${name}`;\n3  }');
  });

  it('read_file follows a symlink that stays inside the root', async () => {
    const result = await c.client.callTool({
      name: 'read_file',
      arguments: { file_path: 'link-inside.ts', end_line: 1 },
    });
    expect(text(result)).toBe('src/app.ts (lines 1-1 of 5)\n1  export function greet(name: string) {');
  });

  it('list_directory lists sub-directories first, marking symlinks with @', async () => {
    const root = await c.client.callTool({ name: 'list_directory', arguments: {} });
    // The FIFO is not listed: special files are never offered.
    expect(text(root).split('\n')).toEqual([
      './',
      'ignored/',
      'src/',
      '-dash.test.txt',
      '.gitignore',
      'README.md',
      'debug.log',
      'link-file@',
      'link-inside.ts@',
      'link-out@',
      'package.json',
      'redos.txt',
      'requirements.txt',
    ]);
    const sub = await c.client.callTool({ name: 'list_directory', arguments: { dir_path: 'src' } });
    expect(text(sub)).toBe('src/\nnested/\nutil/\napp.ts');
  });

  it('run_tests runs the configured argument vector, appending the test path', async () => {
    const result = await c.client.callTool({ name: 'run_tests', arguments: { test_path: 'src/app.ts' } });
    expect(result.isError).toBeFalsy();
    expect(text(result)).toMatch(/passed \(exit code 0\)/);
    expect(text(result)).toContain('tests ran with ["src/app.ts"]');
    expect(result.structuredContent).toMatchObject({ exit_code: 0, passed: true, timed_out: false });
  });

  it('run_tests passes a path starting with a dash as ./path, never as an option', async () => {
    const result = await c.client.callTool({ name: 'run_tests', arguments: { test_path: '-dash.test.txt' } });
    expect(text(result)).toContain('tests ran with ["./-dash.test.txt"]');
  });

  it('the readme, structure and dependencies resources describe the tree', async () => {
    const readme = await c.client.readResource({ uri: 'project://readme' });
    expect(readme.contents[0]).toMatchObject({
      uri: 'project://readme',
      text: '# Demo project\n\nA tree for tests.\n',
    });
    const structure = body(await c.client.readResource({ uri: 'project://structure' }));
    expect(structure.split('\n').slice(1)).toEqual([
      '  -dash.test.txt',
      '  .gitignore',
      '  README.md',
      '  package.json',
      '  redos.txt',
      '  requirements.txt',
      '  src/',
      '    app.ts',
      '    nested/',
      '      .gitignore',
      '      kept.ts',
      '    util/',
      '      strings.ts',
    ]);
    const deps = body(await c.client.readResource({ uri: 'project://dependencies' }));
    expect(deps).toContain('==> package.json <==\n{ "name": "demo"');
    expect(deps).toContain('==> requirements.txt <==\nrequests==2.32.0');
    expect(deps).not.toContain('go.mod');
  });

  it('the file template reads a path with slashes, plain or percent-encoded', async () => {
    const plain = await c.client.readResource({ uri: 'project://file/src/util/strings.ts' });
    expect(body(plain)).toBe('// helpers\nexport const shout = (s: string) => s.toUpperCase();\n');
    const encoded = await c.client.readResource({ uri: 'project://file/src%2Futil%2Fstrings.ts' });
    expect(body(encoded)).toBe(body(plain));
  });

  it('the prompts name the tools the model should use', async () => {
    const review = await c.client.getPrompt({ name: 'code_review', arguments: { file_path: 'src/app.ts' } });
    const reviewText = (review.messages[0].content as { text: string }).text;
    expect(reviewText).toContain('src/app.ts');
    for (const tool of ['read_file', 'search_codebase', 'run_tests']) expect(reviewText).toContain(tool);
    const bug = await c.client.getPrompt({
      name: 'investigate_bug',
      arguments: { description: 'greet prints undefined' },
    });
    expect((bug.messages[0].content as { text: string }).text).toMatch(
      /greet prints undefined[\s\S]*search_codebase[\s\S]*read_file/,
    );
    const err = await c.client.getPrompt({
      name: 'debug_error',
      arguments: { error_message: 'TypeError: x', stack_trace: 'at greet (src/app.ts:2:3)' },
    });
    const errText = (err.messages[0].content as { text: string }).text;
    expect(errText).toContain('at greet (src/app.ts:2:3)');
    expect(errText).toContain('start_line/end_line');
  });
});

describe('project server options', () => {
  it('run_tests does not exist unless a test command is configured', async () => {
    const c = await connectInProcess('project', { root: tree.root });
    try {
      expect((await c.client.listTools()).tools.map((t) => t.name)).not.toContain('run_tests');
    } finally {
      await c.close();
    }
  });

  it('run_tests kills a test command that outlives its timeout', async () => {
    const c = await connectInProcess('project', {
      root: tree.root,
      test_command: [process.execPath, '-e', 'console.log("started"); setTimeout(() => {}, 60000)'],
      test_timeout_ms: 500,
    });
    try {
      const started = Date.now();
      const result = await c.client.callTool({ name: 'run_tests', arguments: {} });
      expect(Date.now() - started).toBeLessThan(5000);
      expect(text(result)).toMatch(/timed out after 500 ms/);
      expect(result.structuredContent).toMatchObject({ timed_out: true, passed: false });
    } finally {
      await c.close();
    }
  });

  it('a missing root fails at creation with a clear message', async () => {
    await expect(connectInProcess('project', { root: 'no-such-dir' }, tree.dir)).rejects.toThrow(
      /root .*no-such-dir does not exist/,
    );
  });

  it('unknown option keys are rejected', async () => {
    await expect(() => connectInProcess('project', { root: '.', rot: 'x' })).rejects.toThrow(/rot/);
  });
});
