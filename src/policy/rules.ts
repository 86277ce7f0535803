// The `policy:` rules as a Policy: `visible` (deny overrides allow, then the default) for lists and resolution,
// cached per view (principals the rules cannot tell apart share one), `around` only where a `when:` reads args,
// and `decide`, the same decision with every rule that matched and why (explain, decision events).
import { GatewayError } from '../errors.js';
import { DECISION_MESSAGE, decisionEvent } from './decisions.js';
import {
  compileRules,
  couldName,
  evaluateWhen,
  ITEM_KINDS,
  itemKind,
  matchingGlob,
  METHOD_OF,
  namesAll,
  type CompiledRule,
  type Effect,
  type ItemKind,
} from './rules-match.js';
import type { PolicyOptions } from './rules-schema.js';
import { viewFinder, type ArgFacts, type View } from './rules-view.js';
import type { Call, Next, Policy, Principal, Result, Target } from './types.js';

/** How the gateway names tools and prompts: lets an upstream as a whole be judged by the globs that name it. */
export interface PublishedNames {
  readonly separator: string;
  /** Upstream config name -> its prefix ("" for unprefixed). */
  readonly prefixes: ReadonlyMap<string, string>;
}

/** One rule whose list names the item, and whether it counts. */
export interface RuleMatch {
  readonly rule: string;
  readonly effect: Effect;
  readonly glob: string;
  /** The `when:` outcome: true, false, `depends on args` (lists and resolution), or the CEL error. */
  readonly condition?: string;
  readonly counts: boolean;
}

export interface Decision {
  readonly allowed: boolean;
  /** The rule that decided; absent when the default did. */
  readonly rule?: string;
  readonly effect: Effect;
  readonly reason: string;
  readonly matches: readonly RuleMatch[];
  /** A rule that reads args names this item: a call may still be refused for its arguments. */
  readonly dependsOnArgs: boolean;
}

export interface RulesPolicy extends Policy {
  readonly defaultEffect: Effect;
  readonly rules: readonly CompiledRule[];
  visible(principal: Principal, target: Target): boolean;
  viewKey(principal: Principal): string;
  /** The decision with its reasons; `call` given (a method and arguments), rules that read args are evaluated. */
  decide(principal: Principal, target: Target, call?: { method: string; args: object }): Decision;
}

const NO_ARGS = Object.freeze({});
/** Per view, targets whose decision needed CEL are remembered, up to this many (then forgotten and relearned). */
const MEMO_MAX = 4096;

