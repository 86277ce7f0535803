// Host config shapes and their edges, parsed: the aliases (servers, mcpServers, serverUrl, disabled), VS Code's
// variables and JSONC, env files, and the exact message for each way to get them wrong.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configWarnings, loadConfig, parseConfig } from '../../src/gateway/config.js';
import { makeTempDir } from '../helpers/harness.js';

const dir = makeTempDir('switchboard-shapes-');
const env = { HOME: '/home/someone', TOKEN: 't0k' };

/** The message parseConfig throws for `raw`, without the source prefix. */
function refusal(raw: unknown): string {
  try {
    parseConfig(raw, { env, baseDir: dir });
  } catch (error) {
    expect(error).toMatchObject({ kind: 'config' });
    return (error as Error).message.replace(/^config: /, '');
  }
  throw new Error('accepted');
}

describe('aliases of host shapes', () => {
  it('servers: (VS Code) and mcpServers: (Claude, Cursor, Windsurf) become upstreams', () => {
    for (const key of ['servers', 'mcpServers']) {
      const config = parseConfig({ [key]: { a: { type: 'stdio', command: 'node' } } }, { env });
      expect(Object.keys(config.upstreams)).toEqual(['a']);
    }
  });

  it('messages name the key as the file spells it', () => {
    expect(refusal({ servers: { a: { type: 'stdio', comand: 'node' } } })).toBe(
      'servers.a.comand: unknown key; servers.a: an upstream needs one of command (stdio), url (HTTP) or builtin',
    );
    expect(refusal({ mcpServers: { a: { command: 'node', timeout: 5 } } })).toBe(
      'mcpServers.a.timeout: a duration needs a unit: write 5s for seconds or 5ms for milliseconds',
    );
  });

  it('inputs: is ignored beside servers:, but unknown in our own shape', () => {
    expect(() => parseConfig({ servers: {}, inputs: [{ id: 'x', type: 'promptString' }] })).not.toThrow();
    expect(refusal({ upstreams: {}, inputs: [] })).toBe('inputs: unknown key');
  });

  it('serverUrl is url; disabled: true is enabled: false; both forms at once are refused', () => {
    const config = parseConfig({
      mcpServers: {
        r: { serverUrl: 'http://127.0.0.1:1/mcp' },
        off: { command: 'node', disabled: true },
        on: { command: 'node', disabled: false },
      },
    });
    expect(config.upstreams.r).toMatchObject({ url: 'http://127.0.0.1:1/mcp' });
    expect(config.upstreams.off.enabled).toBe(false);
    expect(config.upstreams.on.enabled).toBe(true);
    expect(refusal({ mcpServers: { x: { command: 'node', disabled: true, enabled: true } } })).toBe(
      'mcpServers.x.disabled: give either enabled or disabled, not both',
    );
    expect(refusal({ mcpServers: { x: { command: 'node', disabled: 'yes' } } })).toBe(
      'mcpServers.x.disabled: expected boolean, got string',
    );
    expect(refusal({ mcpServers: { x: { serverUrl: 'ftp://a/b' } } })).toMatch(/^mcpServers\.x\.url: /);
  });

  it('three upstream keys at once name the first two', () => {
    expect(refusal({ upstreams: {}, mcpServers: {}, servers: {} })).toBe(
      'mcpServers: give either upstreams or mcpServers, not both',
    );
  });
});

