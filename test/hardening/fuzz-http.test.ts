// Property-based fuzzing of the HTTP front: arbitrary JSON-RPC-ish messages on one session; every request gets
// exactly one well-formed answer, notifications and responses a 202, invalid messages a 400 with a JSON-RPC
// error, nothing hangs, and a normal client still works afterwards.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicStdio, connectClient, rawPost, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { expected, FUZZ_SEED, fuzzRuns, message, wellFormed, within } from './fuzz-arbitraries.js';
import { rawSession } from './wire-helpers.js';

/** Tools that answer at once: a fuzzed call never waits on a hanging or crashing tool. */
const UPSTREAMS = {
  ok: { ...basicStdio('ok'), tools: { allow: ['echo', 'add', 'whoami', 'fail', 'all_content'] } },
};

/** The JSON-RPC answer of a POST: the body, or the last SSE message without a method when it streamed. */
function answerOf(response: Awaited<ReturnType<typeof rawPost>>): unknown {
  if (!response.headers.get('content-type')?.startsWith('text/event-stream')) return response.json;
  const messages = response.text
    .split('\n')
    .filter((l) => l.startsWith('data: '))
    .map((l) => JSON.parse(l.slice(6)));
  const answers = messages.filter((m) => m.method === undefined);
  return answers.length === 1 ? answers[0] : { answers };
}

describe('fuzzing the HTTP front', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway({ upstreams: UPSTREAMS });
  });
  afterAll(() => gw.close());

  it('answers every request exactly once, accepts notifications, refuses invalid messages, and stays up', async () => {
    const { sessionId } = await rawSession(gw.url);
    await fc.assert(
      fc.asyncProperty(message, async (body) => {
        const text = JSON.stringify(body);
        const sent = JSON.parse(text);
        const response = await within(
          rawPost(gw.url, text, { 'mcp-session-id': sessionId }),
          10_000,
          undefined,
        );
        if (!response) return false; // no answer within 10 s: a hang
        const kind = expected(sent);
        if (kind === 'silent') return response.status === 202;
        if (kind === 'invalid') {
          const error = (response.json as any)?.error;
          return (
            response.status === 400 &&
            (response.json as any).id === null &&
            [-32600, -32700].includes(error?.code)
          );
        }
        return response.status === 200 && wellFormed(answerOf(response), sent.id);
      }),
      { seed: FUZZ_SEED, numRuns: fuzzRuns(300) },
    );
    const client = await connectClient(gw.url);
    try {
      const echoed = await client.callTool({ name: 'ok__echo', arguments: { text: 'after the fuzz' } });
      expect(echoed.content).toEqual([{ type: 'text', text: 'after the fuzz' }]);
    } finally {
      await client.close();
    }
  }, 600_000);
});
