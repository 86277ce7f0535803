// Composes the configured policies into what the pipeline runs: one visibility predicate (every policy must
// see an item) with its view key, and one chain of `around` stages per method, compiled once at start-up.
import type { Call, Next, Policy, Principal, Result, Target } from './types.js';

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
 * gets `terminal` itself, so a gateway without policies pays nothing. A stage that returns a different value
 * but the inner result's raw bytes gets them dropped, and a value that has raw bytes is frozen while stages
 * see it: the wire must carry what the stage returned.
 */
export function compileChain<T extends Target>(
  policies: readonly Policy[],
  method: string,
  terminal: Next<T>,
): Next<T> {
  const stages = policies.filter((p) => p.around && (!p.methods || p.methods.includes(method)));
  let next = terminal;
  for (let i = stages.length - 1; i >= 0; i--) {
    const stage = stages[i];
    const inner = next;
    next = async (call: Call<T>): Promise<Result> => {
      let seen: Result | undefined;
      const result = await stage.around!(call, async (passed) => {
        seen = await inner(passed);
        // While the upstream's bytes stand for the value, the value must not change under them: frozen, an
        // edit in place throws (the call fails) instead of being silently undone on the wire.
        if (seen.raw) deepFreeze(seen.value);
        return seen;
      });
      if (result.raw && result.raw === seen?.raw && result.value !== seen.value)
        return { value: result.value };
      return result;
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
