// The audit log's promises under stress: SIGKILL of a real gateway process under 20 concurrent clients leaves a
// record of every call that was answered (flush and fsync), and a log that cannot be written makes audited calls
// fail closed with a clear error (until it can be written again), or, with `onFailure: continue`, go on with
// one warning.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/gateway/config.js';
import { createLogger } from '../../src/gateway/logger.js';
import { buildGateway } from '../../src/gateway/server.js';
import { verifyFiles } from '../../src/gateway/audit/verify.js';
import { basicStdio, ROOT, TSX, waitFor } from '../helpers/gateway.js';
import { isAlive, makeTempDir, useHarness } from '../helpers/harness.js';

const h = useHarness();
const HASH_KEY = 'durability-test-hash-key-0123456789';
const CLIENTS = 20;

/** What the gateway writes as a session's hash under HASH_KEY (see audit/record.ts). */
function sessionHash(id: string): string {
  return createHash('sha256').update(HASH_KEY).update('\0').update(id).digest('hex').slice(0, 32);
}

async function client(url: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const transport = new StreamableHTTPClientTransport(new URL(url));
  const c = new Client({ name: 'load', version: '1.0.0' });
  await c.connect(transport);
  return { client: c, transport };
}

describe('audit durability', () => {
  for (const durability of ['flush', 'fsync'] as const) {
    it(`SIGKILL under load loses no record of an answered call (${durability})`, async () => {
      const dir = makeTempDir(`audit-kill-${durability}-`);
      const file = path.join(dir, 'audit.jsonl');
      const config = path.join(dir, 'gateway.json');
      writeFileSync(
        config,
        JSON.stringify({
          upstreams: { a: basicStdio('a') },
          audit: { file: 'audit.jsonl', durability, hashKey: HASH_KEY },
          logging: { level: 'warn' },
        }),
      );
      const gateway = spawn(
        process.execPath,
        ['--import', TSX, path.join(ROOT, 'src/cli.ts'), 'serve', '--config', config, '--port', '0'],
        { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
      );
      h.defer(() => {
        if (gateway.exitCode === null && gateway.signalCode === null) gateway.kill('SIGKILL');
      });
      let stderr = '';
      gateway.stderr!.on('data', (chunk) => (stderr += chunk));
      const base = await waitFor(() => /listening on (\S+)/.exec(stderr)?.[1], 30_000);
      const sessions = await Promise.all(Array.from({ length: CLIENTS }, () => client(base)));
      // Every call that got an answer, by the session it was made in.
      const answered = new Map<string, number>();
      let total = 0;
      let killed = false;
      const loops = sessions.map(async ({ client: c, transport }) => {
        const id = transport.sessionId!;
        for (let n = 0; !killed && n < 2000; n++) {
          try {
            await c.callTool({ name: 'a__echo', arguments: { text: `call ${n}` } });
          } catch {
            return;
          }
          answered.set(id, (answered.get(id) ?? 0) + 1);
          total++;
        }
      });
      await waitFor(() => total >= 300, 30_000);
      gateway.kill('SIGKILL');
      killed = true;
      await Promise.all(loops);
      await waitFor(() => !isAlive(gateway.pid!) && gateway.exitCode !== undefined, 10_000);
      for (const s of sessions) void s.client.close().catch(() => {});

      const written = new Map<string, number>();
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        if (!line) continue;
        const record = JSON.parse(line);
        if (record.event === 'call' && record.outcome === 'ok')
          written.set(record.session, (written.get(record.session) ?? 0) + 1);
      }
      expect(answered.size).toBe(CLIENTS);
      for (const [id, count] of answered)
        expect(written.get(sessionHash(id)) ?? 0).toBeGreaterThanOrEqual(count);
      expect(verifyFiles([file], HASH_KEY).ok).toBe(true);
    });
  }

  async function inProcess(audit: Record<string, unknown>) {
    const lines: any[] = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
        done();
      },
    });
    const config = parseConfig({ upstreams: { a: basicStdio('a') }, audit }, { baseDir: ROOT });
    const app = await buildGateway(config, { log: createLogger('info', { destination }) });
    h.defer(() => app.close());
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    const { client: c } = await client(`${address}/mcp`);
    h.defer(() => c.close());
    return { client: c, lines };
  }

  it('an unwritable audit log makes audited calls fail closed, until it can be written again', async () => {
    const dir = makeTempDir('audit-unwritable-');
    // A regular file where the log's folder should be: no write can succeed, even as root.
    const blocker = path.join(dir, 'blocker');
    writeFileSync(blocker, 'not a folder');
    const file = path.join(blocker, 'audit.jsonl');
    const { client: c, lines } = await inProcess({ file });
    const refused = c.callTool({ name: 'a__echo', arguments: { text: 'x' } });
    await expect(refused).rejects.toMatchObject({ code: -32603 });
    await expect(refused).rejects.toThrow(/Audit log unavailable: cannot write .*blocker\/audit\.jsonl/);
    // Lists are not audited: the session still works.
    expect((await c.listTools()).tools.length).toBeGreaterThan(0);
    // Refused before it reaches the upstream: the tool it would have added never appears.
    await expect(c.callTool({ name: 'a__add_tool', arguments: { name: 'unaudited' } })).rejects.toThrow(
      /Audit log unavailable/,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await c.listTools()).tools.map((t) => t.name)).not.toContain('a__unaudited');
    expect(lines.filter((l) => /fail closed/.test(l.msg))).toHaveLength(1);

    // The folder appears: the next record is written, and calls go through again.
    rmSync(blocker);
    mkdirSync(blocker);
    await c.callTool({ name: 'a__echo', arguments: { text: 'z' } }).catch(() => {});
    const answer = await c.callTool({ name: 'a__echo', arguments: { text: 'after' } });
    expect(answer.isError).toBeFalsy();
    expect(lines.some((l) => l.msg === 'audit log writes again')).toBe(true);
    expect(verifyFiles([file]).ok).toBe(true);
  });

  it('with onFailure: continue, calls go on and one warning is logged', async () => {
    const dir = makeTempDir('audit-continue-');
    const blocker = path.join(dir, 'blocker');
    writeFileSync(blocker, 'not a folder');
    const { client: c, lines } = await inProcess({
      file: path.join(blocker, 'audit.jsonl'),
      onFailure: 'continue',
    });
    for (let i = 0; i < 3; i++) {
      const answer = await c.callTool({ name: 'a__echo', arguments: { text: `go ${i}` } });
      expect(answer.isError).toBeFalsy();
    }
    const warnings = lines.filter((l) => /calls go on unaudited/.test(l.msg));
    expect(warnings).toHaveLength(1);
    expect(warnings[0].level).toBe(40);
  });
});
