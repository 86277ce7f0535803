// Issue 10 point 5: a large upstream result goes to the client as the pieces it arrived in (pipe reads), with
// no copy into one buffer, byte-exact, also when a piece boundary splits a UTF-8 character or the envelope.
import path from 'node:path';
import { LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { rememberRawResult, takeRawResult } from '../../src/upstreams/raw-results.js';
import { INIT, rawPost, ROOT, TSX } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';
import { stdioFront } from '../hardening/wire-helpers.js';

const h = useHarness();
const SLOW = path.join(ROOT, 'test/fixtures/servers/h-slow-start.ts');
const big = { command: process.execPath, args: ['--import', TSX, SLOW, '--label', 'big', '--delay', '0'] };
/** What the fixture's `big` tool returns: one- to four-byte UTF-8 characters, so pipe reads split some. */
const bigText = (size: number) => 'aé€😀'.repeat(Math.ceil(size / 10));

/** A response line as SDK servers write it, cut into pieces at `cuts`, all views of one buffer. */
function linePieces(result: object, id: number, cuts: number[]) {
  const line = Buffer.from(`{"result":${JSON.stringify(result)},"jsonrpc":"2.0","id":${id}}`);
  const pieces: Buffer[] = [];
  let at = 0;
  for (const cut of [...cuts, line.length]) {
    pieces.push(line.subarray(at, cut));
    at = cut;
  }
  return { line, pieces };
}

describe('remembering raw result bytes as pieces', () => {
  const result = { content: [{ type: 'text', text: bigText(8000) }] };
  const json = Buffer.from(JSON.stringify(result));

  it('keeps exactly the result bytes wherever the pieces are cut, the envelope included, without copying', () => {
    const length = Buffer.byteLength(`{"result":${json},"jsonrpc":"2.0","id":7}`);
    const cuts: number[][] = [[]];
    // Cuts inside and around the prefix and the suffix, single-byte pieces, and an empty last piece.
    for (let i = 1; i <= 12; i++) cuts.push([i], [length - i]);
    cuts.push(
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
      [length - 30, length - 20, length - 2, length - 1, length],
    );
    cuts.push([3, 5000, 5001, length - 25]);
    for (const at of cuts) {
      const { line, pieces } = linePieces(result, 7, at);
      const message = JSON.parse(line.toString());
      rememberRawResult(pieces, line.length, message);
      const raw = takeRawResult(message.result);
      expect(raw, `cuts ${at}`).toBeDefined();
      expect(Buffer.concat(raw!).equals(json), `cuts ${at}`).toBe(true);
      // Views into the upstream's own memory, never a copy.
      for (const piece of raw!) expect(piece.buffer).toBe(line.buffer);
      expect(raw!.every((piece) => piece.length > 0)).toBe(true);
    }
  });

  it('keeps nothing for a line of another shape, a string id, or a small result', () => {
    const shapes = [
      `{"result":${json},"jsonrpc":"2.0","id":"7"}`,
      `{"jsonrpc":"2.0","id":7,"result":${json}}`,
      `{"result":${json},"jsonrpc":"2.0","id":7,"extra":1}`,
      `{"result":${json},"jsonrpc":"2.0","id":7} `,
      `{"result":{"content":[]},"jsonrpc":"2.0","id":7}`,
    ];
    for (const text of shapes) {
      const line = Buffer.from(text);
      const message = JSON.parse(text);
      rememberRawResult([line.subarray(0, 5), line.subarray(5)], line.length, message);
      expect(takeRawResult(message.result), text.slice(-40)).toBeUndefined();
    }
  });
});

describe('large stdio results reach the client byte-exact', () => {
  it('100 KB and 1 MB results with split UTF-8 characters, concurrent, each under its own id (HTTP front)', async () => {
    const gw = await h.gateway({ upstreams: { big } });
    const init = await rawPost(gw.url, INIT);
    const session = { 'mcp-session-id': init.headers.get('mcp-session-id')! };
    const sizes = [100_000, 1_000_000, 5000, 100_003];
    const answers = await Promise.all(
      sizes.map((size, i) =>
        rawPost(
          gw.url,
          JSON.stringify({
            jsonrpc: '2.0',
            id: `call-${i}`,
            method: 'tools/call',
            params: { name: 'big__big', arguments: { size } },
          }),
          { ...session, accept: 'application/json' },
        ),
      ),
    );
    answers.forEach((answer, i) => {
      expect(answer.status).toBe(200);
      expect(Number(answer.headers.get('content-length'))).toBe(Buffer.byteLength(answer.text));
      expect(answer.json.id).toBe(`call-${i}`);
      expect(answer.json.jsonrpc).toBe('2.0');
      expect(answer.json.result.content[0].text).toBe(bigText(sizes[i]));
      expect(answer.text).not.toContain('\ufffd');
    });
    // The gateway keeps serving small calls on the same connection.
    const small = await rawPost(
      gw.url,
      JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'big__hello' } }),
      { ...session, accept: 'application/json' },
    );
    expect(small.json.result.content).toEqual([{ type: 'text', text: 'hello from big' }]);
  });

  it('a large log message split across pipe reads is decoded intact (it is re-serialised, not passed on)', async () => {
    const gw = await h.gateway({ upstreams: { big } });
    const client = await h.client(gw);
    const logs: unknown[] = [];
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(n.params.data));
    const result = await client.callTool({ name: 'big__big', arguments: { size: 200_000, log: true } });
    expect((result.content as { text: string }[])[0].text).toBe(bigText(200_000));
    expect(logs).toHaveLength(1);
    expect(logs[0]).toBe(bigText(200_000));
  });

  it('a 300 KB result goes out on the stdio front as one valid line', async () => {
    const front = await stdioFront({ upstreams: { big } });
    h.defer(() => front.close());
    front.send(INIT);
    await front.answer((m) => m.id === 1);
    front.send(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 2,
        method: 'tools/call',
        params: { name: 'big__big', arguments: { size: 300_000 } },
      }),
    );
    const answer = await front.answer((m) => m.id === 2);
    expect(answer.jsonrpc).toBe('2.0');
    expect(answer.result.content[0].text).toBe(bigText(300_000));
  });
});
