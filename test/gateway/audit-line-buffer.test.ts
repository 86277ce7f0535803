// The audit batch buffer: what it encodes is, byte for byte, the sealed lines `audit verify` checks (any text,
// multi-byte characters included), across batches that outgrow the buffer and batches after them.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GENESIS, hasher, sealedLine, unseal, unsealedLine } from '../../src/gateway/audit/chain.js';
import { LineBuffer } from '../../src/gateway/audit/line-buffer.js';

const hash = hasher();

/** The batch as the sink wrote it before the buffer: each sealed line and a newline, as one UTF-8 string. */
function expected(bodies: string[], prev: string): string {
  return bodies
    .map((body, i) => {
      const unsealed = unsealedLine(body.slice(1), i + 1, prev);
      prev = hash(unsealed);
      return `${sealedLine(unsealed, prev)}\n`;
    })
    .join('');
}

function encoded(buffer: LineBuffer, bodies: string[], prev: string): Buffer {
  buffer.begin();
  bodies.forEach((body, i) => {
    const unsealed = unsealedLine(body.slice(1), i + 1, prev);
    prev = hash(unsealed);
    buffer.add(unsealed, prev);
  });
  return buffer.bytes();
}

// Record bodies as the sink gets them: JSON objects, with text of any code points and sometimes a large field.
const body = fc
  .record({ name: fc.string({ unit: 'grapheme', maxLength: 40 }), big: fc.nat({ max: 3 }) })
  .map(({ name, big }) => JSON.stringify({ time: 't', name, pad: big === 3 ? 'é€😀'.repeat(9_000) : '' }));

describe('the audit batch buffer', () => {
  it('encodes exactly the sealed lines, each of which verifies, batch after batch in one reused buffer', () => {
    const buffer = new LineBuffer();
    fc.assert(
      fc.property(fc.array(body, { maxLength: 12 }), (bodies) => {
        const bytes = encoded(buffer, bodies, GENESIS);
        expect(bytes.toString('utf8')).toBe(expected(bodies, GENESIS));
        for (const line of bytes.toString('utf8').split('\n').filter(Boolean)) {
          const sealed = unseal(line, hash)!;
          expect(sealed.actual).toBe(sealed.claimed);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('grows past its first 64 KB for a large batch and keeps what it had encoded', () => {
    const buffer = new LineBuffer();
    const bodies = Array.from({ length: 300 }, (_, i) => JSON.stringify({ n: i, text: 'ü'.repeat(400) }));
    const bytes = encoded(buffer, bodies, GENESIS);
    expect(bytes.length).toBeGreaterThan(64 * 1024);
    expect(bytes.toString('utf8')).toBe(expected(bodies, GENESIS));
    // The next batch starts at the beginning again.
    expect(encoded(buffer, bodies.slice(0, 2), GENESIS).toString('utf8')).toBe(
      expected(bodies.slice(0, 2), GENESIS),
    );
  });
});
