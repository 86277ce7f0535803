// The built CLI (dist/cli.js, as `npm install -g .` runs it): --help for every command, clear refusals of
// bad options and bad configs, the address `serve` really listens on, and the warning for an empty config.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, waitFor } from '../helpers/gateway.js';
import { makeTempDir } from '../helpers/harness.js';

const CLI = path.join(ROOT, 'dist/cli.js');
const dir = makeTempDir('switchboard-help-');
const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});
beforeAll(() => {
  if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run `npm run build` first');
});

/** Runs the CLI from a folder outside the repository, as a user with it on PATH would. */
function run(args: string[]) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: dir, timeout: 30_000 });
}

function writeConfig(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** Starts `serve`, waits for its "listening on" line; the process is killed after the test. */
async function startServe(args: string[]) {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { cwd: dir });
  cleanups.push(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const url = await waitFor(() => /listening on (\S+)/.exec(stderr)?.[1], 20_000);
  return { child, url, stderr: () => stderr };
}

describe('--help', () => {
  const cases: [string[], RegExp[]][] = [
    [
      ['--help'],
      [/^Usage: switchboard <command>/, /serve/, /stdio/, /check/, /builtin/, /pins/, /--version/],
    ],
    [['-h'], [/^Usage: switchboard <command>/]],
    [['help'], [/^Usage: switchboard <command>/]],
    [
      ['serve', '--help'],
      [/^Usage: switchboard serve/, /--host H/, /--port P/, /--config FILE/],
    ],
    [['serve', '-h'], [/^Usage: switchboard serve/]],
    [
      ['stdio', '--help'],
      [/^Usage: switchboard stdio/, /--config FILE/, /stdout carries only MCP/],
    ],
    [
      ['check', '--help'],
      [/^Usage: switchboard check/, /--config FILE/, /78 when the config/, /--against FILE/],
    ],
    [
      ['pins', '--help'],
      [
        /^Usage: switchboard pins list/,
        /pins diff \[NAME\]/,
        /approve NAME \| --upstream U --all/,
        /--config FILE/,
      ],
    ],
    [
      ['audit', '--help'],
      [/^Usage: switchboard audit verify FILE/, /--key-env NAME/, /FILE:LINE/],
    ],
    [['builtin', '--help'], [/^Usage: switchboard builtin <project\|docs\|sql>/]],
    [
      ['builtin', 'project', '--help'],
      [/--root STRING/, /--test-command 'COMMAND ARGS'/],
    ],
    [['builtin', 'docs', '-h'], [/--root STRING\s+required/]],
    [
      ['builtin', 'sql', '--help'],
      [/--url STRING\s+required/, /--max-rows INTEGER\s+default 500/],
    ],
  ];
  for (const [args, patterns] of cases) {
    it(`switchboard ${args.join(' ')} prints usage and options on stdout and exits 0`, () => {
      const result = run(args);
      expect(result.stderr).toBe('');
      expect(result.status).toBe(0);
      for (const pattern of patterns) expect(result.stdout).toMatch(pattern);
    });
  }

  it('--help wins over everything else on the line: nothing is read or started', () => {
    const result = run(['serve', '--config', '/nonexistent/gateway.yaml', '--port', '1', '--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/^Usage: switchboard serve/);
    const builtin = run(['builtin', 'sql', '--url', 'sqlite:/nonexistent.db', '--help']);
    expect(builtin.status).toBe(0);
    expect(builtin.stdout).toMatch(/Options of sql/);
  });

  it('--version prints the package version', () => {
    const result = run(['--version']);
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(
      JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version,
    );
  });
});

describe('bad command lines', () => {
  it('an unknown option names it, shows the command usage on stderr, and exits 2', () => {
    const result = run(['serve', '--prot', '8080']);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^switchboard serve: Unknown option '--prot'/);
    expect(result.stderr).toContain('Usage: switchboard serve');
  });

  it('--host and --port are refused where they would be ignored (check, stdio)', () => {
    for (const command of ['check', 'stdio']) {
      const result = run([command, '--port', '9000']);
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(new RegExp(`^switchboard ${command}: --port applies to serve only`));
    }
  });

  it('an unknown command is named, with the overall usage, exit 2', () => {
    const result = run(['serv']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^switchboard: unknown command "serv"/);
  });

  it('a bad --port value says what a port is', () => {
    const result = run(['serve', '--port', 'eighty', '--config', writeConfig('empty.yaml', '')]);
    expect(result.status).toBe(78);
    expect(result.stderr).toBe('switchboard: --port: expected a port number, got "eighty"\n');
  });

  it('a config with a wrong type stops serve with the path, the expected and the found type, exit 78', () => {
    const file = writeConfig('port.yaml', 'listen: { port: eighty }\n');
    const result = run(['serve', '--config', file]);
    expect(result.status).toBe(78);
    expect(result.stderr).toBe(`switchboard: ${file}: listen.port: expected number, got string\n`);
  });

  it('a VS Code file using ${input:...} is refused with the key that uses it, exit 78', () => {
    const file = writeConfig(
      'mcp.json',
      JSON.stringify({
        inputs: [{ type: 'promptString', id: 'tok', password: true }],
        servers: { gh: { type: 'stdio', command: 'node', env: { TOKEN: '${input:tok}' } } },
      }),
    );
    const result = run(['check', '--config', file]);
    expect(result.status).toBe(78);
    expect(result.stderr).toContain(
      `${file}: servers.gh.env.TOKEN: \${input:tok} (a VS Code prompted input) is not supported`,
    );
  });
});

describe('serve', () => {
  it('logs the address it really listens on: the host given and the port the system picked', async () => {
    const file = writeConfig(
      'hosts.yaml',
      "http: { allowedHosts: ['127.0.0.2'] }\nupstreams: {}\nlogging: { level: info }\n",
    );
    const served = await startServe(['--config', file, '--host', '127.0.0.2', '--port', '0']);
    expect(served.url).toMatch(/^http:\/\/127\.0\.0\.2:\d+\/mcp$/);
    expect(served.url).not.toMatch(/:0\/mcp$/);
    expect((await fetch(served.url.replace(/\/mcp$/, '/healthz'))).status).toBe(200);
    // The structured log line says the same.
    const logged = served
      .stderr()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line))
      .find((entry) => entry.msg === 'switchboard listening');
    expect(logged.address).toBe(served.url);
  });

  it('an empty config starts, with a warning that says no upstreams are configured', async () => {
    const file = writeConfig('nothing.yaml', '# nothing yet\n');
    const served = await startServe(['--config', file, '--port', '0']);
    expect(served.stderr()).toContain('no upstreams configured: the gateway starts but serves no tools');
    expect((await fetch(served.url.replace(/\/mcp$/, '/healthz'))).status).toBe(200);
  });

  it('a config whose upstreams are all disabled starts, with a warning that says so', async () => {
    const file = writeConfig('off.yaml', 'upstreams:\n  a: { command: node, enabled: false }\n');
    const served = await startServe(['--config', file, '--port', '0']);
    expect(served.stderr()).toContain('every upstream is disabled (enabled: false)');
  });

  it('check on an empty config warns on stderr and exits 0 with an empty table', () => {
    const result = run(['check', '--config', writeConfig('empty2.yaml', 'upstreams: {}\n')]);
    expect(result.status).toBe(0);
    expect(result.stderr).toContain('warning: no upstreams configured');
    expect(result.stdout).toMatch(/^UPSTREAM\s+STATUS/);
  });
});
