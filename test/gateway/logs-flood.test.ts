// Issue 14 point 5: a chatty upstream cannot fill the disk. An upstream writing about 100,000 stderr lines a
// second gets a burst and then a steady trickle of lines, plus one line now and then counting what was
// dropped; the gateway keeps serving calls to it and to its neighbour meanwhile.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/gateway/config.js';
import { createLogger } from '../../src/gateway/logger.js';
import { buildGateway } from '../../src/gateway/server.js';
import {
  STDERR_BURST,
  STDERR_LINES_PER_SECOND,
  STDERR_MESSAGE,
  SUPPRESSED_MESSAGE,
} from '../../src/upstreams/stderr-log.js';
import { basicStdio, connectClient, ROOT, TSX, waitFor } from '../helpers/gateway.js';

const STDERR_SERVER = path.join(ROOT, 'test/fixtures/servers/stderr-server.ts');
const FLOOD_MS = 6_000;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface Line {
  time: number;
  msg: string;
  upstream?: string;
  suppressed?: number;
}

describe('a flood on an upstream stderr', () => {
  it('is rate-capped per upstream, counted, and does not stop calls', { timeout: 60_000 }, async () => {
    const lines: Line[] = [];
    const log = createLogger('info', {
      destination: { write: (line: string) => void lines.push(JSON.parse(line) as Line) },
    });
    const config = parseConfig(
      {
        upstreams: {
          noisy: { command: process.execPath, args: ['--import', TSX, STDERR_SERVER, '--flood', '100000'] },
          quiet: basicStdio('quiet'),
        },
      },
      { baseDir: ROOT },
    );
    const app = await buildGateway(config, { log });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => app.close());
    const client = await connectClient(`${address}/mcp`);
    cleanups.push(() => client.close());

    // Calls go on, one after another, to both upstreams for as long as the flood is measured.
    const until = Date.now() + FLOOD_MS;
    let calls = 0;
    while (Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      const [noisy, quiet] = await Promise.all([
        client.callTool({ name: 'noisy__echo', arguments: { text: `n${calls}` } }),
        client.callTool({ name: 'quiet__echo', arguments: { text: `q${calls}` } }),
      ]);
      expect(noisy.content).toEqual([{ type: 'text', text: `n${calls}` }]);
      expect((quiet.content as { text: string }[])[0].text).toContain(`q${calls}`);
      calls++;
    }
    await waitFor(() => lines.some((line) => line.msg === SUPPRESSED_MESSAGE), 15_000);
    const snapshot = [...lines];

    const stderr = snapshot.filter((line) => line.msg === STDERR_MESSAGE);
    const summaries = snapshot.filter((line) => line.msg === SUPPRESSED_MESSAGE);
    const suppressed = summaries.reduce((sum, line) => sum + line.suppressed!, 0);
    // The flood was real (tens of thousands of lines dropped) and came from the noisy upstream only.
    expect(suppressed).toBeGreaterThan(20_000);
    expect(new Set([...stderr, ...summaries].map((line) => line.upstream))).toEqual(new Set(['noisy']));
    // What was logged: the burst, then at most the rate, second by second, plus a few lines of other kinds.
    const first = snapshot[0].time;
    const span = (snapshot[snapshot.length - 1].time - first) / 1000;
    expect(stderr.length).toBeLessThanOrEqual(STDERR_BURST + STDERR_LINES_PER_SECOND * (span + 1));
    const perSecond = new Map<number, number>();
    for (const line of snapshot) {
      const second = Math.floor((line.time - first) / 1000);
      perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
    }
    for (const [second, count] of perSecond) {
      const allowed = second === 0 ? STDERR_BURST + STDERR_LINES_PER_SECOND : STDERR_LINES_PER_SECOND * 2;
      expect(count, `log lines in second ${second}`).toBeLessThanOrEqual(allowed + 10);
    }
    expect(calls).toBeGreaterThan(0);
  });
});
