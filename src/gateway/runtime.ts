// The running gateway behind any front (HTTP or stdio): upstreams built from config, the router over their
// catalogues, the session registry, and fan-out of what upstreams announce to the sessions concerned.
import type { ClientCapabilities, JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';
import { builtinServers, type BuiltinName } from '../builtin-servers/index.js';
import { Upstream, type Connection } from '../upstreams/pool.js';
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
import { globList, Router } from './router.js';
import { SessionRegistry, type Exchange, type Session } from './sessions.js';
import { forgetTasks } from './tasks.js';
import { handleUpstreamNotification, handleUpstreamRequest } from './upstream-traffic.js';

const LIST_CHANGED: Record<CatalogKind, string> = {
  tools: 'notifications/tools/list_changed',
  prompts: 'notifications/prompts/list_changed',
  resources: 'notifications/resources/list_changed',
  resourceTemplates: 'notifications/resources/list_changed',
};

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
  /** Which session owns each task created through the gateway. */
  readonly taskOwners = new Map<string, Session>();
  settled = false;
  private started?: Promise<void>;

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
    this.upstreams = Object.entries(config.upstreams)
      .filter(([, upstream]) => upstream.enabled)
      .map(
        ([name, upstream]) =>
          new Upstream({
            name,
            spec: specFor(upstream, configBaseDir(config)),
            scope: upstream.scope ?? 'shared',
            timeoutMs: upstream.timeout ?? config.defaults.timeout,
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
    })();
    return this.started;
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
    if (!this.settled) return;
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

function specFor(upstream: UpstreamConfig, baseDir: string): UpstreamSpec {
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
        create: () => (definition.create as (o: unknown, c: object) => any)(options, { baseDir }),
      };
    }
  }
}
