// Connections to one upstream: a shared connection (which also keeps the catalogue), per-session connections
// for `scope: session`, restart with backoff, and the state that /readyz and `check` report.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type {
  ClientCapabilities,
  JSONRPCNotification,
  JSONRPCRequest,
} from '@modelcontextprotocol/sdk/types.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Logger } from 'pino';
import {
  emptyCatalog,
  fetchCatalog,
  fetchKind,
  LIST_CHANGED_KINDS,
  type Catalog,
  type CatalogKind,
} from './catalog.js';
import type { SessionBudget } from './session-budget.js';
import { openClient, type OpenedClient, type TransportLimits, type UpstreamSpec } from './transports.js';

export type UpstreamState = 'starting' | 'ready' | 'down' | 'disabled' | 'stopped';

export interface Connection {
  readonly upstream: Upstream;
  readonly client: Client;
  /** The client session this connection belongs to (scope: session), or undefined when shared. */
  readonly sessionKey?: string;
  /** Progress callbacks by the token the gateway sent upstream. */
  readonly progress: Map<string, (progress: Record<string, unknown>) => void>;
  /** Why the gateway reset this connection (an overlong line), for the calls it failed. */
  readonly failure?: string;
}

/** How the gateway handles what an upstream sends on its own: server-to-client requests and notifications. */
export interface UpstreamHooks {
  onRequest(
    connection: Connection,
    request: JSONRPCRequest,
    extra: RequestHandlerExtra<any, any>,
  ): Promise<unknown>;
  onNotification(connection: Connection, notification: JSONRPCNotification): void;
  onCatalogChanged(upstream: Upstream): void;
  onStateChanged(upstream: Upstream): void;
}

export interface UpstreamOptions {
  name: string;
  spec: UpstreamSpec;
  scope: 'shared' | 'session';
  timeoutMs: number;
  log: Logger;
  hooks: UpstreamHooks;
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

const MiB = 1024 * 1024;

export class Upstream {
  readonly name: string;
  state: UpstreamState = 'starting';
  lastError?: string;
  catalog: Catalog = emptyCatalog();
  private shared?: Connection & { opened: OpenedClient };
  private sessions = new Map<string, Promise<Connection & { opened: OpenedClient }>>();
  private retryTimer?: NodeJS.Timeout;
  private failures = 0;
  private stopped = false;
  private refreshing = new Map<CatalogKind, Promise<void>>();
  /** Kinds announced changed while their refetch ran: one more fetch follows, however many notices came. */
  private refreshAgain = new Set<CatalogKind>();
  /** Budget slots held by per-session connections, released when they end. */
  private slots = new Map<string, () => void>();
  private stopping?: Promise<void>;
  private readonly limits: TransportLimits;
  private connecting = new Set<Transport>();
  /** The shared connection between its handshake and its first catalogue. */
  private starting?: Connection & { opened: OpenedClient };

  constructor(readonly options: UpstreamOptions) {
    this.name = options.name;
    this.limits = {
      name: options.name,
      maxLineBytes: options.maxLineBytes ?? 32 * MiB,
      maxResultBytes: options.maxResultBytes ?? 32 * MiB,
    };
  }

  /** Start-up gets a minute by default: `npx -y` may be downloading the server on first run. */
  private get startTimeoutMs(): number {
    return this.options.startTimeoutMs ?? Math.max(this.options.timeoutMs, 60_000);
  }

  get log(): Logger {
    return this.options.log;
  }

  get capabilities() {
    return this.shared?.client.getServerCapabilities();
  }

  get instructions(): string | undefined {
    return this.shared?.client.getInstructions();
  }

  /** The first connection attempt; resolves once it has settled either way (never rejects). */
  async start(): Promise<void> {
    await this.connectShared();
  }

  /**
   * The connection a call from this client session goes through; synchronous on the shared (hot) path. A new
   * per-session connection takes a slot of the budget (per `source` and in total) or throws saying which is full.
   */
  connectionFor(
    sessionKey: string,
    capabilities: ClientCapabilities,
    source?: string,
  ): Connection | Promise<Connection> {
    if (this.options.scope === 'shared' || this.state !== 'ready') {
      if (!this.shared)
        throw new Error(
          `upstream "${this.name}" is ${this.state}${this.lastError ? `: ${this.lastError}` : ''}`,
        );
      return this.shared;
    }
    let pending = this.sessions.get(sessionKey);
    if (!pending) {
      const release = this.options.budget?.take(this.name, source);
      if (release) this.slots.set(sessionKey, release);
      pending = this.open(capabilities, sessionKey);
      this.sessions.set(sessionKey, pending);
      pending.catch(() => {
        if (this.sessions.get(sessionKey) === pending) this.sessions.delete(sessionKey);
        this.freeSlot(sessionKey);
      });
    }
    return pending;
  }

  private freeSlot(sessionKey: string): void {
    this.slots.get(sessionKey)?.();
    this.slots.delete(sessionKey);
  }

  /** Ends the per-session connection (and its process) when the client session ends. */
  async releaseSession(sessionKey: string): Promise<void> {
    const pending = this.sessions.get(sessionKey);
    if (!pending) return;
    this.sessions.delete(sessionKey);
    const connection = await pending.catch(() => undefined);
    if (connection) await closeOpened(connection.opened);
    this.freeSlot(sessionKey);
  }

  /** Every live connection, for fan-out such as logging/setLevel. */
  async liveConnections(): Promise<Connection[]> {
    const list: Connection[] = this.shared ? [this.shared] : [];
    for (const pending of this.sessions.values()) {
      const connection = await pending.catch(() => undefined);
      if (connection) list.push(connection);
    }
    return list;
  }

