// bench/instructions.ts's counter: a process started through the callgrind wrapper, its instructions counted for
// some work only (counting switched on and off around it), and the dump's totals read back.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  annotatedCounts,
  CALLGRIND_CLI,
  callgrindEnv,
  countedInstructions,
  ensureValgrind,
  functionCounts,
  JIT_CODE,
  totalsOf,
} from '../../bench/lib/callgrind.js';

describe('reading a callgrind dump', () => {
  it('takes the totals line', () => {
    const dump = 'version: 1\nevents: Ir\nsummary: 0\n\nfn=(1) main\n16 90\n\ntotals: 248146495\n';
    expect(totalsOf(dump)).toBe(248146495);
  });

  it('refuses a dump without totals (cut short) rather than reading 0', () => {
    expect(() => totalsOf('version: 1\nevents: Ir\nsummary: 0\n')).toThrow(/without a totals/);
  });

  it("reads callgrind_annotate's listing by function, V8's compiled code (no symbols) as one entry", () => {
    const listing = [
      '--------------------------------------------------------------------------------',
      'Ir                   file:function',
      '--------------------------------------------------------------------------------',
      '256,238,726 (100.0%)  PROGRAM TOTALS',
      '12,800,000 ( 5.00%)  ???:sha256_block_data_order_avx2 [/usr/bin/node]',
      ' 6,797,000 ( 2.65%)  ???:0x000000000d15c3c0 [???]',
      ' 3,536,000 ( 1.38%)  ???:0x000000000d2ce5c0 [???]',
      '   502,000 ( 0.20%)  ./string/../strcmp-avx2.S:__strcmp_avx2 [/usr/lib/x86_64-linux-gnu/libc.so.6]',
    ].join('\n');
    expect(annotatedCounts(listing)).toEqual(
      new Map([
        ['???:sha256_block_data_order_avx2 [/usr/bin/node]', 12_800_000],
        [JIT_CODE, 10_333_000],
        ['./string/../strcmp-avx2.S:__strcmp_avx2 [/usr/lib/x86_64-linux-gnu/libc.so.6]', 502_000],
      ]),
    );
  });
});

describe('counting the instructions of some work in a process under callgrind', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'callgrind-test-'));
  const out = path.join(dir, 'server.out');
  let child: ChildProcess;
  let base = '';

  beforeAll(async () => {
    ensureValgrind();
    // A server whose every request runs a loop of ?n= steps: twice the steps, about twice the instructions.
    const script = path.join(dir, 'server.mjs');
    writeFileSync(
      script,
      `import http from 'node:http';
       const server = http.createServer((req, res) => {
         const n = Number(new URL(req.url, 'http://x').searchParams.get('n'));
         let x = 0;
         for (let i = 0; i < n; i++) x = (x + i * 7) % 1000003;
         res.end(String(x));
       });
       server.listen(0, '127.0.0.1', () => console.log(server.address().port));`,
    );
    child = spawn(process.execPath, [CALLGRIND_CLI], {
      env: { ...process.env, ...callgrindEnv(out, script) },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const port = await new Promise<string>((resolve, reject) => {
      child.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString().trim()));
      child.once('exit', (code) => reject(new Error(`exited ${code} before listening`)));
    });
    base = `http://127.0.0.1:${port}/`;
  }, 60_000);

  afterAll(() => {
    child?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  const requests = async (count: number, n: number) => {
    for (let i = 0; i < count; i++) await (await fetch(`${base}?n=${n}`)).text();
  };

  it('counts the work done between switching counting on and off, and only that', async () => {
    await requests(20, 100_000); // warm: the loop is compiled before anything is counted
    const idle = (await countedInstructions(out, async () => {})).total;
    const single = (await countedInstructions(out, () => requests(5, 200_000))).total;
    const { total: double, dump } = await countedInstructions(out, () => requests(5, 400_000));
    // Nothing done: next to nothing counted (the control requests themselves).
    expect(idle).toBeLessThan(single / 20);
    // Five loops of 200k steps take at least a few instructions a step; twice the steps, about twice as many.
    expect(single).toBeGreaterThan(5 * 200_000 * 2);
    expect(double / single).toBeGreaterThan(1.6);
    expect(double / single).toBeLessThan(2.4);
    // By function, the loop is V8's compiled code: the largest entry, and most of what was counted.
    const byFunction = [...functionCounts(dump)].sort((x, y) => y[1] - x[1]);
    expect(byFunction[0][0]).toBe(JIT_CODE);
    expect(byFunction[0][1]).toBeGreaterThan(double / 2);
    expect(byFunction.reduce((sum, [, count]) => sum + count, 0)).toBeLessThanOrEqual(double);
  }, 120_000);
});
