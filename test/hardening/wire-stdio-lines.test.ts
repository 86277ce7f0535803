// The stdio front's line buffer is bounded (stdio.maxLineBytes) and never re-scanned: an over-long line is
// refused with one error as soon as it passes the cap, the rest of it is skipped, and the next line is served.
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/gateway.js';
import { stdioFront } from './wire-helpers.js';

let front: Awaited<ReturnType<typeof stdioFront>> | undefined;
afterEach(async () => {
  await front?.close();
  front = undefined;
});

const LIMIT = 4096;
const TOO_LONG = {
  jsonrpc: '2.0',
  id: null,
  error: {
    code: -32600,
    message: `Invalid Request: line longer than stdio.maxLineBytes (${LIMIT} bytes); it was discarded`,
  },
};
/** A ping request padded with spaces to exactly `bytes` bytes. */
const pingOf = (id: string, bytes: number) => {
  const text = JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' });
  return text.slice(0, -1) + ' '.repeat(bytes - text.length) + '}';
};
const inChunks = (text: string, size: number) => {
  const bytes = Buffer.from(text);
  const chunks = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return chunks;
};

describe('stdio front line buffer', () => {
  it('accepts a line of exactly stdio.maxLineBytes and refuses one byte more, then serves the next line', async () => {
    front = await stdioFront({ upstreams: {}, stdio: { maxLineBytes: LIMIT } });
    front.send(pingOf('edge', LIMIT));
    expect(await front.answer((m) => m.id === 'edge')).toEqual({ jsonrpc: '2.0', id: 'edge', result: {} });
    front.send(pingOf('over', LIMIT + 1));
    front.send(pingOf('next', 100));
    await front.answer((m) => m.id === 'next');
    expect(front.lines.slice(1)).toEqual([TOO_LONG, { jsonrpc: '2.0', id: 'next', result: {} }]);
  });

  it('refuses an over-long line arriving in small chunks as soon as it passes the cap, before its newline', async () => {
    front = await stdioFront({ upstreams: {}, stdio: { maxLineBytes: LIMIT } });
    for (const chunk of inChunks(pingOf('long', LIMIT * 3), 100)) front.input.write(chunk);
    await waitFor(() => front!.lines.length === 1);
    expect(front.lines).toEqual([TOO_LONG]);
    // The rest of the line (still no newline) is skipped, not buffered and not refused again.
    front.input.write(Buffer.alloc(LIMIT * 4, 0x20));
    front.input.write('\n' + pingOf('after', 60) + '\n');
    await front.answer((m) => m.id === 'after');
    expect(front.lines).toEqual([TOO_LONG, { jsonrpc: '2.0', id: 'after', result: {} }]);
  });

  it('splits many lines in one chunk and one line across many chunks, and decodes UTF-8 split between chunks', async () => {
    front = await stdioFront({ upstreams: {}, stdio: { maxLineBytes: LIMIT } });
    front.input.write(
      [1, 2, 3].map((i) => JSON.stringify({ jsonrpc: '2.0', id: i, method: 'ping' })).join('\n') + '\n',
    );
    // "é" is two bytes; a chunk boundary falls between them. The method is echoed in the error.
    const line = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'caf\u00e9' }) + '\n');
    const split = line.indexOf(0xc3) + 1;
    front.input.write(line.subarray(0, split));
    front.input.write(line.subarray(split));
    await front.answer((m) => m.id === 4);
    expect(front.lines.map((m) => m.id)).toEqual([1, 2, 3, 4]);
    expect(front.lines[3].error.message).toBe('Method not found: caf\u00e9');
  });

  it('refuses a line past the default cap of 32 MiB', async () => {
    front = await stdioFront({ upstreams: {} });
    const chunk = Buffer.alloc(1 << 20, 0x20);
    for (let i = 0; i <= 32; i++) front.input.write(chunk);
    await waitFor(() => front!.lines.length === 1);
    expect(front.lines[0].error).toEqual({
      code: -32600,
      message: `Invalid Request: line longer than stdio.maxLineBytes (${32 * 1024 * 1024} bytes); it was discarded`,
    });
  });

  it('reads a 16 MiB line that arrives in 16 KiB chunks without re-scanning what is buffered', async () => {
    front = await stdioFront({ upstreams: {} });
    const started = performance.now();
    for (const chunk of inChunks(pingOf('big', 16 << 20), 16 << 10)) front.input.write(chunk);
    front.input.write('\n');
    await front.answer((m) => m.id === 'big', 30_000);
    // Linear work is well under a second here; re-scanning the buffer per chunk takes many seconds.
    expect(performance.now() - started).toBeLessThan(3000);
  });
});
