// Connections to one upstream: a shared connection (which also keeps the catalogue), per-session connections
// for `scope: session`, restart with backoff, and the state that /readyz and `check` report.
import type { ClientCapabilities, JSONRPCNotification } from '@modelcontextprotocol/sdk/types.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';
import {
  emptyCatalog,
  fetchCatalog,
  fetchKind,
  LIST_CHANGED_KINDS,
  type Catalog,
  type CatalogKind,
} from './catalog.js';
import { CallerHolders } from './caller-holders.js';
import { CatalogRefresher } from './catalog-refresh.js';
import {
  closeOpened,
  describe,
  routeTraffic,
  type ConnectionOf,
  type UpstreamHooksOf,
  type UpstreamOptionsOf,
  type UpstreamState,
} from './connection.js';
import type { Caller, TokenSource } from './credentials.js';
import { expandPrincipalEnv, namesPrincipal } from './principal-env.js';
import { StderrLog } from './stderr-log.js';
import { openClient, type OpenedClient, type TransportLimits, type UpstreamSpec } from './transports.js';

export type { UpstreamState } from './connection.js';
export type Connection = ConnectionOf<Upstream>;
export type UpstreamHooks = UpstreamHooksOf<Upstream>;
export type UpstreamOptions = UpstreamOptionsOf<Upstream>;

const MiB = 1024 * 1024;

export class Upstream {
  readonly name: string;
  state: UpstreamState = 'starting';
  lastError?: string;
  catalog: Catalog = emptyCatalog();
  private shared?: Connection & { opened: OpenedClient };
  /** Per-session connections by session id, and per-caller ones (token exchange) by `caller\n<key>`. */
  private sessions = new Map<string, Promise<Connection & { opened: OpenedClient }>>();
  /** The client sessions using each per-caller connection, which ends when the last of them does. */
  private holders = new CallerHolders();
  private retryTimer?: NodeJS.Timeout;
  private failures = 0;
  private stopped = false;
  private readonly refresher = new CatalogRefresher((kind) => this.refetch(kind));
  /** Budget slots held by per-session connections, released when they end. */
  private slots = new Map<string, () => void>();
  private stopping?: Promise<void>;
  private readonly limits: TransportLimits;
  private connecting = new Set<Transport>();
  /** The shared connection between its handshake and its first catalogue. */
  private starting?: Connection & { opened: OpenedClient };

  /** Whether a connection depends on whom the call is for (token exchange, or `${principal.*}` in env). */
  readonly needsCaller: boolean;

