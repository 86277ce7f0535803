// The pipeline's vocabulary, shared by the gateway and every policy: who is asking (Principal), what they name
// (Target), one routed request (Call) and its answer (Result), and the two faces a policy may have.
// Pure types: a policy imports these, errors.ts, zod and SDK types, never the gateway or upstreams.

/** How the principal was established. */
export type Via = 'apiKey' | 'jwt' | 'introspection' | 'anonymous' | 'stdio';

/** Who a request is from; re-established on every request, bound to the session it opens. */
export interface Principal {
  readonly subject: string;
  readonly groups: readonly string[];
  readonly scopes: readonly string[];
  readonly clientId?: string;
  readonly via: Via;
  /** The virtual endpoint (`endpoints:`) the request came through; absent for /mcp itself and stdio. A session
   * belongs to the endpoint it was opened on, as it belongs to its identity. */
  readonly endpoint?: string;
}

export type TargetKind = 'tool' | 'prompt' | 'resource' | 'template' | 'upstream';

/**
 * What a request names, resolved: a published tool, prompt, resource URI or URI template, or an upstream as a
 * whole (log delivery, `initialize` instructions, the probe of an unlisted URI).
 */
export interface Target {
  readonly kind: TargetKind;
  /** The upstream's config name. */
  readonly upstream: string;
  /** The name a client uses: the public tool or prompt name, the published URI or URI template; for an
   * upstream, its config name. */
  readonly name: string;
  /** The upstream's own name or URI for it. */
  readonly original: string;
}

/** An answer from the terminal stage. `raw` holds the upstream's own bytes for `value`; a stage that changes
 * `value` returns a new Result without `raw`, so the change is what reaches the wire. */
export interface Result {
  readonly value: unknown;
  readonly raw?: readonly Buffer[];
}

/** The few log methods a stage may use (pino's child logger satisfies it). */
export interface CallLog {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

/** A request to ask the client something while a call runs (an elicitation today). */
export interface ClientQuestion {
  readonly method: string;
  readonly params?: Record<string, unknown>;
  /** Withdraws the question before the call ends (a stage's own timeout): the client is told it is cancelled. */
  readonly signal?: AbortSignal;
}

/** What of an AbortSignal a stage may use of its call's (an AbortSignal is one; the gateway's own is lighter). */
export interface AbortLike {
  readonly aborted: boolean;
  readonly reason: unknown;
  throwIfAborted(): void;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** One routed request on its way through the chain of stages to `forward`. */
export interface Call<T extends Target = Target> {
  readonly method: string;
  /** The request's params as the upstream will receive them (names already mapped to the upstream's own). */
  readonly params: Record<string, unknown>;
  readonly target: T;
  readonly principal: Principal;
  readonly session?: { readonly id: string };
  readonly signal: AbortLike;
  readonly log: CallLog;
  /** Asks the client (elicitation, sampling); rejects when the client cannot be asked. */
  askClient(question: ClientQuestion): Promise<unknown>;
}

export type Next<T extends Target = Target> = (call: Call<T>) => Promise<Result>;

/**
 * A compiled policy: up to two faces. `visible` is the one predicate for every path that names or reveals an
 * item (pure, synchronous); `viewKey` names everything `visible` reads of a principal, so lists are cached per
 * view. `around` wraps the calls of the methods it names (all routed methods when `methods` is absent).
 */
export interface Policy {
  readonly name: string;
  readonly methods?: readonly string[];
  visible?(principal: Principal, target: Target): boolean;
  viewKey?(principal: Principal): string;
  around?<T extends Target>(call: Call<T>, next: Next<T>): Promise<Result>;
}