  /** Stops every connection; a second call (a signal during shutdown) waits for the first instead of racing it. */
  stop(): Promise<void> {
    return (this.stopping ??= this.stopAll());
  }

  private async stopAll(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    const closing: Promise<void>[] = [];
    if (this.shared) closing.push(closeOpened(this.shared.opened));
    for (const transport of this.connecting) closing.push(transport.close().catch(() => {}));
    if (this.starting) closing.push(closeOpened(this.starting.opened));
    for (const key of [...this.sessions.keys()]) closing.push(this.releaseSession(key));
    this.shared = undefined;
    await Promise.all(closing);
    this.setState('stopped');
  }

  private async open(capabilities: ClientCapabilities, sessionKey?: string) {
    const startTimeout = this.startTimeoutMs;
    const opened = await openClient(
      this.options.spec,
      capabilities,
      startTimeout,
      this.log,
      this.connecting,
      this.limits,
    );
    if (this.stopped) {
      await closeOpened(opened);
      throw new Error(`upstream "${this.name}" stopped`);
    }
    const connection = {
      upstream: this,
      client: opened.client,
      sessionKey,
      opened,
      progress: new Map(),
      get failure() {
        return (opened.transport as { failure?: string }).failure;
      },
    };
    const { hooks } = this.options;
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
    transport.onmessage = (message, extra) => {
      if (!('method' in message) || 'id' in message || message.method === 'notifications/cancelled') {
        return protocol(message, extra);
      }
      this.onNotification(connection, message as JSONRPCNotification);
    };
    if (sessionKey !== undefined) {
      opened.client.onclose = () => {
        if (this.sessions.get(sessionKey) === undefined) return;
        this.sessions.delete(sessionKey);
        this.freeSlot(sessionKey);
        this.log.warn(
          { sessionId: sessionKey, error: connection.failure },
          'per-session upstream connection closed',
        );
      };
    }
    return connection;
  }

  private onNotification(connection: Connection, notification: JSONRPCNotification): void {
    if (notification.method === 'notifications/progress') {
      const { progressToken, ...progress } = (notification.params ?? {}) as Record<string, unknown>;
      connection.progress.get(progressToken as string)?.(progress);
      return;
    }
    const kinds = LIST_CHANGED_KINDS.get(notification.method);
    if (kinds) for (const kind of kinds) this.refresh(kind);
    this.options.hooks.onNotification(connection, notification);
  }

  private async connectShared(): Promise<void> {
    if (this.stopped) return;
    try {
      const connection = await this.open(this.options.sharedCapabilities);
      this.starting = connection;
      let catalog: Catalog;
      try {
        catalog = await fetchCatalog(connection.client, this.startTimeoutMs);
      } catch (error) {
        this.starting = undefined;
        await closeOpened(connection.opened);
        throw error;
      }
      this.starting = undefined;
      if (this.stopped) return void (await closeOpened(connection.opened));
      connection.client.onclose = () => this.onSharedClosed(connection);
      this.shared = connection;
      this.catalog = catalog;
      this.failures = 0;
      this.lastError = undefined;
      this.setState('ready');
      this.options.hooks.onCatalogChanged(this);
      this.log.info(
        { tools: catalog.tools.length, prompts: catalog.prompts.length, resources: catalog.resources.length },
        'upstream ready',
      );
    } catch (error) {
      this.markDown(describe(error));
    }
  }

  private onSharedClosed(connection: Connection): void {
    if (this.shared !== connection) return;
    this.shared = undefined;
    if (this.stopped) return;
    this.markDown(connection.failure ?? 'connection closed (the upstream exited or hung up)');
  }

  private markDown(reason: string): void {
    if (this.stopped) return;
    reason = this.options.redact?.(reason) ?? reason;
    this.lastError = reason;
    const hadItems = Object.values(this.catalog).some((list) => list.length > 0);
    this.catalog = emptyCatalog();
    this.setState('down');
    if (hadItems) this.options.hooks.onCatalogChanged(this);
    const { initialMs, maxMs } = this.options.backoff ?? { initialMs: 500, maxMs: 30_000 };
    const delay = Math.min(maxMs, initialMs * 2 ** this.failures++);
    this.log.error({ error: reason, retryInMs: delay }, 'upstream down');
    this.retryTimer = setTimeout(() => void this.connectShared(), delay);
    this.retryTimer.unref();
  }

  /**
   * Refetches one list after list_changed. A burst of notices costs at most two fetches: notices that arrive
   * while a fetch runs only mark the list dirty, and one follow-up fetch sees all of them.
   */
  private refresh(kind: CatalogKind): void {
    if (this.refreshing.has(kind)) {
      this.refreshAgain.add(kind);
      return;
    }
    const job = (async () => {
      do {
        this.refreshAgain.delete(kind);
        const client = this.shared?.client;
        if (!client || this.stopped) return;
        try {
          this.catalog = { ...this.catalog, [kind]: await fetchKind(client, kind, this.options.timeoutMs) };
          this.options.hooks.onCatalogChanged(this);
        } catch (error) {
          this.log.warn(
            { error: describe(error), kind },
            'refreshing the catalogue failed; keeping the old one',
          );
        }
      } while (this.refreshAgain.has(kind));
    })().finally(() => this.refreshing.delete(kind));
    this.refreshing.set(kind, job);
  }

  private setState(state: UpstreamState): void {
    if (this.state === state) return;
    this.state = state;
    this.options.hooks.onStateChanged(this);
  }
}

async function closeOpened(opened: OpenedClient): Promise<void> {
  opened.client.onclose = undefined;
  await opened.client.close().catch(() => {});
  await opened.dispose().catch(() => {});
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