export function createRulesPolicy(options: PolicyOptions, names?: PublishedNames): RulesPolicy {
  // Only rules that allow or deny decide access: one that only approves (its own stage) must not split views or
  // put lists on the slow path.
  const rules = compileRules(options.rules).filter((rule) =>
    ITEM_KINDS.some((kind) => rule.allow[kind] || rule.deny[kind]),
  );
  const allowByDefault = options.default === 'allow';
  const viewOf = viewFinder(rules);

  /** The fast path of `decide` without args: the folded globs, then the conditional rules (remembered). */
  function itemVisible(view: View, principal: Principal, target: Target, kind: ItemKind): boolean {
    const { name } = target;
    if (view.deny[kind]?.test(name)) return false;
    if (view.conditional.length === 0) return allowByDefault || !!view.allow[kind]?.test(name);
    const memoKey = `${target.kind}\0${target.upstream}\0${name}`;
    const known = view.memo.get(memoKey);
    if (known !== undefined) return known;
    let allowed = allowByDefault || !!view.allow[kind]?.test(name);
    const context = { principal, method: METHOD_OF[kind], name, upstream: target.upstream, args: NO_ARGS };
    for (const rule of view.conditional) {
      // A deny whose condition fails to evaluate applies: when the policy cannot decide, the answer is no.
      if (rule.deny[kind]?.test.test(name) && evaluateWhen(rule.when!, context) !== false) {
        allowed = false;
        break;
      }
      if (!allowed && rule.allow[kind]?.test.test(name) && evaluateWhen(rule.when!, context) === true)
        allowed = true;
    }
    if (view.memo.size >= MEMO_MAX) view.memo.clear();
    view.memo.set(memoKey, allowed);
    return allowed;
  }

  /**
   * An upstream as a whole (its instructions, logs, the probe of unlisted URIs on it) is visible when, for some
   * kind, a rule about the principal could allow something it publishes (or the default allows) and no
   * unconditional deny about the principal names all of that kind of it. A `when:` that reads name, method or
   * args cannot be decided for a whole upstream: it counts as possibly true for an allow, not as a deny.
   */
  function upstreamVisible(view: View, principal: Principal, upstream: string): boolean {
    const known = view.upstreams.get(upstream);
    if (known !== undefined) return known;
    const context = { principal, method: '', name: '', upstream, args: NO_ARGS };
    const undecidable = (rule: CompiledRule) => {
      const reads = rule.when!.reads;
      return reads.args || reads.name || reads.method;
    };
    const maybe = (rule: CompiledRule) =>
      !rule.when || undecidable(rule) || evaluateWhen(rule.when, context) === true;
    const surely = (rule: CompiledRule) =>
      !rule.when || (!undecidable(rule) && evaluateWhen(rule.when, context) !== false);
    let visible = false;
    for (const kind of ITEM_KINDS) {
      const prefix = kind === 'resources' ? undefined : names?.prefixes.get(upstream);
      const start = prefix === undefined ? undefined : prefix && `${prefix}${names!.separator}`;
      const possible =
        allowByDefault ||
        view.rules.some(
          (rule) => rule.allow[kind]?.globs.some((glob) => couldName(glob, start)) && maybe(rule),
        );
      if (!possible) continue;
      const all = view.rules.some(
        (rule) => rule.deny[kind]?.globs.some((glob) => namesAll(glob, start)) && surely(rule),
      );
      if (!all) {
        visible = true;
        break;
      }
    }
    view.upstreams.set(upstream, visible);
    return visible;
  }

  function decide(principal: Principal, target: Target, call?: { method: string; args: object }): Decision {
    const kind = itemKind(target);
    if (!kind) {
      const allowed = upstreamVisible(viewOf(principal), principal, target.upstream);
      return {
        allowed,
        effect: allowed ? 'allow' : 'deny',
        reason: allowed
          ? 'some of what it publishes may be allowed'
          : 'nothing it publishes can be allowed to this principal',
        matches: [],
        dependsOnArgs: false,
      };
    }
    const context = {
      principal,
      method: call?.method ?? METHOD_OF[kind],
      name: target.name,
      upstream: target.upstream,
      args: call?.args ?? NO_ARGS,
    };
    const matches: RuleMatch[] = [];
    let dependsOnArgs = false;
    for (const rule of rules) {
      if (rule.principals && !rule.principals(principal)) continue;
      for (const effect of ['deny', 'allow'] as const) {
        const glob = matchingGlob(rule[effect][kind], target.name);
        if (glob === undefined) continue;
        if (!rule.when) {
          matches.push({ rule: rule.name, effect, glob, counts: true });
        } else if (rule.when.reads.args && !call) {
          dependsOnArgs = true;
          // Lists show what arguments may allow; only the call itself can be refused for its arguments.
          matches.push({
            rule: rule.name,
            effect,
            glob,
            condition: 'depends on args',
            counts: effect === 'allow',
          });
        } else {
          const outcome = evaluateWhen(rule.when, context);
          const condition = typeof outcome === 'string' ? `error: ${outcome}` : String(outcome);
          const counts = typeof outcome === 'string' ? effect === 'deny' : outcome;
          matches.push({ rule: rule.name, effect, glob, condition, counts });
        }
      }
    }
    const deciding = matches.find((m) => m.effect === 'deny' && m.counts) ?? matches.find((m) => m.counts);
    if (deciding) {
      const why = deciding.condition === undefined ? '' : `, when: ${deciding.condition}`;
      return {
        allowed: deciding.effect === 'allow',
        rule: deciding.rule,
        effect: deciding.effect,
        reason: `${deciding.effect === 'allow' ? 'allowed' : 'denied'} by rule "${deciding.rule}" (${kind}: "${deciding.glob}"${why})`,
        matches,
        dependsOnArgs,
      };
    }
    return {
      allowed: allowByDefault,
      effect: options.default,
      reason: `no rule ${allowByDefault ? 'denies' : 'allows'} it; the default is ${options.default}`,
      matches,
      dependsOnArgs,
    };
  }

  const policy: RulesPolicy = {
    name: 'policy',
    defaultEffect: options.default,
    rules,
    visible(principal, target) {
      const view = viewOf(principal);
      const kind = itemKind(target);
      if (!kind) return upstreamVisible(view, principal, target.upstream);
      // Resolution asks this on every call: the answer per target object, without a glob or a key string.
      let known = view.seen.get(target);
      if (known === undefined) view.seen.set(target, (known = itemVisible(view, principal, target, kind)));
      return known;
    },
    viewKey: (principal) => viewOf(principal).key,
    decide,
  };
  if (!rules.some((rule) => rule.when?.reads.args)) return policy;

  /**
   * What calls of this item ask of the rules that read args, found once per view and target object: the rules
   * that name it, and whether it is allowed before any of them is looked at (the call only got here because the
   * item is visible, so no rule without args denies it). Null when no rule that reads args names it.
   */
  function argFactsOf(view: View, principal: Principal, target: Target, kind: ItemKind): ArgFacts | null {
    let facts = view.byTarget.get(target);
    if (facts !== undefined) return facts;
    facts = null;
    if (view.byArgs[kind]?.test(target.name)) {
      const { matches } = decide(principal, target);
      const allowedWithout =
        !matches.some((m) => m.counts && m.effect === 'deny') &&
        (allowByDefault ||
          matches.some((m) => m.counts && m.effect === 'allow' && m.condition !== 'depends on args'));
      const named = view.rules
        .filter((rule) => rule.when?.reads.args)
        .map((rule) => ({
          rule,
          deny: !!rule.deny[kind]?.test.test(target.name),
          allow: !!rule.allow[kind]?.test.test(target.name),
        }))
        .filter((entry) => entry.deny || entry.allow);
      facts = { rules: named, allowedWithout };
    }
    view.byTarget.set(target, facts);
    return facts;
  }
  /**
   * The per-call check: only the rules that read args and name the item are evaluated (a deny whose condition
   * fails to evaluate applies); the same answer `decide` gives with the call, which runs only to explain a
   * refusal.
   */
  function callAllowed(facts: ArgFacts, call: Call, args: object): boolean {
    const { name, upstream } = call.target;
    const context = { principal: call.principal, method: call.method, name, upstream, args };
    let allowedByArgs = false;
    for (const { rule, deny, allow } of facts.rules) {
      if (deny && evaluateWhen(rule.when!, context) !== false) return false;
      if (!allowedByArgs && allow && evaluateWhen(rule.when!, context) === true) allowedByArgs = true;
    }
    return allowedByArgs || facts.allowedWithout;
  }

  return {
    ...policy,
    methods: ['tools/call', 'prompts/get'],
    // Not async: a call no rule that reads args names passes on with no promise of this stage's own.
    around<T extends Target>(call: Call<T>, next: Next<T>): Promise<Result> {
      const kind = itemKind(call.target);
      if (!kind) return next(call);
      const facts = argFactsOf(viewOf(call.principal), call.principal, call.target, kind);
      if (facts === null) return next(call);
      const given = call.params.arguments;
      const args = typeof given === 'object' && given !== null && !Array.isArray(given) ? given : NO_ARGS;
      if (callAllowed(facts, call, args)) return next(call);
      const decision = decide(call.principal, call.target, { method: call.method, args });
      if (decision.allowed) return next(call);
      call.log.info(
        { decision: decisionEvent(call.principal, call.method, call.target, decision) },
        DECISION_MESSAGE,
      );
      // The item is listed, so refusing it reveals nothing: a clear "forbidden", not a pretended absence.
      return Promise.reject(
        new GatewayError(
          'forbidden',
          `Forbidden: the policy does not allow this call of ${call.target.name} with these arguments`,
        ),
      );
    },
  };
}
