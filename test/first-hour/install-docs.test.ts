// The README's install and host instructions, run as written against the built dist/: the host snippets with
// their placeholders filled in start a working gateway from outside the clone, `npm install -g .` (into a
// temporary prefix) and `npx --prefix` give a working `switchboard`, and every config snippet in the docs parses.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { parseConfig } from '../../src/gateway/config.js';
import { basicStdio, ROOT, waitFor } from '../helpers/gateway.js';
import { isAlive, makeTempDir } from '../helpers/harness.js';

const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const CLI = path.join(ROOT, 'dist/cli.js');
/** Somewhere outside the clone, as a host's working directory would be. */
const away = makeTempDir('switchboard-install-');
const gatewayConfig = path.join(away, 'my-gateway.yaml');
writeFileSync(gatewayConfig, `upstreams:\n  a: ${JSON.stringify(basicStdio('from-readme'))}\n`);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
beforeAll(() => {
  if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run `npm run build` first');
});

function codeBlocks(markdown: string, language: string): string[] {
  return [...markdown.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);
}

/** The placeholders the README asks the reader to replace, replaced. */
const fillIn = (text: string) =>
  text.replaceAll('/abs/path/to/switchboard', ROOT).replaceAll('/abs/path/to/my-gateway.yaml', gatewayConfig);

async function whoami(client: Client): Promise<string> {
  const result = await client.callTool({ name: 'a__whoami', arguments: {} });
  return (result.content as { text: string }[])[0].text;
}

describe("the README's host snippets", () => {
  const stdioSnippets = codeBlocks(README, 'json').filter((block) => block.includes('dist/cli.js'));

  it('include the Claude Desktop and the VS Code stdio form, both with absolute paths', () => {
    expect(stdioSnippets.some((block) => block.includes('"mcpServers"'))).toBe(true);
    expect(stdioSnippets.some((block) => block.includes('"servers"'))).toBe(true);
    for (const block of stdioSnippets) expect(block).not.toMatch(/"npx"|"switchboard", "stdio"/);
  });

  for (const [i, block] of stdioSnippets.entries()) {
    it(`stdio snippet ${i + 1}, filled in, serves the gateway to a host started outside the clone`, async () => {
      const host = JSON.parse(fillIn(block));
      const entry = (host.mcpServers ?? host.servers).switchboard;
      // A host runs the command as written (`node` from PATH), with the SDK's default environment.
      const transport = new StdioClientTransport({
        command: entry.command,
        args: entry.args,
        cwd: away,
        stderr: 'pipe',
      });
      const client = new Client({ name: 'host', version: '1' });
      await client.connect(transport);
      const pid = transport.pid!;
      cleanups.push(() => client.close());
      expect((await client.listTools()).tools.map((t) => t.name)).toContain('a__echo');
      expect(await whoami(client)).toBe('from-readme');
      await client.close();
      await waitFor(() => !isAlive(pid), 10_000);
    });
  }

  it('the VS Code http snippet reaches a running `switchboard serve`', async () => {
    const block = codeBlocks(README, 'json').find((b) => b.includes('"type": "http"'))!;
    const snippetUrl = new URL(JSON.parse(block).servers.switchboard.url);
    expect(snippetUrl.href).toBe('http://127.0.0.1:8080/mcp');
    const serve = spawn(process.execPath, [CLI, 'serve', '--config', gatewayConfig, '--port', '0'], {
      cwd: away,
    });
    // SIGTERM, so serve stops its stdio upstream too; then wait for it to be gone.
    cleanups.push(async () => {
      if (serve.exitCode !== null) return;
      const exited = new Promise((resolve) => serve.once('exit', resolve));
      serve.kill('SIGTERM');
      await exited;
    });
    let stderr = '';
    serve.stderr.on('data', (chunk) => (stderr += chunk));
    const listening = new URL(await waitFor(() => /listening on (\S+)/.exec(stderr)?.[1], 20_000));
    snippetUrl.port = listening.port; // the snippet's 8080, on the port this test could get
    // serve answers before its upstreams are up; /readyz says when they are.
    for (let tries = 0; (await fetch(new URL('/readyz', listening))).status !== 200; tries++) {
      if (tries > 200) throw new Error(`never ready: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const client = new Client({ name: 'vscode', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(snippetUrl));
    cleanups.push(() => client.close());
    expect(await whoami(client)).toBe('from-readme');
  });
});

describe('installing the command as the README says', () => {
  it('`npm install -g .` (into a temporary prefix) puts a working `switchboard` on the PATH', () => {
    const prefix = makeTempDir('switchboard-prefix-');
    cleanups.push(() => rmSync(prefix, { recursive: true, force: true }));
    const install = spawnSync(
      'npm',
      ['install', '-g', '.', '--prefix', prefix, '--offline', '--ignore-scripts', '--no-audit', '--no-fund'],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
    );
    expect(install.status, install.stderr).toBe(0);
    const bin = path.join(prefix, 'bin', 'switchboard');
    const version = spawnSync(bin, ['--version'], { cwd: away, encoding: 'utf8' });
    expect(version.stdout.trim()).toBe(
      JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version,
    );
    const check = spawnSync(bin, ['check', '--config', gatewayConfig], {
      cwd: away,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(check.status, check.stderr).toBe(0);
    expect(check.stdout).toMatch(/^a\s+ready\s+15\s/m);
  });

  it('`npx --prefix <clone> switchboard` runs the clone without installing anything', () => {
    const result = spawnSync('npx', ['--prefix', ROOT, '--no-install', 'switchboard', 'serve', '--help'], {
      cwd: away,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Usage: switchboard serve/);
  });
});

describe('config snippets in the documentation', () => {
  const documents = ['README.md', 'docs/configuration.md', 'docs/architecture.md', 'docs/getting-started.md'];
  for (const doc of documents) {
    const text = readFileSync(path.join(ROOT, doc), 'utf8');
    const configs = codeBlocks(text, 'yaml').filter((block) =>
      /^(upstreams|listen|mcpServers):/m.test(block),
    );
    for (const [i, block] of configs.entries()) {
      it(`${doc} YAML snippet ${i + 1} is a valid config`, async () => {
        const { parse } = await import('yaml');
        // Every ${NAME} the snippet uses is set, as the reader would set it.
        const env = Object.fromEntries(
          [...block.matchAll(/\$\{([A-Z_][A-Z0-9_]*)\}/g)].map((m) => [m[1], 'x']),
        );
        expect(() => parseConfig(parse(block), { env, baseDir: path.join(ROOT, 'config') })).not.toThrow();
      });
    }
  }
});
