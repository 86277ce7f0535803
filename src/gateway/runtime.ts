// The running gateway behind any front (HTTP or stdio): upstreams built from config, the router over their
// catalogues, the session registry, and fan-out of what upstreams announce to the sessions concerned.
import type { ClientCapabilities, JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';
import { builtinServers, type BuiltinName } from '../builtin-servers/index.js';
import { Upstream, type Connection } from '../upstreams/pool.js';
import { SessionBudget } from '../upstreams/session-budget.js';
import type { UpstreamSpec } from '../upstreams/transports.js';
import type { CatalogKind } from '../upstreams/catalog.js';
import {
  builtinOptions,
  configBaseDir,
  upstreamKind,
  type BuiltinUpstreamConfig,
  type GatewayConfig,
  type HttpUpstreamConfig,
  type StdioUpstreamConfig,
  type UpstreamConfig,
} from './config.js';
import { globList, publicName, Router } from './router.js';
import { SessionRegistry, type Exchange, type Session } from './sessions.js';
import { redactWithConfig } from './redact.js';
import { forgetTasks } from './tasks.js';
import { handleUpstreamNotification, handleUpstreamRequest } from './upstream-traffic.js';

const LIST_CHANGED: Record<CatalogKind, string> = {
  tools: 'notifications/tools/list_changed',
  prompts: 'notifications/prompts/list_changed',
  resources: 'notifications/resources/list_changed',
  resourceTemplates: 'notifications/resources/list_changed',
};

/** How long past the slowest start timeout an early request waits at most: stopping a hung start takes a while. */
const SETTLE_GRACE_MS = 5000;

/** What shared connections declare: the gateway can relay these to whichever client asks. */
const SHARED_CAPABILITIES: ClientCapabilities = {
  sampling: {},
  elicitation: { form: {}, url: {} },
  roots: { listChanged: true },
};

export class Runtime {
  readonly upstreams: Upstream[];
  readonly router: Router;
  readonly sessions: SessionRegistry;
  /** Client requests in flight per upstream connection: how a server-to-client request finds its origin. */
  readonly inflight = new Map<Connection, Set<Exchange>>();
  /** Which session owns each task, by the upstream connection that runs it and then its id (ids may collide). */
  readonly taskOwners = new Map<Connection, Map<string, Session>>();
  settled = false;
  /** True once requests that read the catalogue need not wait: start-up settled or its bound passed. The hot
   * path checks this boolean and only an early request awaits `untilSettled`. */
  catalogueReady = false;
  /** Resolves (never rejects) when start-up settles or its bound passes; undefined before `start()`. */
  untilSettled?: Promise<void>;
  private started?: Promise<void>;
  /** Catalogue kinds that changed before start-up settled: announced once when it does. */
  private changedBeforeSettled = new Set<CatalogKind>();

  constructor(
    readonly config: GatewayConfig,
    readonly log: Logger,
  ) {
    const hooks = {
      onRequest: (connection: Connection, request: any, extra: any) =>
        handleUpstreamRequest(this, connection, request, extra),
      onNotification: (connection: Connection, notification: any) =>
        handleUpstreamNotification(this, connection, notification),
      onCatalogChanged: () => this.rebuild(),
      onStateChanged: (upstream: Upstream) =>
        this.log.debug({ upstream: upstream.name, state: upstream.state }, 'upstream state'),
    };
    const budget = new SessionBudget({
      maxTotal: config.sessions.maxUpstreamConnections,
      maxPerSource: config.sessions.maxUpstreamConnectionsPerSource,
    });
    this.upstreams = Object.entries(config.upstreams)
      .filter(([, upstream]) => upstream.enabled)
      .map(
        ([name, upstream]) =>
          new Upstream({
            name,
            spec: specFor(upstream, configBaseDir(config), (tool) =>
              publicName(upstream.prefix ?? name, config.namespace.separator, tool),
            ),
            scope: upstream.scope ?? 'shared',
            timeoutMs: upstream.timeout ?? config.defaults.timeout,
            maxTimeoutMs: upstream.maxTimeout ?? config.defaults.maxTimeout,
            startTimeoutMs:
              upstream.startTimeout ??
              Math.max(config.defaults.startTimeout, upstream.timeout ?? config.defaults.timeout),
            maxLineBytes: (upstream as StdioUpstreamConfig).maxLineBytes ?? config.defaults.maxLineBytes,
            maxResultBytes: upstream.maxResultBytes ?? config.defaults.maxResultBytes,
            budget,
            redact: (text) => redactWithConfig(config, text),
            log: log.child({ upstream: name }),
            hooks,
            sharedCapabilities: SHARED_CAPABILITIES,
          }),
      );
    this.router = new Router(
      this.upstreams.map((upstream) => {
        const entry = config.upstreams[upstream.name];
        return {
          upstream,
          prefix: entry.prefix ?? upstream.name,
          allow: globList(entry.tools?.allow),
          deny: globList(entry.tools?.deny),
        };
      }),
      config.namespace.separator,
      log,
    );
    this.sessions = new SessionRegistry({
      idleTimeoutMs: config.sessions.idleTimeout,
      max: config.sessions.max,
      onClose: (session) => this.onSessionClosed(session),
    });
  }

  /** Connects every upstream; resolves when each first attempt has settled. Name collisions are fatal. */
  start(): Promise<void> {
    this.started ??= (async () => {
      await Promise.all(this.upstreams.map((upstream) => upstream.start()));
      const collisions = this.router.collisions();
      if (collisions.length) {
        await this.stop();
        throw new GatewayError('config', `name collision at start-up: ${collisions.join('; ')}`);
      }
      this.settled = true;
      this.announce([...this.changedBeforeSettled]);
      this.changedBeforeSettled.clear();
    })();
    this.untilSettled = this.settleBound(this.started);
    return this.started;
  }

  /**
   * Start-up is bounded by each upstream's start timeout already; this timer is the backstop, so a request never
   * waits longer than the slowest start timeout (plus the grace it takes to stop a hung process).
   */
  private settleBound(started: Promise<void>): Promise<void> {
    let limitMs = 0;
    for (const upstream of this.upstreams) limitMs = Math.max(limitMs, upstream.options.startTimeoutMs ?? 0);
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, limitMs + SETTLE_GRACE_MS);
      timer.unref();
    });
    return Promise.race([started.catch(() => {}), bound]).then(() => {
      clearTimeout(timer);
      this.catalogueReady = true;
    });
  }

  async stop(): Promise<void> {
    this.sessions.closeAll();
    await Promise.all(this.upstreams.map((upstream) => upstream.stop()));
  }

  upstream(name: string): Upstream | undefined {
    return this.upstreams.find((u) => u.name === name);
  }

  readiness() {
    return {
      ready: this.settled,
      upstreams: Object.fromEntries(
        this.upstreams.map((u) => [
          u.name,
          {
            state: u.state,
            // An upstream's error may quote its URL or echo its request headers: no credential in /readyz.
            ...(u.lastError ? { error: u.lastError } : {}),
            tools: u.catalog.tools.length,
            prompts: u.catalog.prompts.length,
            resources: u.catalog.resources.length,
          },
        ]),
      ),
    };
  }

  /** Sends a message to every open session that has somewhere to receive it. */
  broadcast(message: JSONRPCMessage): void {
    for (const session of this.sessions.all()) session.outlet?.send(message);
  }

  private rebuild(): void {
    const changed = this.router.rebuild();
    if (this.settled) return this.announce(changed);
    // Sessions opened during start-up listed (or will list) after it settles, but a host that cached an early
    // list must still hear that it grew: once, when start-up settles.
    for (const kind of changed) this.changedBeforeSettled.add(kind);
  }

  private announce(changed: CatalogKind[]): void {
    const methods = new Set(changed.map((kind) => LIST_CHANGED[kind]));
    for (const method of methods) this.broadcast({ jsonrpc: '2.0', method });
  }

  private onSessionClosed(session: Session): void {
    session.outlet?.close?.();
    forgetTasks(this, session);
    for (const exchange of session.inflight?.values() ?? [])
      exchange.controller.abort(new Error('session closed'));
    for (const name of session.scopedUpstreams ?? []) void this.upstream(name)?.releaseSession(session.id);
  }
}

function specFor(
  upstream: UpstreamConfig,
  baseDir: string,
  published: (tool: string) => string,
): UpstreamSpec {
  switch (upstreamKind(upstream)) {
    case 'stdio': {
      const { command, args, env, cwd } = upstream as StdioUpstreamConfig;
      return { kind: 'stdio', command, args, env, cwd: cwd ?? baseDir };
    }
    case 'http': {
      const { url, headers, type } = upstream as HttpUpstreamConfig;
      // `type: http` (VS Code's word) still falls back to SSE; `streamable-http` and `sse` pin one protocol.
      const transport = type === 'sse' ? 'sse' : type === 'streamable-http' ? 'streamable-http' : undefined;
      return { kind: 'http', url, headers, transport };
    }
    case 'builtin': {
      const entry = upstream as BuiltinUpstreamConfig;
      const definition = builtinServers[entry.builtin as BuiltinName];
      const options = (definition.optionsSchema as { parse(v: unknown): unknown }).parse(
        builtinOptions(entry),
      );
      return {
        kind: 'memory',
        // Built-ins name their own tools in prompts and instructions: they must use the published names.
        create: () =>
          (definition.create as (o: unknown, c: object) => any)(options, { baseDir, publicName: published }),
      };
    }
  }
}
