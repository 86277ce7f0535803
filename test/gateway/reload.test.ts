// Hot reload of a real `serve` process (reload.ts) while 10 SDK clients call in a loop: an upstream added (file
// rewritten), one removed (SIGHUP), an API key rotated and a rule changed; each change is visible on the next
// request, list_changed reaches the clients, and no call fails that the change did not mean to fail. An invalid
// file is refused, naming the key, and the old config keeps serving.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { basicStdio, ROOT, TSX, waitFor } from '../helpers/gateway.js';
import { makeTempDir, useHarness } from '../helpers/harness.js';

const h = useHarness();

const ALICE = 'alice-key-0123456789';
const BOB_OLD = 'bob-key-old-0123456789';
const BOB_NEW = 'bob-key-new-0123456789';

interface Step {
  upstreams: string[];
  bobKey: string;
  denyAdd: boolean;
}

function configOf({ upstreams, bobKey, denyAdd }: Step) {
  return {
    listen: { host: '127.0.0.1' },
    auth: {
      resource: 'http://127.0.0.1/mcp',
      apiKeys: [
        { subject: 'alice', key: ALICE },
        { subject: 'bob', key: bobKey },
      ],
    },
    upstreams: Object.fromEntries(upstreams.map((name) => [name, basicStdio(name)])),
    policy: {
      default: 'allow',
      rules: [{ name: 'no-add', deny: { tools: denyAdd ? ['a__add'] : ['nothing__here'] } }],
    },
    logging: { level: 'info' },
  };
}

interface Served {
  child: ChildProcess;
  url: string;
  /** Everything the process wrote to stderr so far. */
  stderr: () => string;
}

/** `switchboard serve` on a config reached through a symlink (so writes to its target are seen by SIGHUP only). */
async function serve(file: string): Promise<Served> {
  const child = spawn(
    process.execPath,
    ['--import', TSX, path.join(ROOT, 'src/cli.ts'), 'serve', '--config', file, '--port', '0'],
    { cwd: path.dirname(file), stdio: ['ignore', 'ignore', 'pipe'] },
  );
  h.defer(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const base = await waitFor(() => /listening on (\S+)\/mcp/.exec(stderr)?.[1], 30_000).catch(() => {
    throw new Error(`not listening: ${stderr}`);
  });
  for (let tries = 0; (await fetch(`${base}/readyz`)).status !== 200; tries++) {
    if (tries > 400) throw new Error(`never ready: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, url: `${base}/mcp`, stderr: () => stderr };
}

async function client(url: string, key: string) {
  const c = new Client({ name: 'reload-test', version: '1.0.0' });
  await c.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${key}` } },
    }),
  );
  h.defer(() => c.close());
  return c;
}

const textOf = (result: unknown) => (result as { content: { text: string }[] }).content[0].text;

