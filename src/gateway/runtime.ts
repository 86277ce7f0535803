// The running gateway behind any front (HTTP or stdio), the composition root of the pipeline: upstreams built
// from config, the router over their catalogues, the policies composed into visibility and chains, and the
// small objects each step needs, wired with narrow dependencies (none of them takes a Runtime).
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';
import { composeVisibility, type Visibility } from '../policy/compose.js';
import { logDenials } from '../policy/decisions.js';
import type { Policy } from '../policy/types.js';
import type { Upstream, UpstreamHooks } from '../upstreams/pool.js';
import { SessionBudget } from '../upstreams/session-budget.js';
import type { CatalogKind } from '../upstreams/catalog.js';
import { configBaseDir, type GatewayConfig } from './config.js';
import { Router } from './catalog/router.js';
import { Views } from './catalog/views.js';
import { Forwarder } from './pipeline/forward.js';
import { RequestHandler, type CatalogueGate } from './pipeline/handle.js';
import { Resolver } from './pipeline/resolve.js';
import { UpstreamCallbacks } from './session/callbacks.js';
import { Inflight } from './session/inflight.js';
import { SharedRedis } from './stores/redis.js';
import { PinBook } from './stores/pins.js';
import { pinBackend, pinSettings } from './stores/pins-config.js';
import { configuredPolicies } from './policies.js';
import { DecisionSinks } from './decisions.js';
import { debugRequestObserver, type RequestObserver } from './pipeline/observe.js';
import { createAudit, type Audit } from './audit/audit.js';
import type { GatewayMetrics } from './telemetry/metrics.js';
import { SessionRegistry, type Session } from './session/sessions.js';
import type { ClusterSessions } from './session/cluster-sessions.js';
import { shareSessions } from './cluster.js';
import { installedTracing, type GatewayTracing } from './telemetry/tracing-hooks.js';
import { TaskBook } from './session/tasks.js';
import { buildUpstream, routerEntry, type UpstreamShared } from './upstream-build.js';
import { notificationOf } from './wire/jsonrpc.js';

const LIST_CHANGED: Record<CatalogKind, string> = {
  tools: 'notifications/tools/list_changed',
  prompts: 'notifications/prompts/list_changed',
  resources: 'notifications/resources/list_changed',
  resourceTemplates: 'notifications/resources/list_changed',
};

/** How long past the slowest start timeout an early request waits at most: stopping a hung start takes a while. */
const SETTLE_GRACE_MS = 5000;

export class Runtime {
  readonly upstreams: Upstream[];
  readonly router: Router;
  readonly sessions: SessionRegistry;
  /** The composed predicate of the configured policies; a reload (reload.ts) swaps it with the chains. */
  visibility: Visibility | undefined;
  readonly handler: RequestHandler;
  readonly callbacks: UpstreamCallbacks;
  /** The Redis connection the stores share (`redis:`); it connects only once a store uses it. */
  readonly redis: SharedRedis | undefined;
  /** Sessions shared with the other replicas through Redis (`redis:`); absent: sessions live here only. */
  readonly cluster: ClusterSessions | undefined;
  /** Told of each request's beginning and end: the debug request line; spans, metrics and audit join it. */
  readonly observers: RequestObserver[] = [];
  /** Where the policy stages' decisions go besides the log: the audit log and metrics subscribe. */
  readonly decisions = new DecisionSinks();
  /** The Prometheus metrics (`telemetry.metrics`), set by telemetry/metrics-http.ts; absent when off. */
  metrics?: GatewayMetrics;
  /** Told of each upstream state change besides the debug line (the metrics count restarts). */
  onUpstreamState?: (upstream: Upstream) => void;
  /** Tool-definition pins and quarantine: the router leaves out what they hold back. */
  readonly pins: PinBook;
  /** The audit log (`audit:`); absent when off. */
  readonly audit: Audit | undefined;
  /** Spans, when `telemetry.otlp` is set and the process started tracing (cli.ts); absent: nothing traced. */
  readonly tracing: GatewayTracing | undefined;
  private readonly tasks: TaskBook;
  private views: Views;
  private readonly byName: Map<string, Upstream>;
  /** What every upstream is built with, kept for the upstreams a reload adds. */
  /** What every upstream shares (the session budget, the log, the hooks back into this runtime). */
  private readonly shared: UpstreamShared;
  settled = false;
  /** Shutting down (drain.ts): not ready, and no new sessions; the open ones are still served. */
  draining = false;
  /** Whether requests that read the catalogue may go ahead. The hot path checks `gate.ready` and only an early
   * request awaits `gate.until`. */
  readonly gate: CatalogueGate = { ready: false };
  private started?: Promise<void>;
  /** Catalogue kinds that changed before start-up settled: announced once when it does. */
  private changedBeforeSettled = new Set<CatalogKind>();

