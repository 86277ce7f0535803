// The rules of `policy:` compiled for matching: who a rule is about, which items its allow and deny lists name,
// its CEL condition, and the two questions an upstream as a whole asks of a glob (could it name something of
// this upstream; does it name all of it).
import { globList } from './glob.js';
import { compileWhen, type CompiledWhen, type WhenContext } from './cel.js';
import type { ItemLists, RuleOptions } from './rules-schema.js';
import type { Call, Principal, Target } from './types.js';

export type ItemKind = 'tools' | 'prompts' | 'resources';
export const ITEM_KINDS: readonly ItemKind[] = ['tools', 'prompts', 'resources'];
export type Effect = 'allow' | 'deny';

/** One effect's list for one kind: the globs as written, as one anchored expression, and one by one. */
export interface Patterns {
  readonly globs: readonly string[];
  readonly test: RegExp;
  readonly each: readonly RegExp[];
}

export interface CompiledRule {
  readonly name: string;
  /** Undefined: the rule is about everyone. */
  readonly principals?: (principal: Principal) => boolean;
  readonly allow: Partial<Record<ItemKind, Patterns>>;
  readonly deny: Partial<Record<ItemKind, Patterns>>;
  readonly when?: CompiledWhen;
}

/** Which kind of list names a target (a URI template is a resource). */
export function itemKind(target: Target): ItemKind | undefined {
  switch (target.kind) {
    case 'tool':
      return 'tools';
    case 'prompt':
      return 'prompts';
    case 'resource':
    case 'template':
      return 'resources';
    default:
      return undefined;
  }
}

/** The method a list item stands for, as `method` in a `when:` evaluated for lists and resolution. */
export const METHOD_OF: Record<ItemKind, string> = {
  tools: 'tools/call',
  prompts: 'prompts/get',
  resources: 'resources/read',
};

export function compileRules(rules: readonly RuleOptions[]): CompiledRule[] {
  return rules.map((rule, i) => {
    let when: CompiledWhen | undefined;
    try {
      when = rule.when === undefined ? undefined : compileWhen(rule.when);
    } catch (error) {
      // The schema has checked this already; a policy built without it still fails at start, never later.
      throw new Error(`policy.rules.${i}.when: rule "${rule.name}": ${(error as Error).message}`);
    }
    return {
      name: rule.name,
      principals: principalMatcher(rule.principals),
      allow: patternsOf(rule.allow),
      deny: patternsOf(rule.deny),
      when,
    };
  });
}

function patternsOf(lists: ItemLists | undefined): Partial<Record<ItemKind, Patterns>> {
  const out: Partial<Record<ItemKind, Patterns>> = {};
  for (const kind of ITEM_KINDS) {
    const globs = lists?.[kind];
    if (globs) out[kind] = { globs, test: globList(globs)!, each: globs.map((glob) => globList([glob])!) };
  }
  return out;
}

function principalMatcher(match: RuleOptions['principals']): ((principal: Principal) => boolean) | undefined {
  if (!match) return undefined;
  const subjects = globList(match.subjects);
  const groups = globList(match.groups);
  const scopes = globList(match.scopes);
  const clients = globList(match.clients);
  const via = match.via && new Set<string>(match.via);
  return (p) =>
    (!subjects || subjects.test(p.subject)) &&
    (!groups || p.groups.some((g) => groups.test(g))) &&
    (!scopes || p.scopes.some((s) => scopes.test(s))) &&
    (!clients || (p.clientId !== undefined && clients.test(p.clientId))) &&
    (!via || via.has(p.via));
}

/** The glob written that matches `name`, for explanations. */
export function matchingGlob(patterns: Patterns | undefined, name: string): string | undefined {
  if (!patterns || !patterns.test.test(name)) return undefined;
  const at = patterns.each.findIndex((one) => one.test(name));
  return at === -1 ? undefined : patterns.globs[at];
}

/**
 * Could this glob match some name published by an upstream whose names start with `start` (its prefix and
 * separator; undefined when unknown, as for resources, whose URIs carry no upstream)? Over-approximates: a
 * glob that might is counted as one that does.
 */
export function couldName(glob: string, start: string | undefined): boolean {
  if (start === undefined) return true;
  const star = glob.indexOf('*');
  if (star === -1) return glob.startsWith(start);
  const literal = glob.slice(0, star);
  return literal.startsWith(start) || start.startsWith(literal);
}

/** Does this glob match every name that starts with `start` (everything, when `start` is unknown)? */
export function namesAll(glob: string, start: string | undefined): boolean {
  const star = glob.indexOf('*');
  if (star === -1 || !/^\**$/.test(glob.slice(star))) return false;
  const literal = glob.slice(0, star);
  return start === undefined ? literal === '' : start.startsWith(literal);
}

/** Evaluates a rule's condition; its error message when it fails (the caller decides closed). */
export function evaluateWhen(when: CompiledWhen, context: WhenContext): boolean | string {
  try {
    return when.evaluate(context);
  } catch (error) {
    return (error as Error).message.split('\n')[0];
  }
}

const NO_ARGS: Record<string, unknown> = Object.freeze({});

/** A call's arguments as a `when:` and the guards see them: the object the client sent, or none. */
export function argsOf(call: Call): Record<string, unknown> {
  const given: unknown = call.params.arguments;
  return typeof given === 'object' && given !== null && !Array.isArray(given)
    ? (given as Record<string, unknown>)
    : NO_ARGS;
}

/** What a `when:` sees of a call: who, the method, the public name, the upstream and the arguments. */
export function callContext(call: Call): WhenContext {
  const { principal, method, target } = call;
  return { principal, method, name: target.name, upstream: target.upstream, args: argsOf(call) };
}
