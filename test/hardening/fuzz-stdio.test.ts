// Property-based fuzzing of the stdio front (serveStdio over in-memory streams): every request line gets
// exactly one well-formed answer with its id, invalid lines one error, notifications and responses nothing,
// and normal calls still work afterwards.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicStdio } from '../helpers/gateway.js';
import { expected, FUZZ_SEED, fuzzRuns, message, wellFormed, within } from './fuzz-arbitraries.js';
import { stdioFront } from './wire-helpers.js';

const UPSTREAMS = {
  ok: { ...basicStdio('ok'), tools: { allow: ['echo', 'add', 'whoami', 'fail', 'all_content'] } },
};

describe('fuzzing the stdio front', () => {
  let front: Awaited<ReturnType<typeof stdioFront>>;
  beforeAll(async () => {
    front = await stdioFront({ upstreams: UPSTREAMS });
  });
  afterAll(() => front.close());

  it('answers every request line exactly once, invalid lines with one error, and nothing else', async () => {
    let step = 0;
    /** Answers (lines without a method) seen so far; messages the gateway sends on its own are left aside. */
    const answers = () => front.lines.filter((m) => m.method === undefined);
    await fc.assert(
      fc.asyncProperty(message, async (body) => {
        const text = JSON.stringify(body);
        const sent = JSON.parse(text);
        const kind = expected(sent);
        const before = answers().length;
        const from = front.lines.length;
        const sentinel = `sentinel-${step++}`;
        front.send(text);
        front.send(JSON.stringify({ jsonrpc: '2.0', id: sentinel, method: 'ping' }));
        // The sentinel's answer, and the request's own (it may come later: calls are asynchronous).
        const settled = await within(
          front
            .answer((m) => m.id === sentinel, 10_000, from)
            .then(async () => {
              const same = (m: any) => JSON.stringify(m.id) === JSON.stringify(sent.id);
              if (kind === 'request') await front.answer(same, 10_000, from);
              return true;
            }),
          10_000,
          false,
        ).catch(() => false);
        if (!settled) return false;
        const mine = answers()
          .slice(before)
          .filter((m) => m.id !== sentinel);
        if (kind === 'silent') return mine.length === 0;
        if (kind === 'invalid') {
          const validId =
            typeof sent?.id === 'string' || (typeof sent?.id === 'number' && Number.isFinite(sent.id));
          return (
            mine.length === 1 && wellFormed(mine[0], validId ? sent.id : null) && mine[0].error !== undefined
          );
        }
        return mine.length === 1 && wellFormed(mine[0], sent.id);
      }),
      { seed: FUZZ_SEED, numRuns: fuzzRuns(300) },
    );
    front.send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 'final',
        method: 'tools/call',
        params: { name: 'ok__echo', arguments: { text: 'after the fuzz' } },
      }),
    );
    const final = await front.answer((m) => m.id === 'final');
    expect(final.result.content).toEqual([{ type: 'text', text: 'after the fuzz' }]);
  }, 600_000);
});
