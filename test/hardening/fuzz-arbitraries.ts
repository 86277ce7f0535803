// fast-check generators of JSON-RPC-ish messages for the fuzz tests, and the oracle of what a front must answer.
// Fixed seed and a small run count by default (CI); FUZZ_RUNS and FUZZ_SEED give a larger local budget.
import fc from 'fast-check';

export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261130);
export const fuzzRuns = (fallback: number) => Number(process.env.FUZZ_RUNS ?? fallback);

const PROTO = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf'];
const METHODS = [
  'ping',
  'initialize',
  'tools/list',
  'tools/call',
  'prompts/list',
  'prompts/get',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'completion/complete',
  'logging/setLevel',
  'tasks/get',
  'tasks/list',
  'tasks/result',
  'tasks/cancel',
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/roots/list_changed',
  'notifications/progress',
  'notifications/message',
  'notifications/tools/list_changed',
  'notifications/resources/updated',
  'notifications/tasks/status',
  'sampling/createMessage',
  'elicitation/create',
  'roots/list',
];

const json = fc.jsonValue({ maxDepth: 3 });
/** Strings that matter more than random ones: prototype names, unicode, control and huge-looking text. */
const nasty = fc.oneof(
  fc.constantFrom(
    ...PROTO,
    '',
    ' ',
    '\u0000',
    '\u200b',
    '\u202e',
    '..',
    '../x',
    '%00',
    'ok__echo',
    'ok__whoami',
  ),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);
const anyValue = fc.oneof(json, nasty, fc.constantFrom(1e308, -0, 2 ** 53 + 1, 0.1, -1));

export const method = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom(...METHODS) },
  { weight: 2, arbitrary: nasty },
  { weight: 1, arbitrary: anyValue },
);
export const id = fc.oneof(
  { weight: 4, arbitrary: fc.integer() },
  { weight: 3, arbitrary: nasty },
  { weight: 1, arbitrary: fc.constantFrom(1e308, 0.5, -0, 2 ** 63) },
  {
    weight: 1,
    arbitrary: fc.oneof(fc.constant(null), fc.boolean(), fc.array(json, { maxLength: 2 }), fc.object()),
  },
);
/** Params shaped like MCP's (name, uri, level, ref, taskId, ...) with any value in each field, or anything at all. */
export const params = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record(
      {
        name: anyValue,
        uri: anyValue,
        level: fc.oneof(fc.constantFrom('debug', 'info', 'error'), anyValue),
        ref: fc.oneof(
          fc.record(
            {
              type: fc.oneof(fc.constantFrom('ref/prompt', 'ref/resource'), anyValue),
              name: anyValue,
              uri: anyValue,
            },
            { requiredKeys: [] },
          ),
          anyValue,
        ),
        taskId: anyValue,
        requestId: anyValue,
        arguments: fc.oneof(fc.dictionary(nasty, anyValue, { maxKeys: 3 }), anyValue),
        _meta: fc.oneof(fc.record({ progressToken: anyValue }, { requiredKeys: [] }), anyValue),
        cursor: anyValue,
        progressToken: anyValue,
      },
      { requiredKeys: [] },
    ),
  },
  { weight: 1, arbitrary: anyValue },
);

/** A JSON-RPC-ish message: usually a request, notification or response, with each field of any type. */
export const message = fc.oneof(
  {
    weight: 10,
    arbitrary: fc.record(
      {
        jsonrpc: fc.oneof({ weight: 9, arbitrary: fc.constant('2.0') }, { weight: 1, arbitrary: anyValue }),
        id,
        method,
        params,
        result: anyValue,
        error: fc.oneof(fc.record({ code: anyValue, message: anyValue }, { requiredKeys: [] }), anyValue),
      },
      { requiredKeys: ['jsonrpc'] },
    ),
  },
  { weight: 1, arbitrary: anyValue },
  { weight: 1, arbitrary: fc.array(json, { maxLength: 3 }) },
);

const has = (value: object, key: string) => Object.prototype.hasOwnProperty.call(value, key);
const validId = (value: unknown) =>
  typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));

/**
 * What a front must do with a message, decided independently of the gateway's code: answer it as a request
 * (with its id), accept it silently (notification or response), or refuse it as invalid.
 */
export function expected(body: unknown): 'request' | 'silent' | 'invalid' {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 'invalid';
  const m = body as Record<string, unknown>;
  if (m.jsonrpc !== '2.0') return 'invalid';
  if (has(m, 'method')) {
    if (typeof m.method !== 'string') return 'invalid';
    if (!has(m, 'id')) return 'silent';
    return validId(m.id) ? 'request' : 'invalid';
  }
  return has(m, 'id') && (has(m, 'result') || has(m, 'error')) ? 'silent' : 'invalid';
}

/** Whether an answer is one well-formed JSON-RPC response to `requestId`. */
export function wellFormed(answer: any, requestId: unknown): boolean {
  // Compared as JSON: what was sent is what came back (-0 is sent as 0).
  if (!answer || answer.jsonrpc !== '2.0' || JSON.stringify(answer.id) !== JSON.stringify(requestId))
    return false;
  const keys = Object.keys(answer).sort().join(',');
  if (keys === 'id,jsonrpc,result') return true;
  return (
    keys === 'error,id,jsonrpc' &&
    Number.isInteger(answer.error?.code) &&
    typeof answer.error?.message === 'string'
  );
}

/** Resolves with the promise's value, or with `timedOut` after `ms`: a hang becomes a failing example, not a stall. */
export function within<T>(promise: Promise<T>, ms: number, timedOut: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<T>((resolve) => (timer = setTimeout(() => resolve(timedOut), ms)));
  return Promise.race([promise, expiry]).finally(() => clearTimeout(timer));
}