describe('variables', () => {
  it('${env:NAME} is ${NAME}; ${userHome} is HOME; $${ stays literal', () => {
    const config = parseConfig(
      {
        upstreams: {
          a: { command: 'node', args: ['${env:TOKEN}', '${TOKEN}', '${userHome}/x', '$${input:k}'] },
        },
      },
      { env },
    );
    expect(config.upstreams.a).toMatchObject({ args: ['t0k', 't0k', '/home/someone/x', '${input:k}'] });
    expect(refusal({ upstreams: { a: { command: 'node', args: ['${env:NOPE}'] } } })).toBe(
      'upstreams.a.args.0: environment variable NOPE is not set',
    );
  });

  it('${input:...} is refused wherever it appears, naming that key', () => {
    expect(
      refusal({ servers: { a: { type: 'stdio', command: 'node', args: ['x', '--key=${input:k}'] } } }),
    ).toBe(
      'servers.a.args.1: ${input:k} (a VS Code prompted input) is not supported; ' +
        'put the secret in an environment variable and write ${NAME}, or set it in env',
    );
    expect(refusal({ listen: { host: '${input:host}' } })).toMatch(
      /^listen\.host: \$\{input:host\} \(a VS Code/,
    );
  });

  it('${workspaceFolder} is the folder holding .vscode/ or .cursor/, else the config file folder', () => {
    const project = path.join(dir, 'project');
    for (const sub of ['.vscode', '.cursor', 'plain']) {
      mkdirSync(path.join(project, sub), { recursive: true });
      const file = path.join(project, sub, 'mcp.json');
      writeFileSync(
        file,
        JSON.stringify({ servers: { a: { command: 'node', args: ['${workspaceFolder}'] } } }),
      );
      const expected = sub === 'plain' ? path.join(project, sub) : project;
      expect(loadConfig(file, env).upstreams.a).toMatchObject({ args: [expected] });
    }
  });
});

describe('files as hosts write them', () => {
  it('reads JSON with comments and trailing commas (JSONC), keeping // and /* inside strings', () => {
    const file = path.join(dir, 'jsonc.json');
    writeFileSync(
      file,
      '{\n  // comment, with "quotes"\n  "servers": { /* block */ "a": { "type": "http", "url": "http://h/a//b/*c*/", },\n  },\n}\n',
    );
    expect(loadConfig(file, env).upstreams.a).toMatchObject({ url: 'http://h/a//b/*c*/' });
  });

  it('a JSON syntax error in a file with comments is still reported as one, with the file named', () => {
    const file = path.join(dir, 'broken.json');
    writeFileSync(file, '{\n  // one\n  /* two\n  three */\n  "servers": { "a": }\n}\n');
    expect(() => loadConfig(file, env)).toThrow(`${file}: not valid JSON: Unexpected token '}'`);
  });

  it('envFile: KEY=value lines reach the server env; env wins; a bad line is named', () => {
    const envFile = path.join(dir, 'a.env');
    writeFileSync(envFile, '# c\nexport A=1\nB="two words"\nC=kept # note\nD=from-file\n\n');
    const config = parseConfig(
      { upstreams: { a: { command: 'node', envFile: 'a.env', env: { D: 'from-env' } } } },
      { env, baseDir: dir },
    );
    expect(config.upstreams.a).toMatchObject({ env: { A: '1', B: 'two words', C: 'kept', D: 'from-env' } });
    writeFileSync(path.join(dir, 'bad.env'), 'A=1\nnot a pair\n');
    expect(refusal({ upstreams: { a: { command: 'node', envFile: 'bad.env' } } })).toBe(
      `upstreams.a.envFile: ${path.join(dir, 'bad.env')} line 2 is not KEY=value`,
    );
    expect(refusal({ upstreams: { a: { url: 'http://127.0.0.1:1/mcp', envFile: 'a.env' } } })).toBe(
      'upstreams.a.envFile: unknown key',
    );
  });
});

describe('warnings at start', () => {
  it('an empty config or one with every upstream off is legal and warned about', () => {
    expect(configWarnings(parseConfig(undefined))).toEqual([
      'no upstreams configured: the gateway starts but serves no tools, prompts or resources ' +
        '(add entries under upstreams:, mcpServers: or servers:)',
    ]);
    expect(configWarnings(parseConfig({ mcpServers: { a: { command: 'x', disabled: true } } }))).toEqual([
      'every upstream is disabled (enabled: false): the gateway starts but serves nothing',
    ]);
    expect(configWarnings(parseConfig({ upstreams: { a: { command: 'x' } } }))).toEqual([]);
  });
});
