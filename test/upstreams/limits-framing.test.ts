// The framing caps at their edges: the SSE parser's per-event cap (exact size passes, one more fails, however
// the bytes are split), and the stdio transport's line cap against a real child writing in many small pieces.
import { describe, expect, it } from 'vitest';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { SseParser, type SseEvent } from '../../src/upstreams/sse-parser.js';
import { StdioClientTransport } from '../../src/upstreams/stdio-transport.js';
import { waitFor } from '../helpers/gateway.js';

function parse(chunks: string[], max: number) {
  const events: SseEvent[] = [];
  let overflows = 0;
  const parser = new SseParser(
    (e) => events.push(e),
    max,
    () => overflows++,
  );
  for (const chunk of chunks) parser.push(chunk);
  return { events, overflows };
}

/** Splits text into pieces of `size` characters. */
const pieces = (text: string, size: number) =>
  Array.from({ length: Math.ceil(text.length / size) }, (_, i) => text.slice(i * size, (i + 1) * size));

describe('SseParser size cap', () => {
  it('passes an event whose data is exactly at the cap, and refuses one character more', () => {
    const data = 'd'.repeat(99); // counted with its line end: 100
    expect(parse([`data: ${data}\n\n`], 100)).toEqual({ events: [{ event: 'message', data }], overflows: 0 });
    expect(parse([`data: ${data}d\n\n`], 100)).toEqual({ events: [], overflows: 1 });
  });

  it('trips on a line that never ends, however small its pieces, and parses nothing after', () => {
    const { events, overflows } = parse(
      [...pieces('data: ' + 'x'.repeat(5000), 7), '\n\ndata: later\n\n'],
      1000,
    );
    expect(overflows).toBe(1);
    expect(events).toEqual([]);
  });

  it('trips on many short data lines that add up past the cap', () => {
    expect(parse(['data: abcdefghi\n'.repeat(200)], 1000).overflows).toBe(1);
  });

  it('caps each event, not the stream: many events totalling far more than the cap all pass', () => {
    const { events, overflows } = parse(pieces('data: 0123456789\n\n'.repeat(1000), 13), 100);
    expect(overflows).toBe(0);
    expect(events).toHaveLength(1000);
  });
});

/** A child that writes the given lines in 1,000-byte pieces, one per event-loop turn, then stays. */
function writer(lines: string[]) {
  const script = `const t = ${JSON.stringify(lines.join('\n') + '\n')}; let i = 0;
    const next = () => { if (i >= t.length) return; process.stdout.write(t.slice(i, i += 1000)); setImmediate(next); };
    next(); process.stdin.resume();`;
  return new StdioClientTransport({
    command: process.execPath,
    args: ['-e', script],
    env: {},
    name: 'edge',
    maxLineBytes: 10_000,
    killGraceMs: 500,
  });
}

/** A JSON-RPC notification line of exactly `bytes` bytes. */
function lineOf(bytes: number): string {
  const empty = JSON.stringify({ jsonrpc: '2.0', method: 'x', params: { p: '' } });
  return JSON.stringify({ jsonrpc: '2.0', method: 'x', params: { p: 'a'.repeat(bytes - empty.length) } });
}

describe('stdio line cap', () => {
  it('delivers a line of exactly maxLineBytes split over many reads', async () => {
    const transport = writer([lineOf(10_000), lineOf(50)]);
    const got: JSONRPCMessage[] = [];
    transport.onmessage = (m) => got.push(m);
    await transport.start();
    await waitFor(() => got.length === 2);
    expect(transport.failure).toBeUndefined();
    await transport.close();
  });

  it('resets the connection on one byte more, naming the upstream and the cap, and ends the process', async () => {
    const transport = writer([lineOf(50), lineOf(10_001), lineOf(50)]);
    const got: JSONRPCMessage[] = [];
    let closed = false;
    transport.onmessage = (m) => got.push(m);
    transport.onclose = () => (closed = true);
    await transport.start();
    await waitFor(() => closed);
    expect(got).toHaveLength(1);
    expect(transport.failure).toBe(
      'upstream "edge" sent a line longer than 10000 bytes (maxLineBytes); its connection was reset',
    );
    const pid = transport.pid!;
    await waitFor(() => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    await expect(transport.send({ jsonrpc: '2.0', method: 'x' })).rejects.toThrow(transport.failure!);
  });
});
