// Rate and concurrency limits as a policy: the `limits:` of the `policy:` rules (calls per window per principal,
// optionally per tool; calls in flight per principal and upstream) and each upstream's `maxConcurrent` bulkhead.
// Windows are counted by injected counters (in memory, or in Redis shared by replicas); calls in flight are
// counted here, in this process. It runs after the rules, so a call they refuse never spends a point.
import { GatewayError } from '../errors.js';
import { DECISION_MESSAGE, decisionEvent } from './decisions.js';
import { field, formatDuration, principalKey } from './limits-keys.js';
import { callContext, compileRules, evaluateWhen, itemKind, type CompiledRule } from './rules-match.js';
import type { LimitOptions, RuleOptions } from './rules-schema.js';
import type { Call, Next, Policy, Result, Target } from './types.js';

/** A window counter: takes one point for `key`; gives 0 when the call may go ahead, else the ms until one of
 * the window's points is free again. A counter in memory answers at once, one elsewhere (Redis) with a promise,
 * which rejects only when it cannot count (the call then fails closed). */
export interface RateCounter {
  consume(key: string): number | Promise<number>;
}

/** Makes the counter of one rule's window: `points` calls per `perMs`. */
export type RateCounterFactory = (window: { readonly points: number; readonly perMs: number }) => RateCounter;

export interface LimitsOptions {
  /** The `policy:` rules; those with `limits` are counted. */
  readonly rules: readonly RuleOptions[];
  /** Upstream config name -> the most calls in flight to it from everyone together (`maxConcurrent`). */
  readonly upstreams: ReadonlyMap<string, number>;
  readonly counters: RateCounterFactory;
}

/**
 * The methods that do an upstream's work for a client. Not `tasks/*`: their get/result/cancel ask about a call
 * that already spent its point (polling must not eat a quota), and the task-augmented tools/call that started
 * it is counted here. Not completions or subscriptions: cheap helpers, not the work a quota is about.
 */
export const LIMITED_METHODS: readonly string[] = ['tools/call', 'prompts/get', 'resources/read'];

/**
 * How soon a caller refused for concurrency should try again. When a slot frees depends on calls whose end
 * nobody knows; one second is the usual first back-off, long enough not to hammer a full bulkhead and short
 * beside the slow calls that fill one.
 */
export const CONCURRENCY_RETRY_MS = 1000;

/** Bulkhead keys at zero calls kept for reuse before they are swept (one per idle principal and upstream). */
const IDLE_KEYS_SWEPT = 1024;

interface LimitedRule {
  readonly rule: CompiledRule;
  readonly limits: LimitOptions;
  readonly counter?: RateCounter;
  /** The rule's name as the first field of every key it counts under. */
  readonly key: string;
}

