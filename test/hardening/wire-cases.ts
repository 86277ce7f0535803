// The attack table both fronts are tested with: client messages whose method, id or params are the wrong type
// or name an Object.prototype member, each with the exact JSON-RPC error a user sees.
export interface WireCase {
  title: string;
  /** The message, or its exact JSON text when JSON.stringify cannot produce it. */
  body: unknown;
  code: number;
  message: string;
  data?: unknown;
  /** Refused before any session is involved: over HTTP a 400 whose id is null. */
  envelope?: boolean;
}

const PROTO_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];
const request = (id: number, method: unknown, params?: unknown) =>
  params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params };

let id = 100;
const next = () => id++;

export const WIRE_CASES: WireCase[] = [
  ...PROTO_NAMES.map((method) => ({
    title: `method ${method}`,
    body: request(next(), method),
    code: -32601,
    message: `Method not found: ${method}`,
  })),
  ...[5, null, true, {}, ['tools/list'], { toString: 'tools/list' }].map((method) => ({
    title: `method ${JSON.stringify(method)}`,
    body: request(next(), method),
    code: -32600,
    message: 'Invalid Request: method must be a string',
    envelope: true,
  })),
  ...[null, true, {}, [1]].map((badId) => ({
    title: `id ${JSON.stringify(badId)}`,
    body: { jsonrpc: '2.0', id: badId, method: 'ping' },
    code: -32600,
    message: 'Invalid Request: id must be a string or a number',
    envelope: true,
  })),
  {
    title: 'id too large for a number (Infinity once parsed)',
    body: '{"jsonrpc":"2.0","id":1e400,"method":"ping"}',
    code: -32600,
    message: 'Invalid Request: id must be a string or a number',
    envelope: true,
  },
  ...['text', 5, [1, 2], null, true].map((params) => ({
    title: `params ${JSON.stringify(params)}`,
    body: request(next(), 'tools/list', params),
    code: -32602,
    message: 'Invalid params: params must be an object',
  })),
  ...[5, { toString: 1 }, ['a'], null, undefined].map((name) => ({
    title: `tools/call name ${JSON.stringify(name)}`,
    body: request(next(), 'tools/call', { name, arguments: {} }),
    code: -32602,
    message: 'Invalid params: tools/call needs params.name as a string',
  })),
  ...PROTO_NAMES.map((name) => ({
    title: `tools/call name ${name}`,
    body: request(next(), 'tools/call', { name }),
    code: -32602,
    message: `Unknown tool: ${name}`,
  })),
  {
    title: 'tools/call arguments as a string',
    body: request(next(), 'tools/call', { name: 'ok__echo', arguments: 'text' }),
    code: -32602,
    message: 'Invalid params: params.arguments of tools/call must be an object',
  },
  {
    title: 'progress token as an object',
    body: request(next(), 'tools/call', { name: 'ok__echo', _meta: { progressToken: {} } }),
    code: -32602,
    message: 'Invalid params: _meta.progressToken must be a string or a number',
  },
  {
    title: 'prompts/get name as an object',
    body: request(next(), 'prompts/get', { name: { toString: null } }),
    code: -32602,
    message: 'Invalid params: prompts/get needs params.name as a string',
  },
  {
    title: 'prompts/get name __proto__',
    body: request(next(), 'prompts/get', { name: '__proto__' }),
    code: -32602,
    message: 'Unknown prompt: __proto__',
  },
  {
    title: 'resources/read uri as a number',
    body: request(next(), 'resources/read', { uri: 7 }),
    code: -32602,
    message: 'Invalid params: resources/read needs params.uri as a string',
  },
  {
    title: 'resources/subscribe uri as an array',
    body: request(next(), 'resources/subscribe', { uri: ['x'] }),
    code: -32602,
    message: 'Invalid params: resources/subscribe needs params.uri as a string',
  },
  {
    title: 'logging/setLevel level constructor',
    body: request(next(), 'logging/setLevel', { level: 'constructor' }),
    code: -32602,
    message: 'Unknown logging level: constructor',
  },
  {
    title: 'logging/setLevel level as an object',
    body: request(next(), 'logging/setLevel', { level: { toString: 1 } }),
    code: -32602,
    message: 'Invalid params: logging/setLevel needs params.level as a string',
  },
  {
    title: 'completion ref as a string',
    body: request(next(), 'completion/complete', { ref: 'ref/prompt', argument: {} }),
    code: -32602,
    message: 'Invalid params: params.ref of completion/complete must be an object',
  },
  {
    title: 'completion ref type toString',
    body: request(next(), 'completion/complete', { ref: { type: 'toString' } }),
    code: -32602,
    message: 'completion/complete: unknown ref type "toString"',
  },
  {
    title: 'completion prompt ref name as a number',
    body: request(next(), 'completion/complete', { ref: { type: 'ref/prompt', name: 3 } }),
    code: -32602,
    message: 'Invalid params: completion/complete (ref) needs params.name as a string',
  },
  {
    title: 'tasks/get taskId as an object',
    body: request(next(), 'tasks/get', { taskId: { a: 1 } }),
    code: -32602,
    message: 'Invalid params: tasks/get needs params.taskId as a string',
  },
  {
    title: 'tasks/get taskId __proto__',
    body: request(next(), 'tasks/get', { taskId: '__proto__' }),
    code: -32602,
    message: 'Unknown task: __proto__',
    data: { taskId: '__proto__' },
  },
  {
    title: 'a method a megabyte long',
    body: request(next(), 'x'.repeat(1 << 20)),
    code: -32601,
    message: `Method not found: ${'x'.repeat(100)}...`,
  },
];

/** Messages that need no answer (notifications and stray responses), each with a prototype-ish twist. */
export const SILENT_CASES: unknown[] = [
  { jsonrpc: '2.0', method: 'constructor' },
  { jsonrpc: '2.0', method: '__proto__', params: { x: 1 } },
  { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: '__proto__' } },
  { jsonrpc: '2.0', method: 'notifications/cancelled', params: 'text' },
  { jsonrpc: '2.0', method: 'notifications/roots/list_changed', params: [1] },
  { jsonrpc: '2.0', id: 'toString', result: {} },
  { jsonrpc: '2.0', id: 999_999, error: { code: 'x' } },
];

export const bodyText = (body: unknown) => (typeof body === 'string' ? body : JSON.stringify(body));

/** The JSON-RPC error object a case expects. */
export const errorOf = (c: WireCase) => ({
  code: c.code,
  message: c.message,
  ...(c.data === undefined ? {} : { data: c.data }),
});
