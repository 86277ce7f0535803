// handle: one client request, from the front to its answer. Local methods (initialize, ping, logging/setLevel,
// tasks/list) are answered here; lists come from the principal's view as bytes, with no chain; every routed
// request is resolved to a target (hidden = absent), then runs its method's chain of stages down to `forward`.
import type { JSONRPCRequest, LoggingLevel } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { GatewayError, toGatewayError } from '../../errors.js';
import type { Visibility } from '../../policy/compose.js';
import { compileChain } from '../../policy/compose.js';
import type { Next, Policy, Result } from '../../policy/types.js';
import type { CatalogKind } from '../../upstreams/catalog.js';
import type { Upstream } from '../../upstreams/pool.js';
import type { RoutedTarget } from '../catalog/types.js';
import type { Views } from '../catalog/views.js';
import { initialize, setLevel } from '../session/lifecycle.js';
import type { DecisionSinks } from '../decisions.js';
import type { Exchange, SessionRegistry, SessionSharing } from '../session/sessions.js';
import type { TaskBook } from '../session/tasks.js';
import {
  cachedResultPieces,
  objectParam,
  stringParam,
  errorText,
  isRequestId,
  paramsOf,
  rawResultPieces,
  resultText,
  type ResponseText,
} from '../wire/jsonrpc.js';
import { makeCall, type GatewayCall } from './call.js';
import { fromUpstreamError, type Forwarder } from './forward.js';
import type { Observation, Outcome, RequestObserver } from './observe.js';
import { unknownResource, type Resolver } from './resolve.js';
import { routeRequest, type RouteRunner } from './routes.js';
import { Slots } from '../session/slots.js';

/** Requests answered without the catalogue, so never held back while start-up settles. */
const SETTLE_EXEMPT = new Set(['initialize', 'ping']);

/** A Map, not an object literal: a method named `constructor` or `__proto__` must find nothing here. */
const LIST_METHODS = new Map<string, CatalogKind>([
  ['tools/list', 'tools'],
  ['prompts/list', 'prompts'],
  ['resources/list', 'resources'],
  ['resources/templates/list', 'resourceTemplates'],
]);

/** The methods that reach an upstream item, each with a chain of its own. */
export const ROUTED_METHODS = [
  'tools/call',
  'prompts/get',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'completion/complete',
  'tasks/get',
  'tasks/result',
  'tasks/cancel',
] as const;

/** Whether requests that read the catalogue may go ahead: start-up settled, or its bound passed. */
export interface CatalogueGate {
  ready: boolean;
  /** Resolves (never rejects) when start-up settles or its bound passes. */
  until?: Promise<void>;
}

export interface HandlerDeps {
  upstreams: readonly Upstream[];
  sessions: SessionRegistry;
  views: Views;
  resolver: Resolver;
  forwarder: Forwarder;
  tasks: TaskBook;
  visibility: Visibility | undefined;
  policies: readonly Policy[];
  gate: CatalogueGate;
  log: Logger;
  /** Decisions the stages make go to these besides the log (audit, metrics). */
  decisions: DecisionSinks;
  /** Told of each request's beginning and end (the debug request line, spans, metrics, audit records). */
  observers: readonly RequestObserver[];
  /** With `redis:`: the other replicas hear of log levels and subscriptions set here. */
  sharing?: SessionSharing;
}

export class RequestHandler implements RouteRunner {
  /** The chain of each routed method, compiled once (and per reload): `forward` itself when no policy names it. */
  chains: ReadonlyMap<string, Next<RoutedTarget>>;
  private readonly terminal: Next<RoutedTarget>;

  constructor(readonly deps: HandlerDeps) {
    const { forwarder } = deps;
    this.terminal = (call) => {
      const { exchange, target, method, params } = call as GatewayCall;
      return forwarder.send(exchange, target.server, method, params);
    };
    this.chains = this.compile(deps.policies);
  }

  /** A config reload's policies, swapped in one synchronous step: the next request reads only the new set. */
  swap(next: Pick<HandlerDeps, 'policies' | 'visibility' | 'views' | 'resolver'>): void {
    const chains = this.compile(next.policies);
    Object.assign(this.deps, next);
    this.chains = chains;
  }

  private compile(policies: readonly Policy[]): ReadonlyMap<string, Next<RoutedTarget>> {
    return new Map(ROUTED_METHODS.map((m) => [m, compileChain(policies, m, this.terminal)]));
  }

  /**
   * Handles one client request (already classified by the front: string method, valid id); never throws (errors
   * become JSON-RPC error responses). With debug logging on, each call leaves one request log line.
   */
  async handle(exchange: Exchange, request: JSONRPCRequest): Promise<ResponseText> {
    const { observers } = this.deps;
    if (observers.length === 0) return this.answer(exchange, request);
    const started = performance.now();
    let observations: Observation[] | undefined;
    for (const observer of observers) {
      const observation = observer.begin(exchange, request, started);
      if (observation) (observations ??= []).push(observation);
    }
    if (!observations) return this.answer(exchange, request);
    const ended: { outcome: Outcome; error?: GatewayError } = { outcome: 'ok' };
    let work = () => this.answer(exchange, request, ended);
    for (const observation of observations) {
      const inner = work;
      if (observation.run) work = () => observation.run!(inner);
    }
    // Decisions made in the synchronous start (resolution) belong to this request.
    const { decisions } = this.deps;
    const outer = decisions.starting;
    decisions.starting = exchange;
    let pending: Promise<ResponseText>;
    try {
      pending = work();
    } finally {
      decisions.starting = outer;
    }
    const text = await pending;
    // Every observer hears of the end; one that fails (the audit sink) turns the answer into its error.
    let failure: GatewayError | undefined;
    for (const observation of observations) {
      try {
        // Only the audit's end may be waited for: awaiting the others' undefined would cost a turn each.
        const written = observation.end(ended.outcome, ended.error);
        if (written) await written;
      } catch (error) {
        failure ??= toGatewayError(error);
      }
    }
    return failure ? errorText(request.id, failure) : text;
  }

