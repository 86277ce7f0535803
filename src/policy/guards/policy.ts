// Typed argument guards as a policy: an `around` on tools/call built from each upstream's `tools.guards` (by its
// own tool names) and the `guards` of the `policy:` rules (public-name globs, for the rule's principals, where
// its `when` holds). A refused call never reaches the upstream: it gets an `isError` result naming the argument
// and the guard, and leaves a decision event. Tools without guards pay two Map lookups.
import { globList } from '../glob.js';
import { DECISION_MESSAGE, decisionEvent } from '../decisions.js';
import { argsOf, callContext, compileRules, evaluateWhen, type CompiledRule } from '../rules-match.js';
import type { RuleOptions } from '../rules-schema.js';
import type { Call, Next, Policy, Result, Target } from '../types.js';
import { compileArgumentCheck, type ArgumentCheck, type CheckDeps, type Refusal } from './check.js';
import type { ToolGuards } from './schema.js';

export interface GuardsOptions extends CheckDeps {
  /** Upstream config name -> its `tools.guards` (by the upstream's own tool names). */
  readonly upstreams: ReadonlyMap<string, ToolGuards>;
  /** The `policy:` rules; those with `guards` apply. */
  readonly rules: readonly RuleOptions[];
}

/** One guarded argument, with the config path (and rule) a refusal names. */
interface GuardedArgument {
  readonly argument: string;
  readonly check: ArgumentCheck;
  readonly where: string;
  readonly rule?: string;
}

interface RuleGuards {
  readonly rule: CompiledRule;
  readonly tool: RegExp;
  readonly arguments: readonly GuardedArgument[];
}

/** Public names whose matching rule guards were found, remembered up to this many (then relearned). */
const MEMO_MAX = 4096;
const NONE: readonly RuleGuards[] = [];

/** Undefined when nothing is guarded: no stage at all. */
export function createGuardsPolicy(options: GuardsOptions): Policy | undefined {
  const compile = (tool: ToolGuards[string], where: string, rule?: string): GuardedArgument[] =>
    Object.entries(tool).map(([argument, guard]) => ({
      argument,
      check: compileArgumentCheck(guard, `${where}.${argument}`, options),
      where: `${where}.${argument}`,
      rule,
    }));

  const byUpstream = new Map<string, Map<string, GuardedArgument[]>>();
  for (const [upstream, guards] of options.upstreams) {
    const tools = new Map<string, GuardedArgument[]>();
    for (const [tool, args] of Object.entries(guards))
      tools.set(tool, compile(args, `upstreams.${upstream}.tools.guards.${tool}`));
    if (tools.size) byUpstream.set(upstream, tools);
  }

  const compiled = compileRules(options.rules);
  const ruleGuards: RuleGuards[] = [];
  options.rules.forEach((rule, i) => {
    for (const [glob, args] of Object.entries(rule.guards ?? {}))
      ruleGuards.push({
        rule: compiled[i],
        tool: globList([glob])!,
        arguments: compile(args, `policy.rules.${i}.guards.${glob}`, rule.name),
      });
  });
  if (byUpstream.size === 0 && ruleGuards.length === 0) return undefined;

  const memo = new Map<string, readonly RuleGuards[]>();
  const rulesNaming = (name: string): readonly RuleGuards[] => {
    if (ruleGuards.length === 0) return NONE;
    let found = memo.get(name);
    if (found) return found;
    found = ruleGuards.filter((entry) => entry.tool.test(name));
    if (memo.size >= MEMO_MAX) memo.clear();
    memo.set(name, found.length ? found : NONE);
    return found;
  };

  /** The refusal of one guarded argument as the text the client sees (with its decision event), or undefined. */
  function refusalText(call: Call, entry: GuardedArgument, refusal: Refusal | undefined): string | undefined {
    if (!refusal) return undefined;
    const { argument, where, rule } = entry;
    const reason = `argument ${JSON.stringify(argument)} ${refusal.reason}`;
    const source = `${refusal.kind} guard ${where}${rule === undefined ? '' : `, rule "${rule}"`}`;
    call.log.info(
      {
        decision: decisionEvent(call.principal, call.method, call.target, {
          ...(rule === undefined ? {} : { rule }),
          effect: 'guard',
          reason: `${reason} (${source})`,
        }),
      },
      DECISION_MESSAGE,
    );
    return `Refused by the gateway: ${reason} (${source})`;
  }

  /**
   * The guarded arguments this call must pass, in order: the upstream's own, then each rule's that applies.
   * A rule's `when` is asked only once the arguments before it have passed, as the guards run in that order.
   */
  function* guardedOf(
    call: Call,
    own: readonly GuardedArgument[] | undefined,
    byRules: readonly RuleGuards[],
  ) {
    if (own) yield* own;
    for (const { rule, arguments: guarded } of byRules) {
      if (rule.principals && !rule.principals(call.principal)) continue;
      // A condition that fails to evaluate applies the guards: when the policy cannot decide, they hold.
      if (rule.when && evaluateWhen(rule.when, callContext(call)) === false) continue;
      yield* guarded;
    }
  }

  /** The first refusal, as the text the client sees; undefined when all pass. Synchronous while every check
   * answers at once (no path, url or sql guard): no promise per call. */
  function firstRefusal(
    call: Call,
    pending: Iterator<GuardedArgument>,
    args: Record<string, unknown>,
  ): string | undefined | Promise<string | undefined> {
    for (let step = pending.next(); !step.done; step = pending.next()) {
      const entry = step.value;
      if (!Object.hasOwn(args, entry.argument)) continue; // absent passes: a guard never makes it required
      const answer = entry.check(args[entry.argument]);
      if (answer instanceof Promise)
        return answer.then(
          (refusal) => refusalText(call, entry, refusal) ?? firstRefusal(call, pending, args),
        );
      const text = refusalText(call, entry, answer);
      if (text) return text;
    }
    return undefined;
  }

  const refused = (text: string): Result => ({ value: { content: [{ type: 'text', text }], isError: true } });

  return {
    name: 'guards',
    methods: ['tools/call'],
    // Not async: an unguarded tool, or one whose guards all answer at once, adds no promise of its own.
    around<T extends Target>(call: Call<T>, next: Next<T>): Promise<Result> {
      const { target } = call;
      const own = byUpstream.get(target.upstream)?.get(target.original);
      const byRules = rulesNaming(target.name);
      if (!own && byRules.length === 0) return next(call);
      const found = firstRefusal(call, guardedOf(call, own, byRules), argsOf(call));
      if (found instanceof Promise) return found.then((text) => (text ? refused(text) : next(call)));
      return found ? Promise.resolve(refused(found)) : next(call);
    },
  };
}
