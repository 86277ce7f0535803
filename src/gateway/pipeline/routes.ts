// The routed methods: each resolves what it names to a target (through the one visibility predicate), then
// runs its method's chain to `forward`. What a principal may not see fails exactly as a name that is absent.
import { GatewayError } from '../../errors.js';
import type { Result } from '../../policy/types.js';
import type { Exchange } from '../session/sessions.js';
import { TASK_METHODS } from '../session/tasks.js';
import { curatedArgs } from '../catalog/curation.js';
import type { RoutedTarget } from '../catalog/types.js';
import type { SessionRegistry, SessionSharing } from '../session/sessions.js';
import type { TaskBook } from '../session/tasks.js';
import { bounded, objectParam, stringParam } from '../wire/jsonrpc.js';
import { unknownResource, type Resolver } from './resolve.js';

/** What the routes need of the request handler: its parts, running a method's chain, probing a URI. */
export interface RouteRunner {
  readonly deps: { resolver: Resolver; tasks: TaskBook; sessions: SessionRegistry; sharing?: SessionSharing };
  run(exchange: Exchange, method: string, params: Record<string, any>, target: RoutedTarget): Promise<Result>;
  probe(exchange: Exchange, params: Record<string, any>, uri: string): Promise<Result>;
}

export async function routeRequest(
  handler: RouteRunner,
  exchange: Exchange,
  method: string,
  params: Record<string, any>,
): Promise<Result> {
  const { resolver, tasks } = handler.deps;
  const { principal } = exchange;
  switch (method) {
    case 'tools/call': {
      const name = stringParam(params, 'name', method);
      objectParam(params, 'arguments', method);
      objectParam(params, 'task', method);
      const target = resolver.tool(name, principal);
      const forwarded: Record<string, any> = { ...params, name: target.original };
      // Curated arguments before any stage: policies (CEL `args`) see exactly what the upstream will get.
      if (target.args) {
        const args = curatedArgs(params.arguments, target.args);
        if (args !== undefined) forwarded.arguments = args;
      }
      const result = await handler.run(exchange, method, forwarded, target);
      return params.task ? tasks.record(exchange, target, result) : result;
    }
    case 'prompts/get': {
      const name = stringParam(params, 'name', method);
      objectParam(params, 'arguments', method);
      const target = resolver.prompt(name, principal);
      return handler.run(exchange, method, { ...params, name: target.original }, target);
    }
    case 'resources/read': {
      const uri = stringParam(params, 'uri', method);
      const target = resolver.resource(uri, principal);
      if (!target) return handler.probe(exchange, params, uri);
      return handler.run(exchange, method, { ...params, uri: target.original }, target);
    }
    case 'resources/subscribe':
    case 'resources/unsubscribe':
      return subscription(handler, exchange, method, params, stringParam(params, 'uri', method));
    case 'completion/complete':
      objectParam(params, 'ref', method);
      objectParam(params, 'argument', method);
      return complete(handler, exchange, params);
    default:
      if (TASK_METHODS.has(method)) return taskRequest(handler, exchange, method, params);
      throw new GatewayError('method_not_found', `Method not found: ${bounded(method)}`);
  }
}

async function subscription(
  handler: RouteRunner,
  exchange: Exchange,
  method: string,
  params: Record<string, any>,
  uri: string,
): Promise<Result> {
  const target = handler.deps.resolver.resource(uri, exchange.principal);
  if (!target) throw unknownResource(uri);
  const subscribing = method === 'resources/subscribe';
  const session = exchange.session;
  const mine = (session.subscriptions ??= new Set());
  if (subscribing === mine.has(uri)) {
    // With replicas, the subscription may be held by the one that took the subscribe: it tells its upstream.
    if (!subscribing) handler.deps.sharing?.unsubscribeElsewhere(session, uri);
    return { value: {} };
  }
  // A shared upstream is told once: on the first subscriber and after the last one leaves.
  let others = 0;
  if (target.server.options.scope === 'shared') {
    for (const s of handler.deps.sessions.all()) if (s !== session && s.subscriptions?.has(uri)) others++;
  }
  if (others === 0) await handler.run(exchange, method, { ...params, uri: target.original }, target);
  if (subscribing) mine.add(uri);
  else mine.delete(uri);
  handler.deps.sharing?.subscribed(session, uri, subscribing);
  return { value: {} };
}

async function complete(
  handler: RouteRunner,
  exchange: Exchange,
  params: Record<string, any>,
): Promise<Result> {
  const { resolver } = handler.deps;
  const { principal } = exchange;
  const ref = params.ref ?? {};
  const method = 'completion/complete';
  if (ref.type === 'ref/prompt') {
    const target = resolver.prompt(stringParam(ref, 'name', `${method} (ref)`), principal);
    return handler.run(exchange, method, { ...params, ref: { ...ref, name: target.original } }, target);
  }
  if (ref.type === 'ref/resource') {
    const uri = stringParam(ref, 'uri', `${method} (ref)`);
    const target = resolver.template(uri, principal) ?? resolver.resource(uri, principal);
    if (!target) throw new GatewayError('not_found', `Unknown resource template: ${bounded(uri)}`);
    return handler.run(exchange, method, { ...params, ref: { ...ref, uri: target.original } }, target);
  }
  const type = typeof ref.type === 'string' ? JSON.stringify(bounded(ref.type)) : typeof ref.type;
  throw new GatewayError('invalid_params', `completion/complete: unknown ref type ${type}`);
}

/** tasks/get|result|cancel go to the connection that runs the task, under the upstream's own id for it. */
async function taskRequest(
  handler: RouteRunner,
  exchange: Exchange,
  method: string,
  params: Record<string, any>,
): Promise<Result> {
  const taskId = params.taskId;
  if (typeof taskId !== 'string')
    throw new GatewayError('invalid_params', `Invalid params: ${method} needs params.taskId as a string`);
  const { tasks } = handler.deps;
  const found = tasks.find(exchange.session, exchange.principal, taskId);
  if (!found) {
    // With replicas, the task may run on another one: it answers (its own visibility check included).
    const there = await handler.deps.sharing?.taskElsewhere(exchange, method, params, taskId);
    if (there) return there;
    throw new GatewayError('invalid_params', `Unknown task: ${bounded(taskId)}`, { data: { taskId } });
  }
  const forwarded = found.original === taskId ? params : { ...params, taskId: found.original };
  const result = await handler.run(exchange, method, forwarded, found.tool);
  return tasks.renameBack(taskId, found.original, result);
}