  constructor(readonly options: UpstreamOptions) {
    this.name = options.name;
    const { spec } = options;
    this.needsCaller =
      (spec.kind === 'http' && spec.credentials?.perCaller === true) ||
      (spec.kind === 'stdio' && options.scope === 'session' && namesPrincipal(spec.env));
    this.limits = {
      name: options.name,
      maxLineBytes: options.maxLineBytes ?? 32 * MiB,
      maxResultBytes: options.maxResultBytes ?? 32 * MiB,
      // One rate cap for all of this upstream's processes; the config's secrets are taken out before a cut.
      stderr: new StderrLog(options.log, { redact: options.redact }),
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
    /** Whom the call is for: picks the per-caller connection (token exchange) and fills `${principal.*}`. */
    caller?: Caller,
  ): Connection | Promise<Connection> {
    const credentials = this.options.spec.kind === 'http' ? this.options.spec.credentials : undefined;
    // A call made for a user never falls back to the shared connection, which carries the gateway's own token.
    const forUser = credentials?.perCaller === true;
    if ((this.options.scope === 'shared' && !forUser) || this.state !== 'ready') {
      if (!this.shared || forUser)
        throw new Error(
          `upstream "${this.name}" is ${this.state}${this.lastError ? `: ${this.lastError}` : ''}`,
        );
      return this.shared;
    }
    if (forUser && this.options.scope === 'shared') return this.callerConnection(sessionKey, caller);
    let pending = this.sessions.get(sessionKey);
    if (!pending) {
      // A process whose env names the principal is never started for nobody (a roots notice has no caller).
      if (this.needsCaller && !caller)
        throw new Error(`upstream "${this.name}" has no connection for this session yet`);
      const token = credentials && (credentials.perCaller ? this.forCaller(caller) : credentials.shared);
      const release = this.options.budget?.take(this.name, source);
      if (release) this.slots.set(sessionKey, release);
      pending = this.open(capabilities, sessionKey, { sessionKey, token, caller });
      this.track(sessionKey, pending);
    }
    return pending;
  }

  /**
   * One connection per caller (token exchange): its requests carry that caller's exchanged token, and the
   * sessions of that caller share it. It counts against the budget with the caller as its source.
   */
  private callerConnection(sessionKey: string, caller: Caller | undefined): Promise<Connection> {
    // A session keeps its identity (another one presenting its id finds no session), so a call without a
    // caller (the roots notice) goes to the connection the session already uses.
    const key = caller ? `caller\n${caller.key}` : this.holders.keyOf(sessionKey);
    if (key === undefined) throw new Error(`upstream "${this.name}" has no connection for this session yet`);
    let pending = this.sessions.get(key);
    if (!pending) {
      const token = this.forCaller(caller);
      const release = this.options.budget?.take(this.name, caller!.key);
      if (release) this.slots.set(key, release);
      pending = this.open(this.options.sharedCapabilities, key, { token, callerKey: caller!.key });
      this.track(key, pending);
    }
    this.holders.hold(sessionKey, key);
    return pending;
  }

  /**
   * Undefined while the token is good (the hot path); else a promise that settles once it is renewed (from the
   * caller's current `bearer` for an exchanged one), failing with an error that names this upstream.
   */
  freshToken(token: TokenSource | undefined, bearer?: string): Promise<void> | undefined {
    const renewing = token?.fresh(bearer);
    return renewing?.catch((error: Error) => {
      throw new GatewayError('upstream_unavailable', `upstream "${this.name}": ${error.message}`);
    });
  }

  /** The token source of one caller's connection; a caller with nothing to exchange is refused by name. */
  private forCaller(caller: Caller | undefined): TokenSource {
    const spec = this.options.spec as Extract<UpstreamSpec, { kind: 'http' }>;
    if (!caller) throw new Error(`upstream "${this.name}" needs to know whom the call is for`);
    try {
      return spec.credentials!.forCaller(caller);
    } catch (error) {
      throw new GatewayError('upstream_unavailable', `upstream "${this.name}": ${(error as Error).message}`);
    }
  }

  /** A connection that fails to open leaves no entry (nor budget slot) behind. */
  private track(key: string, pending: Promise<Connection & { opened: OpenedClient }>): void {
    this.sessions.set(key, pending);
    pending.catch(() => {
      if (this.sessions.get(key) === pending) this.sessions.delete(key);
      this.freeSlot(key);
    });
  }

  private freeSlot(sessionKey: string): void {
    this.slots.get(sessionKey)?.();
    this.slots.delete(sessionKey);
  }

  /** Whether this process holds (or is opening) the session's own connection. */
  holdsSession(sessionKey: string): boolean {
    return this.sessions.has(sessionKey);
  }

  /** Ends the per-session connection (and its process) when the client session ends; a per-caller
   * connection ends with the last session of its caller. */
  async releaseSession(sessionKey: string): Promise<void> {
    // A per-caller connection ends with the last session holding it; a session holding one has no other.
    if (this.holders.keyOf(sessionKey) !== undefined) {
      const last = this.holders.release(sessionKey);
      if (last === undefined) return;
      sessionKey = last;
    }
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

  /**
   * Opens one connection. `key` is its entry in `sessions` (absent for the shared one); `sessionKey` is set only
   * on a per-session connection. A token is obtained before the handshake, so a provider that refuses says so.
   */
  private async open(
    capabilities: ClientCapabilities,
    key?: string,
    of: { sessionKey?: string; token?: TokenSource; callerKey?: string; caller?: Caller } = {},
  ) {
    const startTimeout = this.startTimeoutMs;
    const { sessionKey, callerKey } = of;
    const token =
      of.token ?? (this.options.spec.kind === 'http' ? this.options.spec.credentials?.shared : undefined);
    await this.freshToken(token);
    let spec = this.options.spec;
    // Each per-session process gets its own principal's settings; the catalogue process gets empty ones.
    if (spec.kind === 'stdio' && namesPrincipal(spec.env))
      spec = { ...spec, env: expandPrincipalEnv(spec.env, of.caller) };
    const opened = await openClient(
      spec,
      capabilities,
      startTimeout,
      this.log,
      this.connecting,
      this.limits,
      token && (() => token.header()),
    );
    if (this.stopped) {
      await closeOpened(opened);
      throw new Error(`upstream "${this.name}" stopped`);
    }
    const connection = {
      upstream: this,
      client: opened.client,
      sessionKey,
      callerKey,
      token,
      opened,
      progress: new Map(),
      get failure() {
        return (opened.transport as { failure?: string }).failure;
      },
    };
    routeTraffic(opened, connection, this.options.hooks, (message) =>
      this.onNotification(connection, message),
    );
    if (key !== undefined) {
      opened.client.onclose = () => {
        if (this.sessions.get(key) === undefined) return;
        this.sessions.delete(key);
        this.freeSlot(key);
        // Its sessions open a new one on their next call.
        if (callerKey !== undefined) this.holders.forget(key);
        this.log.warn(
          { sessionId: sessionKey, error: connection.failure },
          callerKey === undefined
            ? 'per-session upstream connection closed'
            : 'per-caller upstream connection closed',
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
    if (kinds) for (const kind of kinds) this.refresher.refresh(kind);
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

  /** One refetch of a list after list_changed (catalog-refresh.ts coalesces them); false: nothing to ask. */
  private async refetch(kind: CatalogKind): Promise<boolean> {
    const client = this.shared?.client;
    if (!client || this.stopped) return false;
    try {
      this.catalog = { ...this.catalog, [kind]: await fetchKind(client, kind, this.options.timeoutMs) };
      this.options.hooks.onCatalogChanged(this);
    } catch (error) {
      this.log.warn({ error: describe(error), kind }, 'refreshing the catalogue failed; keeping the old one');
    }
    return true;
  }

  private setState(state: UpstreamState): void {
    if (this.state === state) return;
    this.state = state;
    this.options.hooks.onStateChanged(this);
  }
}
