// A POST answer that streams opens with a priming event (protocol 2025-11-25 on) whose id names the request; a
// client whose stream was cut reconnects with GET + Last-Event-ID and hears at once that the answer is lost.
// Older protocol versions get no priming event; ids that are not the gateway's are an ordinary GET.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicStdio, startGateway, type RunningGateway } from '../helpers/gateway.js';

let gw: RunningGateway;
beforeAll(async () => {
  gw = await startGateway({ upstreams: { a: basicStdio('a') } });
});
afterAll(() => gw.close());

async function open(protocolVersion: string): Promise<string> {
  const response = await fetch(gw.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion, capabilities: {}, clientInfo: { name: 't', version: '1' } },
    }),
  });
  await response.text();
  return response.headers.get('mcp-session-id')!;
}

/** A tools/call that reports progress, so its answer streams; returns the SSE text. */
async function progressCall(session: string, protocolVersion: string, id: string | number): Promise<string> {
  const response = await fetch(gw.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-session-id': session,
      'mcp-protocol-version': protocolVersion,
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: 'a__progress', arguments: { steps: 1 }, _meta: { progressToken: 'p' } },
    }),
  });
  expect(response.headers.get('content-type')).toBe('text/event-stream');
  return response.text();
}

const resume = (session: string, lastEventId: string) =>
  fetch(gw.url, {
    headers: { accept: 'text/event-stream', 'mcp-session-id': session, 'last-event-id': lastEventId },
  });

describe('resuming a cut POST stream', () => {
  it('the stream opens with a priming event; a GET with its id answers that request with a clear error', async () => {
    const session = await open('2025-11-25');
    for (const id of [7, 'req-α', 0]) {
      const text = await progressCall(session, '2025-11-25', id);
      const priming = /^id: (\S+)\ndata: \n\n/.exec(text);
      expect(priming).not.toBeNull();
      const resumed = await resume(session, priming![1]);
      expect(resumed.status).toBe(200);
      const frame = /data: (.*)\n\n/.exec(await resumed.text())!;
      const answer = JSON.parse(frame[1]);
      expect(answer.id).toBe(id);
      expect(answer.error.code).toBe(-32603);
      expect(answer.error.message).toMatch(
        /cut before its answer was sent.*check its effect before retrying/,
      );
    }
  });

  it('an older protocol version gets no priming event', async () => {
    const session = await open('2025-06-18');
    const text = await progressCall(session, '2025-06-18', 3);
    expect(text).not.toMatch(/^id: /m);
    expect(text).toMatch(/"progress":1/);
  });

  it("a Last-Event-ID that is not the gateway's opens an ordinary GET stream", async () => {
    const session = await open('2025-11-25');
    for (const id of [
      '',
      'sb1',
      'sb1.x',
      'sb1.x.!!!',
      'sb1.x.e30',
      'other.x.Mw',
      `sb1.x.${'A'.repeat(600)}`,
    ]) {
      const response = await resume(session, id);
      expect(response.status).toBe(200);
      const reader = response.body!.getReader();
      const first = new TextDecoder().decode((await reader.read()).value);
      expect(first).toBe(': stream open\n\n');
      await reader.cancel();
      // The ordinary stream is the session's one: it must be gone before the next GET.
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
});
