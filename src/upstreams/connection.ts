// What a connection to an upstream is, the hooks through which the gateway hears what upstreams send on their
// own, the options of an upstream, and how an opened SDK client's traffic is routed to those hooks.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type {
  ClientCapabilities,
  JSONRPCNotification,
  JSONRPCRequest,
} from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Logger } from 'pino';
import { deliverResult } from './fast-results.js';
import type { TokenSource } from './credentials.js';
import type { SessionBudget } from './session-budget.js';
import type { OpenedClient, UpstreamSpec } from './transports.js';

export type UpstreamState = 'starting' | 'ready' | 'down' | 'disabled' | 'stopped';

/** `U` is the Upstream class (pool.ts names the concrete type), so this file does not import pool.ts. */
export interface ConnectionOf<U> {
  readonly upstream: U;
  readonly client: Client;
  /** The client session this connection belongs to (scope: session), or undefined when shared. */
  readonly sessionKey?: string;
  /** Progress callbacks by the token the gateway sent upstream. */
  readonly progress: Map<string, (progress: Record<string, unknown>) => void>;
  /** Why the gateway reset this connection (an overlong line), for the calls it failed. */
  readonly failure?: string;
  /** The token this connection's requests carry (`auth:`); a call checks it is fresh before it is sent. */
  readonly token?: TokenSource;
  /** Set on a connection of one caller's own (token exchange): the caller it belongs to. */
  readonly callerKey?: string;
}

/** How the gateway handles what an upstream sends on its own: server-to-client requests and notifications. */
export interface UpstreamHooksOf<U> {
  onRequest(
    connection: ConnectionOf<U>,
    request: JSONRPCRequest,
    extra: RequestHandlerExtra<any, any>,
  ): Promise<unknown>;
  onNotification(connection: ConnectionOf<U>, notification: JSONRPCNotification): void;
  onCatalogChanged(upstream: U): void;
  onStateChanged(upstream: U): void;
}

export interface UpstreamOptionsOf<U> {
  name: string;
  spec: UpstreamSpec;
  scope: 'shared' | 'session';
  timeoutMs: number;
  log: Logger;
  hooks: UpstreamHooksOf<U>;
  /** Capabilities declared on shared connections; per-session ones declare the client's own. */
  sharedCapabilities: ClientCapabilities;
  backoff?: { initialMs: number; maxMs: number };
  /** The longest a call may take in total, even while it reports progress. */
  maxTimeoutMs?: number;
  /** How long connecting and the first catalogue may take (default: the timeout, at least a minute). */
  startTimeoutMs?: number;
  /** stdio: the longest line before the connection is reset. */
  maxLineBytes?: number;
  /** The largest result a call accepts. */
  maxResultBytes?: number;
  /** Shared caps on per-session connections (scope: session). */
  budget?: SessionBudget;
  /** Takes credentials out of error text before it is kept (clients, /readyz and `check` all show it). */
  redact?: (text: string) => string;
}

/** Hands every server-to-client request to the gateway, and takes notifications off the transport at once. */
export function routeTraffic<U>(
  opened: OpenedClient,
  connection: ConnectionOf<U>,
  hooks: UpstreamHooksOf<U>,
  onNotification: (notification: JSONRPCNotification) => void,
): void {
  // Every server-to-client request goes to the gateway untouched; ping is routed like the rest.
  opened.client.removeRequestHandler('ping');
  opened.client.fallbackRequestHandler = (request, extra) =>
    hooks.onRequest(connection, request, extra) as Promise<any>;
  // Notifications are taken off the transport synchronously, in arrival order. The SDK runs notification
  // handlers a microtask late but settles responses at once, so a call's last progress would be lost
  // (and a log could trail its result). Only cancellation is left to the SDK: it aborts its request handlers.
  opened.client.removeNotificationHandler('notifications/progress');
  const transport = opened.transport;
  const protocol = transport.onmessage!;
  const client = opened.client;
  transport.onmessage = (message, extra) => {
    // A plain result goes to its request without the SDK's schema passes (fast-results.ts).
    if ('result' in message && deliverResult(client, message)) return;
    if (!('method' in message) || 'id' in message || message.method === 'notifications/cancelled') {
      return protocol(message, extra);
    }
    onNotification(message as JSONRPCNotification);
  };
}

/** Closes an opened client and its transport without reporting the close as a failure. */
export async function closeOpened(opened: OpenedClient): Promise<void> {
  opened.client.onclose = undefined;
  await opened.client.close().catch(() => {});
  await opened.dispose().catch(() => {});
}

export function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
