// The call record's text, written straight from its parts: byte for byte what `JSON.stringify` gives the record
// object audit.ts builds for a mirror (any text, lone surrogates and control characters included), also when the
// remembered parts (an item's names, a principal with its session) are reused or must not be; and the ISO time,
// formatted once per second, against Date's own.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CallLines, type CallFields } from '../../src/gateway/audit/call-line.js';
import { clip, isoAt, principalFields, shapeOf } from '../../src/gateway/audit/record.js';
import type { Principal } from '../../src/policy/types.js';

/** The record object as audit.ts builds it when a mirror needs it, field by field in the same order. */
function recordOf(fields: CallFields): Record<string, unknown> {
  const record: Record<string, unknown> = { time: fields.time, event: 'call', method: fields.method };
  if (fields.name !== undefined) record.name = clip(fields.name);
  if (fields.upstream !== undefined) record.upstream = fields.upstream;
  if (fields.original !== undefined) record.original = clip(fields.original);
  record.principal = principalFields(fields.principal);
  record.session = fields.session;
  record.outcome = fields.outcome;
  if (fields.error)
    record.error = { code: fields.error.code, kind: fields.error.kind, message: clip(fields.error.message) };
  record.durationMs = fields.durationMs;
  if (fields.traceId) record.traceId = fields.traceId;
  if (fields.args !== undefined) record.args = shapeOf(fields.args);
  return record;
}

const text = fc.string({ unit: 'binary', maxLength: 40 });
const principal: fc.Arbitrary<Principal> = fc
  .record(
    {
      subject: text,
      groups: fc.array(text, { maxLength: 3 }),
      scopes: fc.array(text, { maxLength: 2 }),
      clientId: text,
      via: fc.constantFrom('apiKey' as const, 'jwt' as const, 'introspection' as const, 'stdio' as const),
      endpoint: text,
    },
    { requiredKeys: ['subject', 'groups', 'scopes', 'via'] },
  )
  .map((p) => Object.freeze(p));
const fields = (who: fc.Arbitrary<Principal>) =>
  fc.record<CallFields>(
    {
      time: fc.constant('2026-12-01T18:00:00.123Z'),
      method: fc.oneof(
        fc.constantFrom('tools/call', 'prompts/get', 'resources/read', 'completion/complete'),
        text,
      ),
      name: fc.oneof(text, fc.constant('x'.repeat(600))),
      upstream: text,
      original: text,
      principal: who,
      session: text,
      outcome: fc.constantFrom('ok', 'isError', 'cancelled', 'error'),
      error: fc.record({ code: fc.integer(), kind: text, message: text }),
      durationMs: fc.double({ min: 0, max: 1e7, noNaN: true }).map((d) => Math.round(d * 1000) / 1000),
      traceId: fc.oneof(
        fc.constant(''),
        fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 32, maxLength: 32 }),
      ),
      args: fc.jsonValue({ maxDepth: 6 }),
    },
    { requiredKeys: ['time', 'method', 'principal', 'session', 'outcome', 'durationMs'] },
  );

describe('the call record text', () => {
  it('is what JSON.stringify gives the record object, for any fields', () => {
    const lines = new CallLines();
    fc.assert(
      fc.property(fields(principal), (call) => {
        expect(`{${lines.fieldsText(call, undefined)}`).toBe(JSON.stringify(recordOf(call)));
      }),
      { numRuns: 500 },
    );
  });

  it('reuses an item’s and a principal’s text only for the names and the session they were made for', () => {
    const lines = new CallLines();
    const items = [{}, {}];
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fields(principal), fc.nat({ max: 1 })), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat({ max: 2 }), { minLength: 8, maxLength: 8 }),
        (calls, shuffle) => {
          // The same few principals, items and sessions again and again, with a field changed now and then.
          const principals = calls.map(([call]) => call.principal).slice(0, 2);
          for (const [i, [call, item]] of calls.entries()) {
            const again = {
              ...call,
              principal: principals[shuffle[i] % principals.length],
              session: shuffle[i] === 2 ? `${call.session}!` : call.session,
            };
            expect(`{${lines.fieldsText(again, items[item])}`).toBe(JSON.stringify(recordOf(again)));
            expect(`{${lines.fieldsText(call, items[item])}`).toBe(JSON.stringify(recordOf(call)));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('the record time', () => {
  it('is Date’s own ISO text, in any order of times, within and across seconds', () => {
    const now = Date.now();
    const near = fc.integer({ min: now - 5_000, max: now + 5_000 });
    const any = fc.integer({ min: 0, max: 253_402_300_799_999 });
    fc.assert(
      fc.property(fc.array(fc.oneof(near, any), { minLength: 1, maxLength: 20 }), (times) => {
        for (const ms of times) {
          expect(isoAt(ms)).toBe(new Date(ms).toISOString());
          expect(isoAt(ms)).toBe(new Date(ms).toISOString());
        }
      }),
      { numRuns: 500 },
    );
  });
});
