// The call record's text, written straight from its parts: byte for byte what `JSON.stringify` gives the record
// object audit.ts builds for a mirror (any text, lone surrogates and control characters included), also when the
// remembered parts (an item's names, a principal with its session) are reused or must not be; and the ISO time,
// formatted once per second, against Date's own.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CallLines, type CallFields } from '../../src/gateway/audit/call-line.js';
import { clip, durationText, isoAt, principalFields, shapeOf } from '../../src/gateway/audit/record.js';
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
      durationMs: fc.oneof(
        fc.double({ min: 0, max: 1e7, noNaN: true }).map((d) => Math.round(d * 1000) / 1000),
        fc.double({ noNaN: true }),
      ),
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

  it('reuses an item’s text and a session’s principal text only for what they were made for', () => {
    const lines = new CallLines();
    const items = [{}, {}];
    const sessions = [{}, {}, {}];
    fc.assert(
      fc.property(
        fc.array(fields(principal), { minLength: 2, maxLength: 4 }),
        fc.array(fc.tuple(fc.nat({ max: 3 }), fc.nat({ max: 1 }), fc.nat({ max: 2 }), fc.nat({ max: 2 })), {
          minLength: 1,
          maxLength: 20,
        }),
        (calls, picks) => {
          // A few calls again and again, each under some item and session, now and then with another principal
          // or another session id than the one before under that key.
          for (const [call, item, session, variant] of picks) {
            const base = calls[call % calls.length];
            const again = {
              ...base,
              principal: calls[(call + variant) % calls.length].principal,
              session: variant === 2 ? `${base.session}!` : base.session,
              sessionKey: sessions[session],
            };
            expect(`{${lines.fieldsText(again, items[item])}`).toBe(JSON.stringify(recordOf(again)));
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

describe('the record duration', () => {
  it('is String’s own text for durations rounded to the microsecond, and for any other number', () => {
    const rounded = fc
      .oneof(fc.double({ min: 0, max: 10, noNaN: true }), fc.double({ min: 0, max: 2 ** 44, noNaN: true }))
      .map((d) => Math.round(d * 1000) / 1000);
    const edges = fc.constantFrom(0, -0, 0.001, 0.999, 1, 8_796_093_022.207, 8_796_093_022.208, 1e21, -1.5);
    fc.assert(
      fc.property(fc.oneof(rounded, edges, fc.double()), (ms) => {
        expect(durationText(ms)).toBe(String(ms));
      }),
      { numRuns: 2000 },
    );
  });
});
