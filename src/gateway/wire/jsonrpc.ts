// The JSON-RPC envelope as both fronts (HTTP and stdio) read it: one classification of a parsed message, with
// every field the gateway routes on type-checked here, so nothing past this point trusts a wire value's type.
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

/** A wire string fit to quote in an error message or log line: at most 100 characters. */
export function bounded(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}...` : text;
}
