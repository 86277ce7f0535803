// The decision seam: a stage's decision line reaches every subscriber with who and which session, the log line is
// written as before, and with no subscriber the stages get the plain logger (nothing added per call).
import { describe, expect, it } from 'vitest';
import { DecisionSinks, type DecisionContext } from '../../src/gateway/decisions.js';
import { DECISION_MESSAGE, decisionEvent, type DecisionEvent } from '../../src/policy/decisions.js';
import type { CallLog, Principal } from '../../src/policy/types.js';

const alice: Principal = { subject: 'alice', groups: ['analysts'], scopes: [], via: 'apiKey' };
const target = { kind: 'tool' as const, upstream: 'sql', name: 'sql__drop', original: 'drop' };

function recordingLog() {
  const lines: { level: string; fields: object; message?: string }[] = [];
  const at =
    (level: string) =>
    (fields: object, message?: string): void =>
      void lines.push({ level, fields, message });
  const log: CallLog = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  return { log, lines };
}

describe('DecisionSinks', () => {
  it('passes the plain logger when nobody listens', () => {
    const { log } = recordingLog();
    expect(new DecisionSinks().callLog(log, {})).toBe(log);
  });

  it('hands each decision line to every listener with its context, and still logs it', () => {
    const sinks = new DecisionSinks();
    const seen: [DecisionEvent, DecisionContext][] = [];
    sinks.subscribe((event, context) => seen.push([event, context]));
    sinks.subscribe((event) => seen.push([event, {}]));
    const { log, lines } = recordingLog();
    const context = { principal: alice, sessionId: 's-1', method: 'tools/call' };
    const callLog = sinks.callLog(log, context);
    const event = decisionEvent(alice, 'tools/call', target, {
      rule: 'no-drops',
      effect: 'deny',
      reason: 'r',
    });
    callLog.info({ decision: event }, DECISION_MESSAGE);
    callLog.info({ other: 1 }, 'something else');
    callLog.info({ decision: event }, 'not a decision message');
    callLog.warn({ decision: event }, DECISION_MESSAGE);
    expect(seen).toEqual([
      [event, context],
      [event, {}],
    ]);
    expect(lines.map((line) => [line.level, line.message])).toEqual([
      ['info', DECISION_MESSAGE],
      ['info', 'something else'],
      ['info', 'not a decision message'],
      ['warn', DECISION_MESSAGE],
    ]);
  });
});
