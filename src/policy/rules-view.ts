// Views of the `policy:` rules: what one principal's rules come to (the rules about them folded into one glob
// per kind and effect), keyed by exactly what the rules tell principals apart by, and found again cheaply for a
// principal that is a new object on every request.
import type { PrincipalField } from './cel.js';
import { globList } from './glob.js';
import { ITEM_KINDS, type CompiledRule, type Effect, type ItemKind } from './rules-match.js';
import type { Principal, Target } from './types.js';

/** Distinct views kept (each a few compiled expressions); past it they are rebuilt on demand. */
const VIEWS_MAX = 10_000;

/** What one principal's rules come to: the rules about them, folded into one glob per kind and effect. */
export interface View {
  readonly key: string;
  readonly rules: readonly CompiledRule[];
  /** Allow globs of rules without a `when:` or whose `when:` reads args (lists show what args may allow). */
  readonly allow: Partial<Record<ItemKind, RegExp>>;
  /** Deny globs of rules without a `when:`. */
  readonly deny: Partial<Record<ItemKind, RegExp>>;
  /** Rules whose `when:` is decided without args: evaluated per target, remembered in `memo`. */
  readonly conditional: readonly CompiledRule[];
  /** Globs of the rules that read args: a call to one of these goes through `around`. */
  readonly byArgs: Partial<Record<ItemKind, RegExp>>;
  readonly memo: Map<string, boolean>;
  readonly upstreams: Map<string, boolean>;
  /** Per target object (the catalogue's, long-lived): visible or not, found without a glob or a key string. */
  readonly seen: WeakMap<Target, boolean>;
  /** Per target object: what a call of it asks of the rules that read args (null: none of them names it). */
  readonly byTarget: WeakMap<Target, ArgFacts | null>;
}

/** What a call of one item asks per call: the rules that read args and name it, and the answer without them. */
export interface ArgFacts {
  /** In rule order, each with the effect its lists give the item (deny first: a deny overrides). */
  readonly rules: readonly { readonly rule: CompiledRule; readonly deny: boolean; readonly allow: boolean }[];
  /** Allowed before any rule that reads args is looked at. */
  readonly allowedWithout: boolean;
}

/** Every field of a principal, each string length-prefixed: two principals share a signature only if equal. */
function signatureOf(p: Principal): string {
  let out = `${p.via}|${p.subject.length}:${p.subject}|${p.clientId === undefined ? '-' : `${p.clientId.length}:${p.clientId}`}|`;
  for (const group of p.groups) out += `${group.length}:${group}`;
  out += '|';
  for (const scope of p.scopes) out += `${scope.length}:${scope}`;
  // The virtual endpoint too: a `when:` may read it.
  return p.endpoint === undefined ? out : `${out}|${p.endpoint.length}:${p.endpoint}`;
}

/** The view of each principal: which rules are about them, and the principal fields a `when:` reads per view. */
export function viewFinder(rules: readonly CompiledRule[]): (principal: Principal) => View {
  const keyed = rules.filter((rule) => rule.principals);
  // What the view key must carry of a principal beside which rules are about them: the fields a `when:` decided
  // per view reads (one that reads args is decided per call, with the real principal).
  const fields = new Set<PrincipalField>();
  let allFields = false;
  for (const rule of rules) {
    if (!rule.when || rule.when.reads.args) continue;
    const read = rule.when.reads.principal;
    if (read === 'all') allFields = true;
    else for (const field of read) fields.add(field);
  }
  const readFields: PrincipalField[] = allFields
    ? ['subject', 'groups', 'scopes', 'clientId', 'via', 'endpoint']
    : [...fields].sort();
  const views = new Map<string, View>();
  // A principal is a new object on most requests: its view is found by an exact signature of its fields (a
  // string and one Map lookup), and the last one asked is kept, since one request asks several times.
  const bySignature = new Map<string, View>();
  let last: { principal: Principal; view: View } | undefined;

  function keyOf(principal: Principal): string {
    let bits = '';
    for (const rule of keyed) bits += rule.principals!(principal) ? '1' : '0';
    if (readFields.length === 0) return bits;
    const values = readFields.map((field) => {
      const value = principal[field];
      return Array.isArray(value) ? [...value].sort() : (value ?? null);
    });
    return `${bits}|${JSON.stringify(values)}`;
  }

  function viewOf(principal: Principal): View {
    if (last?.principal === principal) return last.view;
    const signature = signatureOf(principal);
    let view = bySignature.get(signature);
    if (!view) {
      const key = keyOf(principal);
      view = views.get(key);
      if (!view) {
        if (views.size >= VIEWS_MAX) views.clear();
        view = buildView(key, principal);
        views.set(key, view);
      }
      if (bySignature.size >= VIEWS_MAX) bySignature.clear();
      bySignature.set(signature, view);
    }
    last = { principal, view };
    return view;
  }

  function buildView(key: string, principal: Principal): View {
    const about = rules.filter((rule) => !rule.principals || rule.principals(principal));
    const fold = (pick: (rule: CompiledRule) => boolean, effect: Effect) => {
      const out: Partial<Record<ItemKind, RegExp>> = {};
      for (const kind of ITEM_KINDS) {
        const globs = about.filter(pick).flatMap((rule) => rule[effect][kind]?.globs ?? []);
        if (globs.length) out[kind] = globList(globs)!;
      }
      return out;
    };
    const byArgs = (rule: CompiledRule) => !!rule.when?.reads.args;
    const allowArgs = fold(byArgs, 'allow');
    const denyArgs = fold(byArgs, 'deny');
    const argKinds: Partial<Record<ItemKind, RegExp>> = {};
    for (const kind of ITEM_KINDS) {
      const both = [allowArgs[kind], denyArgs[kind]].filter((r): r is RegExp => !!r);
      if (both.length) argKinds[kind] = new RegExp(both.map((r) => r.source).join('|'));
    }
    return {
      key,
      rules: about,
      allow: fold((rule) => !rule.when || rule.when.reads.args, 'allow'),
      deny: fold((rule) => !rule.when, 'deny'),
      conditional: about.filter((rule) => rule.when && !rule.when.reads.args),
      byArgs: argKinds,
      memo: new Map(),
      upstreams: new Map(),
      seen: new WeakMap(),
      byTarget: new WeakMap(),
    };
  }

  return viewOf;
}