  /**
   * The answer to one client request (already classified by the front: string method, valid id); never throws
   * (errors become JSON-RPC error responses). `ended` learns how it ended, for the observers.
   */
  private async answer(
    exchange: Exchange,
    request: JSONRPCRequest,
    ended?: { outcome: Outcome; error?: GatewayError },
  ): Promise<ResponseText> {
    const { session } = exchange;
    const { gate } = this.deps;
    const inflight = (session.inflight ??= new Slots());
    const slot = inflight.add(exchange);
    try {
      // Until start-up settles the catalogue is partial: answer from the whole of it, not from whoever was first.
      if (!gate.ready && gate.until && !SETTLE_EXEMPT.has(request.method)) {
        await gate.until;
        // Cancelled (or its session closed) while it waited: it must not reach an upstream now.
        exchange.controller.signal.throwIfAborted();
      }
      const listed = LIST_METHODS.get(request.method);
      if (listed) {
        if (request.params !== undefined) paramsOf(request.params);
        return cachedResultPieces(request.id, this.deps.views.listJson(listed, exchange.principal));
      }
      const result = await this.dispatch(exchange, request);
      if (ended && (result.value as { isError?: unknown } | undefined)?.isError === true)
        ended.outcome = 'isError';
      return result.raw ? rawResultPieces(request.id, result.raw) : resultText(request.id, result.value);
    } catch (error) {
      if (exchange.controller.signal.aborted && !session.closed && isCancellation(exchange)) {
        if (ended) ended.outcome = 'cancelled';
        return undefined;
      }
      const gatewayError = fromUpstreamError(error);
      if (ended) {
        ended.outcome = gatewayError.code;
        ended.error = gatewayError;
      }
      return errorText(request.id, gatewayError);
    } finally {
      inflight.delete(slot);
    }
  }

  private async dispatch(exchange: Exchange, request: JSONRPCRequest): Promise<Result> {
    const params = paramsOf(request.params) as Record<string, any>;
    const method = request.method;
    objectParam(params, '_meta', method);
    const token = params._meta?.progressToken;
    if (token !== undefined && !isRequestId(token))
      throw new GatewayError(
        'invalid_params',
        'Invalid params: _meta.progressToken must be a string or a number',
      );
    const { upstreams, visibility, sessions, forwarder, tasks } = this.deps;
    switch (method) {
      case 'ping':
        return { value: {} };
      case 'initialize':
        objectParam(params, 'capabilities', method);
        return { value: initialize(upstreams, visibility, exchange.session, params) };
      case 'logging/setLevel': {
        const level = stringParam(params, 'level', method) as LoggingLevel;
        const value = await setLevel(upstreams, sessions, forwarder, exchange, level);
        // Awaited: the client's next request may reach another replica, which must filter by this level.
        await this.deps.sharing?.levelSet(exchange.session, level);
        return { value };
      }
      case 'tasks/list': {
        const listed = await tasks.list(exchange);
        // With replicas, the tasks the session created through the others are listed too.
        const elsewhere = await this.deps.sharing?.tasksElsewhere(exchange);
        return { value: elsewhere?.length ? { tasks: [...listed.tasks, ...elsewhere] } : listed };
      }
      default:
        return routeRequest(this, exchange, method, params);
    }
  }

  /** Runs the chain of `method` on a call to `target`. */
  run(
    exchange: Exchange,
    method: string,
    params: Record<string, any>,
    target: RoutedTarget,
  ): Promise<Result> {
    const { log, decisions } = this.deps;
    const context = { principal: exchange.principal, sessionId: exchange.session.id, method, exchange };
    return this.chains.get(method)!(
      makeCall(exchange, method, params, target, decisions.callLog(log, context)),
    );
  }

  /** An unlisted URI (a link inside a result, say) is asked of each resource server it may be on, in turn. */
  async probe(exchange: Exchange, params: Record<string, any>, uri: string): Promise<Result> {
    let firstError: unknown;
    for (const target of this.deps.resolver.probeTargets(uri, exchange.principal)) {
      try {
        return await this.run(exchange, 'resources/read', params, target);
      } catch (error) {
        if (exchange.controller.signal.aborted) throw error;
        // A limit or a policy refusal is about the caller, not about where the URI lives: asking the next
        // upstream would only spend more of the caller's quota.
        if (isRefusal(error)) throw error;
        firstError ??= error;
      }
    }
    if (firstError && !isNotFound(firstError)) throw firstError;
    throw unknownResource(uri);
  }
}

function isCancellation(exchange: Exchange): boolean {
  const reason: unknown = exchange.controller.signal.reason;
  return reason instanceof GatewayError && reason.kind === 'cancelled';
}

function isRefusal(error: unknown): boolean {
  return error instanceof GatewayError && (error.kind === 'rate_limited' || error.kind === 'forbidden');
}

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === -32002 || code === -32602;
}