describe('hot reload under load', () => {
  it('adds, removes, rotates and re-rules while 10 clients call; refuses an invalid file', async () => {
    const dir = makeTempDir('reload-');
    // The file the gateway watches is a link into a folder it does not watch: writing the target changes the
    // config without a watch event, so the second change can only arrive by SIGHUP.
    const real = path.join(dir, 'real');
    mkdirSync(real);
    const target = path.join(real, 'gateway.json');
    const file = path.join(dir, 'gateway.json');
    const write = (to: string, step: Step | object) =>
      writeFileSync(to, JSON.stringify('bobKey' in step ? configOf(step as Step) : step));
    let step: Step = { upstreams: ['a', 'b'], bobKey: BOB_OLD, denyAdd: false };
    write(target, step);
    symlinkSync(target, file);
    const gw = await serve(file);
    const reloads = () => gw.stderr().split('config reloaded').length - 1;

    const clients = await Promise.all(
      Array.from({ length: 10 }, (_, i) => client(gw.url, i < 5 ? ALICE : BOB_OLD)),
    );
    const listChanged = clients.map(() => 0);
    clients.forEach((c, i) =>
      c.setNotificationHandler(ToolListChangedNotificationSchema, () => void listChanged[i]++),
    );
    expect(textOf(await clients[0].callTool({ name: 'a__add', arguments: { a: 1, b: 2 } }))).toBe('3');

    // The loop: every client calls a__echo until told to stop; bob's stop at their first refusal once his key
    // is rotated out (that refusal is meant), every other failure is a bug.
    let stop = false;
    let rotated = false;
    const unintended: string[] = [];
    const refusedBob: string[] = [];
    let calls = 0;
    const loops = clients.map(async (c, i) => {
      for (let n = 0; !stop; n++) {
        try {
          const text = textOf(await c.callTool({ name: 'a__echo', arguments: { text: `${i}:${n}` } }));
          if (text !== `${i}:${n}`) unintended.push(`client ${i}: echoed ${text}`);
          calls++;
        } catch (error) {
          if (stop) return;
          if (i >= 5 && rotated) return void refusedBob.push((error as Error).message);
          unintended.push(`client ${i}: ${(error as Error).message}`);
        }
      }
    });
    const quiet = () => new Promise((r) => setTimeout(r, 300));
    // However the test ends, the loops end with it (a failed step must not leave them spinning on closed clients).
    h.defer(() => (stop = true));
    await quiet();

    // 1. An upstream added, by rewriting the file the gateway watches (through its link target: the link
    // itself is what the gateway watches, so replace the link's target by a new file and relink).
    step = { ...step, upstreams: ['a', 'b', 'c'] };
    write(target, step);
    const relink = () => {
      const fresh = path.join(dir, 'gateway.next.json');
      symlinkSync(target, fresh);
      // A rename over the watched name: what editors and ConfigMap volumes do.
      return import('node:fs').then((fs) => fs.renameSync(fresh, file));
    };
    await relink();
    await waitFor(() => reloads() === 1, 15_000);
    expect(textOf(await clients[1].callTool({ name: 'c__echo', arguments: { text: 'new' } }))).toBe('new');
    await waitFor(() => listChanged.every((count) => count >= 1), 10_000);
    await quiet();

    // 2. An upstream removed, by SIGHUP alone (the target changes, no watched name does).
    step = { ...step, upstreams: ['a', 'c'] };
    write(target, step);
    await quiet();
    expect(reloads()).toBe(1);
    gw.child.kill('SIGHUP');
    await waitFor(() => reloads() === 2, 15_000);
    await expect(clients[2].callTool({ name: 'b__echo', arguments: { text: 'x' } })).rejects.toThrow(
      /Unknown tool: b__echo/,
    );
    await waitFor(() => listChanged.every((count) => count >= 2), 10_000);
    await quiet();

    // 3. Bob's key rotated: his old key stops on the next request, the new one works, alice never notices.
    rotated = true;
    step = { ...step, bobKey: BOB_NEW };
    write(target, step);
    await relink();
    await waitFor(() => reloads() === 3, 15_000);
    await expect(clients[9].listTools()).rejects.toThrow(/401|nauthorized/);
    const bob = await client(gw.url, BOB_NEW);
    expect(textOf(await bob.callTool({ name: 'a__echo', arguments: { text: 'bob' } }))).toBe('bob');
    await quiet();

    // 4. A rule changed: a__add is denied from the next request on (denied = unknown), and the tool lists of the
    // sessions that still have a key change.
    const heard = listChanged.slice(0, 5);
    step = { ...step, denyAdd: true };
    write(target, step);
    await relink();
    await waitFor(() => reloads() === 4, 15_000);
    await expect(clients[3].callTool({ name: 'a__add', arguments: { a: 1, b: 2 } })).rejects.toThrow(
      /Unknown tool: a__add/,
    );
    expect((await clients[3].listTools()).tools.map((t) => t.name)).not.toContain('a__add');
    await waitFor(() => listChanged.slice(0, 5).every((count, i) => count > heard[i]), 10_000);

    // 5. An invalid file: refused with the key named, the running config keeps serving.
    write(target, { ...configOf(step), upstreams: { a: { ...basicStdio('a'), comand: 'x' } } });
    await relink();
    await waitFor(() => /config reload refused.*comand/.test(gw.stderr()), 15_000);
    expect(textOf(await clients[4].callTool({ name: 'c__echo', arguments: { text: 'still' } }))).toBe(
      'still',
    );
    await quiet();

    stop = true;
    await Promise.all(loops);
    expect(unintended).toEqual([]);
    // Each of bob's clients stopped at one refusal of its old key, with the usual 401.
    expect(refusedBob).toHaveLength(5);
    for (const message of refusedBob) expect(message).toMatch(/401|nauthorized/);
    expect(calls).toBeGreaterThan(50);
    expect(reloads()).toBe(4);
  }, 120_000);
});
