// The gateway's Prometheus metrics (prom-client, on a registry of their own): requests, errors and latency by
// method, upstream and tool (an observer), decisions (rate-limit refusals, denials by rule), and gauges read at
// scrape time (sessions, upstream state, quarantined tools). Every label value comes from the config or the
// catalogue, never from the wire as it is, so a client cannot grow the series without bound.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import type { GatewayError } from '../../errors.js';
import type { DecisionEvent } from '../../policy/decisions.js';
import type { UpstreamState } from '../../upstreams/pool.js';
import type { Outcome, RequestObserver } from '../pipeline/observe.js';
import { ROUTED_METHODS } from '../pipeline/handle.js';
import { PlainHistogram } from './plain-histogram.js';
import { RequestSeries, type RequestLabels } from './request-series.js';

/** The tool label of a tools/call whose name the catalogue does not know (typos, probes, made-up names). */
export const UNKNOWN_TOOL = '(unknown)';
/** The method label of a method the gateway does not serve. */
export const OTHER_METHOD = '(other)';

const KNOWN_METHODS = new Set<string>([
  ...ROUTED_METHODS,
  'initialize',
  'ping',
  'logging/setLevel',
  'tasks/list',
  'tools/list',
  'prompts/list',
  'resources/list',
  'resources/templates/list',
]);

const STATES: readonly UpstreamState[] = ['starting', 'ready', 'down', 'disabled', 'stopped'];

/** Seconds: a pass-through call takes well under a millisecond, a slow tool a minute. */
const REQUEST_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];
/** Seconds: a write to the OS takes microseconds, an fsync milliseconds. */
const AUDIT_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1,
];

/** What the metrics read from the running gateway (narrow: no Runtime). */
export interface MetricsSources {
  readonly upstreams: readonly { readonly name: string; readonly state: UpstreamState }[];
  readonly sessions: { readonly size: number };
  /** Tools pinning holds back or flags, as of the last rebuild (a quarantined one has a `reason`). */
  quarantined(): Iterable<{ readonly upstream: string; readonly reason?: string }>;
  /** A published tool by its public name (also while its upstream is down); undefined when unknown. */
  tool(name: string): { readonly server: { readonly name: string } } | undefined;
}

export class GatewayMetrics {
  readonly registry = new Registry();
  private inFlight = 0;
  /** Each upstream's last state, to tell a restart (down, then ready again) from the first start. */
  private readonly lastState = new Map<string, UpstreamState>();

  private readonly errors = this.counter(
    'switchboard_request_errors_total',
    "Requests answered with an error (the error kind, `upstream_error` for an upstream's own, `isError` for a tool result saying it failed)",
    ['method', 'upstream', 'tool', 'error'],
  );
  /** Requests and their latency, by method, upstream and tool: counted per request without prom-client's
   * per-call label hashing (request-series.ts). */
  private readonly requests = new RequestSeries(
    this.registry,
    { name: 'switchboard_requests_total', help: 'Requests handled' },
    {
      name: 'switchboard_request_duration_seconds',
      help: 'Time from a request reaching the pipeline to its answer',
    },
    REQUEST_BUCKETS,
  );
  private readonly restarts = this.counter(
    'switchboard_upstream_restarts_total',
    'Times an upstream came back ready after being down',
    ['upstream'],
  );
  private readonly rateLimited = this.counter(
    'switchboard_rate_limit_refusals_total',
    'Calls refused by a rate or concurrency limit (rule empty: an upstream maxConcurrent)',
    ['rule'],
  );
  private readonly denials = this.counter(
    'switchboard_policy_denials_total',
    'Calls refused by policy: deny, guard, block (secrets) and approve (not approved); rule empty when none named it',
    ['rule', 'effect'],
  );
  private readonly auditWrites = new PlainHistogram(
    this.registry,
    'switchboard_audit_write_seconds',
    'Time to write a batch of audit records',
    AUDIT_BUCKETS,
  );

