// `switchboard builtin <name> [flags]`: flags become validated options; bad flags fail with a clear error.
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseFlags, splitCommand } from '../../src/builtin-servers/standalone.js';

const runner = fileURLToPath(new URL('../fixtures/builtin/run-builtin.ts', import.meta.url));
const run = (...args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', runner, ...args], { timeout: 20_000 }).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
  );

describe('standalone flags', () => {
  it('turn kebab-case flags into snake_case options, numbers into numbers', () => {
    expect(
      parseFlags('sql', ['--url', 'sqlite:x.db', '--max-rows=20', '--statement-timeout-ms', '300']),
    ).toEqual({
      url: 'sqlite:x.db',
      max_rows: 20,
      statement_timeout_ms: 300,
    });
  });

  it('split --test-command like a shell would, without running one', () => {
    expect(parseFlags('project', ['--test-command', `npx vitest run "a b" 'c d' e\\ f`])).toEqual({
      test_command: ['npx', 'vitest', 'run', 'a b', 'c d', 'e f'],
    });
    expect(() => splitCommand('npm "test')).toThrow(/unterminated " quote/);
  });

  it('turn true and false into booleans, but never a root or url that reads so', () => {
    expect(parseFlags('project', ['--allow-broad-root', 'true', '--root', 'true'])).toEqual({
      allow_broad_root: true,
      root: 'true',
    });
    expect(parseFlags('sql', ['--allow-superuser=false', '--url', 'false'])).toEqual({
      allow_superuser: false,
      url: 'false',
    });
  });

  it('refuse a positional argument, a missing value and a repeated flag', () => {
    expect(() => parseFlags('project', ['.'])).toThrow(/unexpected argument "\."/);
    expect(() => parseFlags('project', ['--root'])).toThrow(/--root needs a value/);
    expect(() => parseFlags('project', ['--root', 'a', '--root', 'b'])).toThrow(/--root given twice/);
  });

  it('an unknown flag or server exits non-zero with a clear message', async () => {
    const [flag, server, url] = await Promise.all([
      run('project', '--rot', '.'),
      run('nosuch'),
      run('sql', '--url', 'mysql://x'),
    ]);
    expect(flag).toEqual({ code: 2, stderr: 'builtin project: unknown flag(s) --rot\n' });
    expect(server).toEqual({
      code: 2,
      stderr: 'unknown built-in server "nosuch"; choose one of project, docs, sql\n',
    });
    expect(url.stderr).toBe('builtin sql: --url: must start with sqlite: or postgres://\n');
  });

  it('the stdio server shuts down cleanly, exit code 0, when its input closes', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', runner, 'project', '--root', '.'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    while (!stderr.includes('serving over stdio')) await once(child.stderr, 'data');
    child.stdin.end();
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(stderr).toBe('switchboard builtin project: serving over stdio\n');
  });
});