/** Undefined when nothing is limited: no stage at all, so an unlimited gateway pays nothing. */
export function createLimitsPolicy(options: LimitsOptions): Policy | undefined {
  const compiled = compileRules(options.rules);
  const limited: LimitedRule[] = [];
  options.rules.forEach((rule, i) => {
    const limits = rule.limits;
    if (!limits) return;
    const counter =
      limits.calls === undefined ? undefined : options.counters({ points: limits.calls, perMs: limits.per! });
    limited.push({ rule: compiled[i], limits, counter, key: field(rule.name) });
  });
  const upstreamMax = options.upstreams;
  if (limited.length === 0 && upstreamMax.size === 0) return undefined;

  /** Calls in flight per bulkhead key. A key that drops to zero keeps its entry, to be reused by its next call:
   * deleting and re-adding one per call makes V8 rehash the table, and once the table lives in old space each
   * discarded table keeps calls alive through the young GC (see gateway/session/slots.ts). */
  const inFlight = new Map<string, number>();
  /** How many entries are at zero; past IDLE_KEYS_SWEPT they are swept, so idle principals are not kept. */
  let idle = 0;
  const take = (key: string, max: number): boolean => {
    const count = inFlight.get(key);
    if (count === undefined) {
      if (max <= 0) return false;
      inFlight.set(key, 1);
      return true;
    }
    if (count >= max) return false;
    if (count === 0) idle--;
    inFlight.set(key, count + 1);
    return true;
  };
  const give = (key: string): void => {
    const count = inFlight.get(key)! - 1;
    inFlight.set(key, count);
    if (count > 0 || ++idle <= IDLE_KEYS_SWEPT) return;
    for (const [k, n] of inFlight) if (n === 0) inFlight.delete(k);
    idle = 0;
  };

  /** The limited rules this call counts against: about the principal, naming the item, `when` true. */
  function applying(call: Call): LimitedRule[] {
    const { principal, target } = call;
    const kind = itemKind(target);
    const out: LimitedRule[] = [];
    if (!kind) return out;
    let context: Parameters<typeof evaluateWhen>[1] | undefined;
    for (const entry of limited) {
      const { rule } = entry;
      if (rule.principals && !rule.principals(principal)) continue;
      if (!rule.allow[kind]?.test.test(target.name)) continue;
      if (rule.when) {
        context ??= callContext(call);
        // A condition that fails to evaluate counts the call: when the policy cannot decide, the limit holds.
        if (evaluateWhen(rule.when, context) === false) continue;
      }
      out.push(entry);
    }
    return out;
  }

  function refuse(
    call: Call,
    limit: 'calls' | 'concurrent' | 'upstream',
    message: string,
    retryAfterMs: number,
    rule?: string,
  ): never {
    call.log.info(
      {
        decision: decisionEvent(call.principal, call.method, call.target, {
          ...(rule ? { rule } : {}),
          effect: 'limit',
          reason: message,
        }),
      },
      DECISION_MESSAGE,
    );
    throw new GatewayError('rate_limited', message, {
      data: { retryAfterMs, ...(rule ? { rule } : {}), limit },
    });
  }

  /** The params of reads already counted: the probe of an unlisted URI asks one upstream after another with
   * the same request (the same params object), and one read counts once. */
  const counted = new WeakSet<object>();

  const windowKey = ({ limits, key }: LimitedRule, who: string, call: Call): string =>
    limits.perTool ? `${key}${who}${field(call.target.name)}` : `${key}${who}`;

  /** Refuses the call when its window is used up (`waitMs` until one of its points is free again). */
  function checkWindow(call: Call, { rule, limits }: LimitedRule, waitMs: number): void {
    if (waitMs <= 0) return;
    const per = limits.perTool ? 'per principal and tool' : 'per principal';
    refuse(
      call,
      'calls',
      `Rate limit: rule "${rule.name}" allows ${calls(limits.calls!)} per ${formatDuration(limits.per!)} ${per}; retry in ${Math.ceil(waitMs / 1000)} s`,
      waitMs,
      rule.name,
    );
  }

  /** The windows left once a counter answered with a promise (Redis): awaited one after another, in rule order,
   * as the synchronous path counts them. */
  async function countRest(
    call: Call,
    rules: readonly LimitedRule[],
    from: number,
    answer: Promise<number>,
    who: string,
  ): Promise<void> {
    checkWindow(call, rules[from], await answer);
    for (let i = from + 1; i < rules.length; i++) {
      const entry = rules[i];
      if (entry.counter) checkWindow(call, entry, await entry.counter.consume(windowKey(entry, who, call)));
    }
  }

  /** Runs the call; `release` (the slots it holds) runs once when it ends, however it ends. Without slots the
   * answer of `next` is passed on as it is: no promise of this stage's own. */
  function proceed<T extends Target>(call: Call<T>, next: Next<T>, release?: () => void): Promise<Result> {
    let answer: Promise<Result>;
    try {
      answer = next(call);
    } catch (error) {
      release?.();
      return Promise.reject(error);
    }
    return release ? answer.finally(release) : answer;
  }

  return {
    name: 'limits',
    methods: LIMITED_METHODS,
    // Not async: windows counted in memory answer at once, and the call goes on to `next` without a promise of
    // this stage's own for the counting; only a counter in Redis makes it wait. A refusal is a rejection.
    around<T extends Target>(call: Call<T>, next: Next<T>): Promise<Result> {
      let rules: LimitedRule[];
      let maxUpstream: number | undefined;
      try {
        rules = applying(call);
        maxUpstream = upstreamMax.get(call.target.upstream);
      } catch (error) {
        return Promise.reject(error);
      }
      if (rules.length === 0 && maxUpstream === undefined) return proceed(call, next);
      const { upstream } = call.target;
      const held: string[] = [];
      // Each slot taken is given back exactly once: `held` empties as it is released, whatever ends the call.
      const release = () => {
        for (const key of held) give(key);
        held.length = 0;
      };
      /** Set when a counter answered with a promise: the windows still to count, from that one on. */
      let rest: Promise<void> | undefined;
      try {
        const who = principalKey(call.principal);
        // Slots first (in process, synchronous): a call refused for concurrency spends no point of a window.
        if (maxUpstream !== undefined) {
          const key = `u${field(upstream)}`;
          if (!take(key, maxUpstream))
            refuse(
              call,
              'upstream',
              `Concurrency limit: upstream "${upstream}" allows ${calls(maxUpstream)} in flight; retry when one of them ends`,
              CONCURRENCY_RETRY_MS,
            );
          held.push(key);
        }
        for (const { rule, limits, key: ruleKey } of rules) {
          if (limits.concurrent === undefined) continue;
          const key = `r${ruleKey}${who}${field(upstream)}`;
          if (!take(key, limits.concurrent))
            refuse(
              call,
              'concurrent',
              `Concurrency limit: rule "${rule.name}" allows ${calls(limits.concurrent)} in flight per principal and upstream; retry when one of them ends`,
              CONCURRENCY_RETRY_MS,
              rule.name,
            );
          held.push(key);
        }
        let recount = false;
        if (call.method === 'resources/read') {
          recount = counted.has(call.params);
          counted.add(call.params);
        }
        for (let i = 0; i < rules.length && !recount; i++) {
          const entry = rules[i];
          if (!entry.counter) continue;
          const waitMs = entry.counter.consume(windowKey(entry, who, call));
          if (typeof waitMs !== 'number') {
            rest = countRest(call, rules, i, waitMs, who);
            break;
          }
          checkWindow(call, entry, waitMs);
        }
      } catch (error) {
        release();
        return Promise.reject(error);
      }
      const holding = held.length > 0 ? release : undefined;
      if (!rest) return proceed(call, next, holding);
      return rest.then(
        () => proceed(call, next, holding),
        (error: unknown) => {
          release();
          throw error;
        },
      );
    },
  };
}

const calls = (n: number) => (n === 1 ? '1 call' : `${n} calls`);