  constructor(private readonly sources: MetricsSources) {
    const inFlight = () => this.inFlight;
    new Gauge({
      name: 'switchboard_requests_in_flight',
      help: 'Requests being handled now',
      registers: [this.registry],
      collect() {
        this.set(inFlight());
      },
    });
    new Gauge({
      name: 'switchboard_sessions_open',
      help: 'Client sessions open now',
      registers: [this.registry],
      collect() {
        this.set(sources.sessions.size);
      },
    });
    new Gauge({
      name: 'switchboard_upstream_state',
      help: 'Each upstream state: 1 for the current one, 0 for the others',
      labelNames: ['upstream', 'state'],
      registers: [this.registry],
      collect() {
        for (const upstream of sources.upstreams)
          for (const state of STATES)
            this.set({ upstream: upstream.name, state }, upstream.state === state ? 1 : 0);
      },
    });
    new Gauge({
      name: 'switchboard_quarantined_tools',
      help: 'Tools held back by pinning (changed, new or poisoned definitions), per upstream',
      labelNames: ['upstream'],
      registers: [this.registry],
      collect() {
        const counts = new Map<string, number>(sources.upstreams.map((u) => [u.name, 0]));
        for (const notice of sources.quarantined())
          if (notice.reason) counts.set(notice.upstream, (counts.get(notice.upstream) ?? 0) + 1);
        for (const [upstream, count] of counts) this.set({ upstream }, count);
      },
    });
    // Zero series from the start: a rate over a counter that appears only at its first increment misses it.
    for (const upstream of sources.upstreams) this.restarts.inc({ upstream: upstream.name }, 0);
    collectDefaultMetrics({ register: this.registry });
  }

  /** Follows each request: in flight while it runs; counted, timed and (on error) classified when it ends. */
  readonly observer: RequestObserver = {
    begin: (exchange, request, started) => {
      this.inFlight++;
      return {
        end: (outcome, error) => {
          this.inFlight--;
          const labels = this.labelsOf(request, exchange.connection?.upstream.name);
          const { method, upstream, tool } = labels;
          this.requests.observe(method, upstream, tool, (performance.now() - started) / 1000);
          if (outcome !== 'ok' && outcome !== 'cancelled')
            this.errors.inc({ ...labels, error: errorLabel(outcome, error) });
        },
      };
    },
  };

  /** A decision sink (runtime.decisions.subscribe). */
  readonly onDecision = (event: DecisionEvent): void => {
    const rule = event.rule ?? '';
    switch (event.effect) {
      case 'limit':
        this.rateLimited.inc({ rule });
        return;
      case 'deny':
      case 'guard':
      case 'block':
        this.denials.inc({ rule, effect: event.effect });
        return;
      case 'approve':
        if (event.outcome !== 'approved') this.denials.inc({ rule, effect: event.effect });
        return;
    }
  };

  /** Told of every upstream state change: a return to ready after down is a restart. */
  onUpstreamState(upstream: { readonly name: string; readonly state: UpstreamState }): void {
    const before = this.lastState.get(upstream.name);
    this.lastState.set(upstream.name, upstream.state);
    if (before === 'down' && upstream.state === 'ready') this.restarts.inc({ upstream: upstream.name });
  }

  /** How long one audit write (a batch of records) took, in seconds: the audit log reports it here. */
  observeAuditWrite(seconds: number): void {
    this.auditWrites.observe(seconds);
  }

  /** The exposition text and its content type. */
  async scrape(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }

  private labelsOf(request: JSONRPCRequest, connected: string | undefined): RequestLabels {
    const method = KNOWN_METHODS.has(request.method) ? request.method : OTHER_METHOD;
    if (method !== 'tools/call') return { method, upstream: connected ?? '', tool: '' };
    const name = (request.params as { name?: unknown } | undefined)?.name;
    const target = typeof name === 'string' ? this.sources.tool(name) : undefined;
    // The target's upstream even when the call never reached it (denied, limited): that is whose tool it was.
    if (target) return { method, upstream: target.server.name, tool: name as string };
    return { method, upstream: connected ?? '', tool: UNKNOWN_TOOL };
  }

  private counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }
}

/** A bounded name for how a request failed: the gateway's error kind, never an upstream's free-form code. */
function errorLabel(outcome: Outcome, error: GatewayError | undefined): string {
  if (outcome === 'isError') return 'isError';
  if (!error) return 'internal';
  return error.upstreamCode === undefined ? error.kind : 'upstream_error';
}
