// The soak's own precision: how it tells asked-for errors from collateral and real ones, and that the fault
// upstream misbehaves exactly as asked (bench/soak.ts relies on both; the soak itself is not run in CI).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { Tally } from '../../bench/lib/soak-clients.js';
import { classify } from '../../bench/lib/soak-report.js';
import { ROOT, TSX } from '../helpers/gateway.js';

describe('soak error accounting', () => {
  /** Lane A: a crash call from 100 to 110 ms, recovered by a plain success started at 130 ms. */
  function crashedLane(): Tally {
    const tally = new Tally();
    tally.record('crash', 'A', 100, 110, 'Upstream connection closed before it answered');
    tally.record('none', 'A', 130, 140);
    return tally;
  }
  const kindOf = (tally: Tally) => {
    tally.closeOutages();
    return tally.failures.map((failure) => classify(failure, tally));
  };

  it('counts a plain call that failed while a crash on its upstream was in flight as collateral', () => {
    const tally = crashedLane();
    tally.record('none', 'A', 95, 111, 'Upstream connection closed before it answered');
    expect(kindOf(tally)).toEqual(['in flight at a crash']);
  });

  it('counts a plain call that failed after the crash, before the upstream answered again, as recovery', () => {
    const tally = new Tally();
    tally.record('crash', 'A', 100, 110, 'closed');
    tally.record('none', 'A', 112, 120, 'Unknown tool: fault__work');
    tally.record('none', 'A', 130, 140);
    expect(kindOf(tally)).toEqual(['during recovery from a crash']);
  });

  it('counts a failure on another upstream, or after recovery, as unexpected', () => {
    const tally = crashedLane();
    tally.record('none', 'B', 100, 111, 'closed');
    tally.record('none', 'A', 150, 160, 'closed');
    expect(kindOf(tally)).toEqual(['unexpected', 'unexpected']);
  });

  it('counts a wrong answer as unexpected even in the middle of a crash', () => {
    const tally = crashedLane();
    tally.record('none', 'A', 101, 109, 'wrong result: expected none:1-1, got none:2-7', true);
    expect(kindOf(tally)).toEqual(['unexpected']);
  });

  it('lets only crash and over-the-line-limit calls start an outage, never a hang or a garbage call', () => {
    const tally = new Tally();
    tally.record('hang', 'A', 100, 2100, 'Request timed out');
    tally.record('none', 'A', 150, 160, 'closed');
    tally.record('huge>line', 'B', 100, 110, 'line longer than maxLineBytes');
    tally.record('none', 'B', 105, 115, 'closed');
    expect(kindOf(tally)).toEqual(['unexpected', 'in flight at a crash']);
  });

  it('keeps only plain-call failures and wrong answers, and counts asked-for errors per fault', () => {
    const tally = new Tally();
    tally.record('hang', 'A', 0, 2000, 'Request timed out');
    tally.record('garbage', 'A', 0, 10);
    expect(tally.failures).toEqual([]);
    expect(tally.stats('hang')).toMatchObject({ calls: 1, ok: 0, errors: 1 });
    expect(tally.stats('garbage')).toMatchObject({ calls: 1, ok: 1, errors: 0 });
  });
});

describe('fault upstream', () => {
  let child: ChildProcessWithoutNullStreams | undefined;
  afterEach(() => {
    if (child?.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  /** Starts the fault server and returns a way to send a line and to read the lines it writes. */
  function start() {
    const proc = spawn(process.execPath, ['--import', TSX, `${ROOT}/test/fixtures/servers/fault-server.ts`]);
    child = proc;
    const lines: string[] = [];
    const waiters: (() => void)[] = [];
    createInterface({ input: proc.stdout }).on('line', (line) => {
      lines.push(line);
      waiters.splice(0).forEach((wake) => wake());
    });
    const exited = new Promise<number | string>((resolve) =>
      proc.once('exit', (code, signal) => resolve(code ?? signal!)),
    );
    const send = (id: number, method: string, params: object = {}) =>
      proc.stdin.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
    /** Resolves with every line so far once one parses as the answer to `id`. */
    const answerTo = async (id: number): Promise<string[]> => {
      for (;;) {
        if (
          lines.some((line) => /^\{/.test(line) && safeParse(line)?.id === id && 'result' in safeParse(line))
        )
          return lines.splice(0);
        await new Promise<void>((wake) => waiters.push(wake));
      }
    };
    const work = (id: number, args: object) => send(id, 'tools/call', { name: 'work', arguments: args });
    return { proc, send, work, answerTo, lines, exited };
  }
  const safeParse = (line: string) => {
    try {
      return JSON.parse(line);
    } catch {
      return undefined;
    }
  };

  it('answers a plain call with its nonce and garbage calls with four bad lines first', async () => {
    const server = start();
    server.work(1, { fault: 'none', nonce: 'n1' });
    expect(safeParse((await server.answerTo(1)).at(-1)!).result.content[0].text).toBe('none:n1');
    server.work(2, { fault: 'garbage', nonce: 'g', pick: 1 });
    const lines = await server.answerTo(2);
    expect(lines).toHaveLength(5);
    expect(lines.slice(0, 4)).toContain('{"jsonrpc":"2.0","method":"constructor"}');
    expect(safeParse(lines[4]).result.content[0].text).toBe('garbage:g');
  });

  it('floods log, list_changed and progress notifications before the answer', async () => {
    const server = start();
    server.send(1, 'tools/call', {
      name: 'work',
      arguments: { fault: 'flood', nonce: 'f', count: 30 },
      _meta: { progressToken: 'tok' },
    });
    const methods = (await server.answerTo(1)).map((line) => safeParse(line).method ?? 'answer');
    const count = (name: string) => methods.filter((method) => method === name).length;
    expect(count('notifications/message')).toBe(10);
    expect(count('notifications/tools/list_changed')).toBe(10);
    expect(count('notifications/progress')).toBe(10);
    expect(methods.at(-1)).toBe('answer');
  });

  it('drips its answer in pieces over the time asked, and a hang never answers while ping still does', async () => {
    const server = start();
    const startedAt = Date.now();
    const pieces: number[] = [];
    server.proc.stdout.on('data', () => pieces.push(Date.now()));
    server.work(1, { fault: 'hang', nonce: 'h' });
    server.work(2, { fault: 'drip', nonce: 'd', ms: 400 });
    const lines = await server.answerTo(2);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(350);
    expect(pieces.length).toBeGreaterThan(5);
    server.send(3, 'ping');
    await server.answerTo(3);
    expect([...lines, ...server.lines].some((line) => safeParse(line)?.id === 1)).toBe(false);
  });

  it.each([
    [0, 3],
    [1, 4],
    [2, 'SIGKILL'],
  ])('crash with pick %i ends the process (%s)', async (pick, how) => {
    const server = start();
    server.work(1, { fault: 'crash', nonce: 'c', pick });
    expect(await server.exited).toBe(how);
    expect(server.lines.some((line) => safeParse(line)?.id === 1)).toBe(false);
  });
});