  constructor(
    /** The config running now: a reload replaces it once the new one is applied. */
    public config: GatewayConfig,
    readonly log: Logger,
    /** Policies an embedder or test adds besides the configured ones (kept across reloads). */
    private readonly extraPolicies: readonly Policy[] = [],
  ) {
    const hooks: UpstreamHooks = {
      onRequest: (connection: any, request: any, extra: any) =>
        this.callbacks.onRequest(connection, request, extra),
      onNotification: (connection: any, notification: any) =>
        this.callbacks.onNotification(connection, notification),
      onCatalogChanged: () => this.rebuild(),
      onStateChanged: (upstream: Upstream) => {
        this.log.debug({ upstream: upstream.name, state: upstream.state }, 'upstream state');
        this.onUpstreamState?.(upstream);
      },
    };
    const budget = new SessionBudget({
      maxTotal: config.sessions.maxUpstreamConnections,
      maxPerSource: config.sessions.maxUpstreamConnectionsPerSource,
    });
    this.shared = { budget, log, hooks };
    this.upstreams = Object.entries(config.upstreams)
      .filter(([, upstream]) => upstream.enabled)
      .map(([name]) => buildUpstream(config, name, this.shared));
    this.byName = new Map(this.upstreams.map((u) => [u.name, u]));
    this.redis = config.redis && new SharedRedis(config.redis, log);
    // An approval picked up from the store rebuilds the catalogue: the tool comes back, list_changed goes out.
    this.pins = new PinBook(pinSettings(config), pinBackend(config, this.redis), log, () => this.rebuild());
    this.router = new Router(
      this.upstreams.map((upstream) => routerEntry(config, upstream)),
      config.namespace.separator,
      log,
      this.pins,
    );
    this.sessions = new SessionRegistry({
      idleTimeoutMs: config.sessions.idleTimeout,
      max: config.sessions.max,
      onClose: (session) => this.onSessionClosed(session),
      holdSubscribed: Boolean(config.redis),
    });
    this.audit =
      config.audit &&
      createAudit(config.audit, configBaseDir(config), log, this.router, (exchange) =>
        this.tracing?.spanRef(exchange),
      );
    const tracing = (this.tracing = config.telemetry?.otlp ? installedTracing() : undefined);
    const compiled = this.compilePolicies(config);
    this.visibility = compiled.visibility;
    // Tasks and server-to-client traffic ask whichever predicate runs now (a reload swaps it): not the hot path.
    const live: Visibility = {
      visible: (principal, target) => this.visibility?.visible(principal, target) ?? true,
      viewKey: (principal) => this.visibility?.viewKey(principal) ?? '',
    };
    const inflight = new Inflight();
    const forwarder = new Forwarder(inflight, this.router, tracing?.upstream);
    this.tasks = new TaskBook(forwarder, this.upstreams, live);
    this.callbacks = new UpstreamCallbacks(inflight, this.sessions, this.router, this.tasks, live);
    this.observers.push(debugRequestObserver(log));
    if (tracing) {
      this.observers.push(tracing.observer);
      this.decisions.subscribe(tracing.decision);
    }
    if (this.audit) {
      // Read when a batch is written: the metrics are set after the runtime is built.
      this.audit.sink.onWritten = (seconds) => this.metrics?.observeAuditWrite(seconds);
      this.observers.push(this.audit.observer);
      this.decisions.subscribe(this.audit.onDecision);
      // Quarantines are the catalogue's own decisions: they reach the sinks from the pins.
      this.pins.onDecision = (event) => this.decisions.emit(event, {});
    }
    this.views = compiled.views;
    this.handler = new RequestHandler({
      upstreams: this.upstreams,
      sessions: this.sessions,
      views: compiled.views,
      resolver: compiled.resolver,
      forwarder,
      tasks: this.tasks,
      visibility: compiled.visibility,
      policies: compiled.policies,
      gate: this.gate,
      log,
      decisions: this.decisions,
      observers: this.observers,
    });
    this.cluster =
      this.redis &&
      shareSessions(
        config,
        this.redis,
        this.sessions,
        log,
        this.upstream,
        this.handler,
        forwarder,
        this.tasks,
      );
    this.handler.deps.sharing = this.cluster;
  }

