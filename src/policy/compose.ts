// Composes the configured policies into what the pipeline runs: one visibility predicate (every policy must
// see an item) with its view key, and one chain of `around` stages per method, compiled once at start-up.
import type { Next, Policy, Principal, Result, Target } from './types.js';

/** The one predicate every path that names or reveals an item asks, and what it reads of a principal. */
export interface Visibility {
  visible(principal: Principal, target: Target): boolean;
  viewKey(principal: Principal): string;
}

/** Undefined when no policy has a `visible` face: then nothing is filtered and lists are served as they are. */
export function composeVisibility(policies: readonly Policy[]): Visibility | undefined {
  const seeing = policies.filter((p) => p.visible);
  if (seeing.length === 0) return undefined;
  const keyed = seeing.filter((p) => p.viewKey);
  return {
    visible(principal, target) {
      for (const policy of seeing) if (!policy.visible!(principal, target)) return false;
      return true;
    },
    // A policy that reads the principal but names no key would share one cached view among everyone: the whole
    // principal stands in, so views are never shared by mistake (only cached less well).
    viewKey:
      keyed.length === seeing.length
        ? (principal) => keyed.map((p) => p.viewKey!(principal)).join('\0')
        : (principal) =>
            JSON.stringify([
              principal.via,
              principal.subject,
              principal.clientId ?? null,
              [...principal.groups].sort(),
              [...principal.scopes].sort(),
              principal.endpoint ?? null,
            ]),
  };
}

/**
 * The chain for one method: the `around` faces of the policies that name it (or name no methods), in list
 * order, the first seeing the call first and the result last, ending in `terminal`. A method no policy names
 * gets `terminal` itself, so a gateway without policies pays nothing. A value that has raw bytes is frozen
 * before any stage sees it, and a stage that returns raw bytes beside a value other than the one they stand for
 * gets them dropped: the wire must carry what the stage returned.
 *
 * Cheap per call: a stage that passes the inner answer on (returns what `next` gave it) adds no promise here,
 * only one that returns something else is checked, on a `then`.
 */
export function compileChain<T extends Target>(
  policies: readonly Policy[],
  method: string,
  terminal: Next<T>,
): Next<T> {
  const stages = policies.filter((p) => p.around && (!p.methods || p.methods.includes(method)));
  if (stages.length === 0) return terminal;
  /** The value each array of raw bytes stands for, noted (and frozen) when it first comes out of a step. */
  const owners = new WeakMap<readonly Buffer[], unknown>();
  const check = (result: Result): Result => {
    const { raw } = result;
    if (!raw) return result;
    if (!owners.has(raw)) {
      // While the bytes stand for the value, the value must not change under them: frozen, an edit in place
      // throws (the call fails) instead of being silently undone on the wire.
      deepFreeze(result.value);
      owners.set(raw, result.value);
      return result;
    }
    return owners.get(raw) === result.value ? result : { value: result.value };
  };
  // What each level (0: the terminal) last returned, kept only until the level outside it has looked: a stage
  // that returns exactly that promise passes on an answer already checked, and needs no check of its own.
  const last: (Promise<Result> | undefined)[] = [];
  const checked = (answer: Promise<Result>) => Promise.resolve(answer).then(check);
  let next: Next<T> = (call) => {
    try {
      return (last[0] = checked(terminal(call)));
    } catch (error) {
      return Promise.reject(error);
    }
  };
  for (let i = stages.length - 1; i >= 0; i--) {
    const stage = stages[i];
    const inner = next;
    const depth = stages.length - i;
    const outermost = i === 0;
    next = (call) => {
      let answer: Promise<Result>;
      try {
        answer = stage.around!(call, inner);
      } catch (error) {
        return Promise.reject(error);
      }
      const passedOn = answer === last[depth - 1];
      last[depth - 1] = undefined;
      const out = passedOn ? answer : checked(answer);
      if (!outermost) last[depth] = out;
      return out;
    };
  }
  return next;
}

/** Freezes a parsed JSON value and everything in it (a JSON value has no cycles). */
function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const key in value) deepFreeze((value as Record<string, unknown>)[key]);
}
