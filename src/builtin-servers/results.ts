// Shared result shapes of the built-in servers: a ToolError carries a message safe to show the client;
// `guarded` turns it into an `isError` tool result and hides the text of anything unexpected.
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

import { ToolError } from '../policy/guards/tool-error.js';

// One class for the built-in servers and the guards they share with any upstream (src/policy/guards).
export { ToolError };

export function textResult(text: string, structuredContent?: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], ...(structuredContent ? { structuredContent } : {}) };
}

export function errorResult(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

/** The client-safe message of an error: its own for ToolError, a generic one otherwise (may hold paths). */
export function safeMessage(err: unknown, what: string): string {
  if (err instanceof ToolError) return err.message;
  const code = (err as { code?: unknown })?.code;
  return `${what} failed${typeof code === 'string' ? ` (${code})` : ''}`;
}

/** Wraps a tool handler so every failure becomes an `isError` result with a clear, non-leaking message. */
export function guarded<A>(
  what: string,
  fn: (args: A, extra: Extra) => Promise<CallToolResult>,
): (args: A, extra: Extra) => Promise<CallToolResult> {
  return async (args: A, extra: Extra) => {
    try {
      return await fn(args, extra);
    } catch (err) {
      return errorResult(safeMessage(err, what));
    }
  };
}

/** Resource reads have no `isError`: failures are JSON-RPC errors (invalid params) with the same safe text. */
export async function guardedRead<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    // A plain Error with a numeric code: the SDK sends code and message as they are (McpError would
    // prefix the message, and the client's McpError prefixes it again).
    throw Object.assign(new Error(safeMessage(err, what)), { code: ErrorCode.InvalidParams });
  }
}

/** Cuts text to `max` characters, saying so. */
export function capText(text: string, max: number, note = 'output'): string {
  return text.length <= max ? text : `${text.slice(0, max)}\n[${note} truncated at ${max} characters]`;
}