  /** One enabled upstream of `config`, built as start-up builds them (a reload adds them this way too). */
  /**
   * The configured policies compiled into what the pipeline reads per request: the predicate, the chains' stages
   * and the per-view list cache. Built at start-up and again by each reload (a new Views drops the cached lists).
   */
  private compilePolicies(config: GatewayConfig) {
    const enabled = Object.keys(config.upstreams).filter((name) => config.upstreams[name].enabled);
    const configured = configuredPolicies(config, enabled, this.redis, this.extraPolicies);
    const { rules } = configured;
    // The audit gate goes first: while the log cannot be written, no audited call reaches any other stage.
    const policies = this.audit?.gate ? [this.audit.gate, ...configured.policies] : configured.policies;
    // Traced: a first stage opens the call's `policy` span (only for a sampled call).
    const chained = this.tracing ? this.tracing.policies(policies) : policies;
    const visibility = composeVisibility(policies);
    const resolver = new Resolver(
      this.router,
      rules && visibility
        ? logDenials(visibility, rules, this.log, (event, principal) =>
            this.decisions.emit(event, { principal }),
          )
        : visibility,
    );
    return { policies: chained, visibility, resolver, views: new Views(this.router, visibility) };
  }

  /**
   * Applies a validated config the reload diffed (reload.ts): upstreams added or changed are started first (the
   * old ones serve meanwhile), then in one synchronous step the upstream set, the router's entries, the policies
   * and the config are swapped, the catalogue rebuilt and `list_changed` sent once per kind to each session
   * whose view changed; the upstreams removed or replaced are stopped last.
   */
  async applyConfig(next: GatewayConfig, diff: { added: string[]; removed: string[]; changed: string[] }) {
    const fresh = [...diff.added, ...diff.changed].map((name) => buildUpstream(next, name, this.shared));
    // Compiled before anything is swapped: a policy that fails to compile (a bad guard root) changes nothing.
    const compiled = this.compilePolicies(next);
    await Promise.all(fresh.map((upstream) => upstream.start()));
    const before = this.sessionViews();
    const retired: Upstream[] = [];
    for (const name of [...diff.removed, ...diff.changed]) {
      const old = this.byName.get(name);
      if (old) retired.push(old);
      this.byName.delete(name);
    }
    for (const upstream of fresh) this.byName.set(upstream.name, upstream);
    // In place: the handler, the task book and readiness hold this very array.
    this.upstreams.splice(0, this.upstreams.length, ...this.byName.values());
    this.router.replaceEntries(this.upstreams.map((upstream) => routerEntry(next, upstream)));
    this.config = next;
    this.visibility = compiled.visibility;
    this.views = compiled.views;
    this.handler.swap(compiled);
    this.router.rebuild();
    this.announceChangedViews(before);
    await Promise.all(retired.map((upstream) => upstream.stop()));
  }

