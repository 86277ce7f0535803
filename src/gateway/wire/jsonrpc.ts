// THE JSON-RPC envelope, for both fronts (HTTP and stdio): one classification of a parsed message, with every
// field the gateway routes on type-checked here, and the encoding of every result, error and SSE frame written.
import type {
  JSONRPCMessage,
  JSONRPCNotification,
  JSONRPCRequest,
  RequestId,
} from '@modelcontextprotocol/sdk/types.js';
import { GatewayError } from '../../errors.js';

export type MessageKind = 'request' | 'notification' | 'response';

const hasOwn = Object.prototype.hasOwnProperty;

/** A JSON-RPC id the gateway accepts from a client: a string or a finite number (MCP forbids null). */
export function isRequestId(id: unknown): id is string | number {
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id));
}

/** The id to answer an invalid message with: its own when usable, otherwise null (JSON-RPC 2.0, 5.1). */
export function answerableId(message: unknown): string | number | null {
  if (!message || typeof message !== 'object' || !hasOwn.call(message, 'id')) return null;
  const id = (message as { id?: unknown }).id;
  return isRequestId(id) ? id : null;
}

/**
 * What a parsed message is; throws `invalid_request` for anything else. A request's method is a string and its
 * id a string or finite number; `params`, when present, is a JSON object (checked per request, where the
 * answer can carry the id). Only own properties count, so a body can never borrow fields from a prototype.
 */
export function classify(body: unknown): MessageKind {
  if (Array.isArray(body)) {
    throw new GatewayError(
      'invalid_request',
      'Invalid Request: JSON-RPC batches are not supported (removed in MCP 2025-06-18)',
    );
  }
  const message = body as Record<string, unknown> | null;
  if (!message || typeof message !== 'object' || message.jsonrpc !== '2.0') {
    throw new GatewayError('invalid_request', 'Invalid Request: expected a JSON-RPC 2.0 message object');
  }
  if (hasOwn.call(message, 'method')) {
    if (typeof message.method !== 'string') {
      throw new GatewayError('invalid_request', 'Invalid Request: method must be a string');
    }
    if (!hasOwn.call(message, 'id')) return 'notification';
    if (isRequestId(message.id)) return 'request';
    throw new GatewayError('invalid_request', 'Invalid Request: id must be a string or a number');
  }
  if (hasOwn.call(message, 'id') && (hasOwn.call(message, 'result') || hasOwn.call(message, 'error')))
    return 'response';
  throw new GatewayError('invalid_request', 'Invalid Request: not a request, notification or response');
}

/** `params` as the handlers read it: absent is `{}`, a JSON object is itself, anything else is refused. */
export function paramsOf(params: unknown): Record<string, unknown> {
  if (params === undefined) return {};
  if (params === null || typeof params !== 'object' || Array.isArray(params)) {
    throw new GatewayError('invalid_params', 'Invalid params: params must be an object');
  }
  return params as Record<string, unknown>;
}

/** Wire values are checked for type before use: a wrong type is invalid params, never a coerced string. */
export function stringParam(params: Record<string, any>, key: string, method: string): string {
  const value = params[key];
  if (typeof value !== 'string')
    throw new GatewayError('invalid_params', `Invalid params: ${method} needs params.${key} as a string`);
  return value;
}

export function objectParam(params: Record<string, any>, key: string, method: string): void {
  const value = params[key];
  if (value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value)))
    throw new GatewayError('invalid_params', `Invalid params: params.${key} of ${method} must be an object`);
}

/** A wire string fit to quote in an error message or log line: at most 100 characters. */
export function bounded(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}...` : text;
}

// ---- Encoding: every response, error and SSE frame the fronts write is built here. ----

/** The JSON text of a response: a string, or pieces (bytes passed on as they arrived); `undefined` when the
 * request was cancelled and must not be answered. */
export type ResponseText = string | Buffer | (string | Buffer)[] | undefined;

const RAW_PREFIX = Buffer.from('{"result":');
const CLOSE_BRACE = Buffer.from('}');
const SSE_HEAD = 'event: message\ndata: ';
const SSE_TAIL = '\n\n';

export function resultText(id: string | number, result: unknown): string {
  return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${JSON.stringify(result)}}`;
}

/** A response carrying an upstream's own result bytes. The envelope's `jsonrpc` and `id` come last, so nothing
 * inside those bytes can override them; the pieces go out as they are (no copy of a large result). */
export function rawResultPieces(id: string | number, raw: readonly Buffer[]): Buffer[] {
  return [RAW_PREFIX, ...raw, Buffer.from(`,"jsonrpc":"2.0","id":${JSON.stringify(id)}}`)];
}

/** A response whose result is pre-serialised JSON (a cached list). */
export function cachedResultPieces(id: string | number, resultJson: Buffer): Buffer[] {
  return [Buffer.from(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":`), resultJson, CLOSE_BRACE];
}

export function errorText(id: string | number | null, error: GatewayError): string {
  return JSON.stringify({ jsonrpc: '2.0', id, error: error.toJsonRpcError() });
}

/** One SSE `message` event carrying a JSON-RPC message (JSON text has no raw newlines, so one data line). */
export function sseFrame(message: object): string {
  return `${SSE_HEAD}${JSON.stringify(message)}${SSE_TAIL}`;
}

/** The same frame around a response that is already text or pieces. */
export function ssePieces(text: string | Buffer | (string | Buffer)[]): (string | Buffer)[] {
  return [SSE_HEAD, ...(Array.isArray(text) ? text : [text]), SSE_TAIL];
}

/** A response as a list of pieces to write. */
export function piecesOf(text: string | Buffer | (string | Buffer)[]): (string | Buffer)[] {
  return Array.isArray(text) ? text : [text];
}

/** A notification the gateway sends a client (progress, list_changed, cancellation). */
export function notificationOf(method: string, params?: Record<string, unknown>): JSONRPCNotification {
  return params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params };
}

/** A server-to-client request under the id the gateway gave it. */
export function requestOf(id: RequestId, method: string, params: unknown): JSONRPCRequest {
  return { jsonrpc: '2.0', id, method, params: params as JSONRPCRequest['params'] };
}

/** An error answer the gateway makes up on a client's behalf (a withdrawn question). */
export function errorOf(id: RequestId, code: number, message: string): JSONRPCMessage {
  return { jsonrpc: '2.0', id, error: { code, message } };
}