  /** Each open session's lists as it sees them now, to tell after a reload whose view changed. */
  private sessionViews(): Map<Session, Buffer[]> {
    const kinds = Object.keys(LIST_CHANGED) as CatalogKind[];
    const views = new Map<Session, Buffer[]>();
    for (const session of this.sessions.all())
      if (session.outlet)
        views.set(
          session,
          kinds.map((kind) => this.views.listJson(kind, session.principal)),
        );
    return views;
  }

  private announceChangedViews(before: Map<Session, Buffer[]>): void {
    const kinds = Object.keys(LIST_CHANGED) as CatalogKind[];
    for (const [session, lists] of before) {
      if (session.closed || !session.outlet) continue;
      const methods = new Set<string>();
      kinds.forEach((kind, i) => {
        if (!this.views.listJson(kind, session.principal).equals(lists[i])) methods.add(LIST_CHANGED[kind]);
      });
      for (const method of methods) session.outlet.send(notificationOf(method));
    }
  }

  /** An upstream by its config name (a Map: wire-derived names never reach a prototype). */
  readonly upstream = (name: string): Upstream | undefined => this.byName.get(name);

  /** Connects every upstream; resolves when each first attempt has settled. Name collisions are fatal. */
  start(): Promise<void> {
    this.started ??= (async () => {
      // The audit log before any call can be made (a file it cannot open is logged; audited calls then fail
      // closed until it can be written).
      this.audit?.open();
      // Pins first: a pins file that cannot be trusted stops start-up before any tool is published unchecked.
      await this.pins.open().catch(async (error: unknown) => {
        await this.stop();
        throw error;
      });
      // Redis too, when a store uses it: the first calls count in the shared window, not in the fallback.
      await Promise.all([
        ...this.upstreams.map((upstream) => upstream.start()),
        this.redis?.settled(),
        this.cluster?.start(this.config.sessions.idleTimeout),
      ]);
      const collisions = this.router.collisions();
      if (collisions.length) {
        await this.stop();
        throw new GatewayError('config', `name collision at start-up: ${collisions.join('; ')}`);
      }
      this.settled = true;
      this.announce([...this.changedBeforeSettled]);
      this.changedBeforeSettled.clear();
    })();
    this.gate.until = this.settleBound(this.started);
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
      this.gate.ready = true;
    });
  }

  async stop(): Promise<void> {
    this.sessions.closeAll();
    await Promise.all([
      ...this.upstreams.map((upstream) => upstream.stop()),
      // Pins still to be written go out before the connection they may need closes.
      this.pins
        .close()
        .then(() => this.cluster?.stop())
        .then(() => this.redis?.close()),
      this.audit?.close(),
      this.tracing?.flush(),
    ]);
  }

  readiness() {
    return {
      ready: this.settled && !this.draining,
      ...(this.draining ? { draining: true } : {}),
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
    if (!this.visibility) {
      const methods = new Set(changed.map((kind) => LIST_CHANGED[kind]));
      for (const method of methods) this.broadcast(notificationOf(method));
      return;
    }
    // Per view: a session hears of a change only when its own list changed.
    for (const session of this.sessions.all()) {
      if (!session.outlet) continue;
      const methods = new Set<string>();
      for (const kind of changed)
        if (this.views.changedFor(kind, session.principal)) methods.add(LIST_CHANGED[kind]);
      for (const method of methods) session.outlet.send(notificationOf(method));
    }
  }

  private onSessionClosed(session: Session): void {
    session.outlet?.close?.();
    this.tasks.forget(session);
    for (const exchange of session.inflight?.values() ?? [])
      exchange.controller.abort(new Error('session closed'));
    for (const name of session.scopedUpstreams ?? []) void this.byName.get(name)?.releaseSession(session.id);
  }
}
