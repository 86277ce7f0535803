// `switchboard policy explain`, the pure part: the principal from `--as k=v,...`, and the text that shows what
// that principal sees of a catalogue (and why), or the decision for one call with every rule that named it.
import { globList } from './glob.js';
import type { RulesPolicy, Decision } from './rules.js';
import type { Principal, Target, TargetKind, Via } from './types.js';

const VIA: readonly Via[] = ['apiKey', 'jwt', 'introspection', 'anonymous', 'stdio'];

/** `subject=alice,groups=analysts,groups=ops,scopes=mcp:tools,client=cli,via=jwt`; a repeated key adds a value. */
export function parsePrincipal(text: string): Principal {
  let subject: string | undefined;
  const groups: string[] = [];
  const scopes: string[] = [];
  let clientId: string | undefined;
  let endpoint: string | undefined;
  let via: Via = 'apiKey';
  for (const pair of text.split(',')) {
    if (pair === '') continue;
    const at = pair.indexOf('=');
    const key = at === -1 ? pair : pair.slice(0, at);
    const value = at === -1 ? '' : pair.slice(at + 1);
    if (value === '') throw new Error(`--as: "${key}" needs a value (key=value)`);
    if (key === 'subject') subject = value;
    else if (key === 'groups' || key === 'group') groups.push(value);
    else if (key === 'scopes' || key === 'scope') scopes.push(...value.split(' '));
    else if (key === 'client' || key === 'clientId') clientId = value;
    else if (key === 'endpoint') endpoint = value;
    else if (key === 'via') {
      if (!VIA.includes(value as Via)) throw new Error(`--as: via must be one of ${VIA.join(', ')}`);
      via = value as Via;
    } else throw new Error(`--as: unknown key "${key}" (subject, groups, scopes, client, via, endpoint)`);
  }
  if (subject === undefined) throw new Error('--as: subject=NAME is required');
  return {
    subject,
    groups,
    scopes,
    via,
    ...(clientId === undefined ? {} : { clientId }),
    ...(endpoint === undefined ? {} : { endpoint }),
  };
}

export function describePrincipal(p: Principal): string {
  const list = (values: readonly string[]) => (values.length ? values.join(',') : '-');
  return `subject=${p.subject} groups=${list(p.groups)} scopes=${list(p.scopes)} client=${p.clientId ?? '-'} via=${p.via}${p.endpoint === undefined ? '' : ` endpoint=${p.endpoint}`}`;
}

const SECTIONS: [TargetKind, string][] = [
  ['tool', 'TOOLS'],
  ['prompt', 'PROMPTS'],
  ['resource', 'RESOURCES'],
  ['template', 'RESOURCE TEMPLATES'],
  ['upstream', 'UPSTREAMS (instructions, logs, reads of unlisted URIs)'],
];

/** Every item of the catalogue, `+` seen or `-` hidden, with the reason; no policy: everything is seen. */
export function explainCatalogue(
  policy: RulesPolicy | undefined,
  principal: Principal,
  targets: readonly Target[],
): string {
  const out = [`principal: ${describePrincipal(principal)}`];
  if (!policy) out.push('no policy: block in the config: every item is visible to everyone');
  for (const [kind, title] of SECTIONS) {
    const items = targets.filter((t) => t.kind === kind);
    const width = Math.max(0, ...items.map((t) => t.name.length));
    const rows = items.map((t) => {
      const decision = policy?.decide(principal, t);
      const seen = decision ? decision.allowed : true;
      const note = decision ? `  ${decision.reason}${argsNote(decision)}` : '';
      return { seen, text: `  ${seen ? '+' : '-'} ${t.name.padEnd(width)}${note}`.trimEnd() };
    });
    const shown = rows.filter((r) => r.seen).length;
    out.push('', `${title}: ${shown} of ${items.length} visible`, ...rows.map((r) => r.text));
  }
  return out.join('\n') + '\n';
}

/**
 * The decision for one call; `target` undefined when the name is not in the catalogue at all, `template` the URI
 * template a URI is read through (the principal must be allowed both).
 */
export function explainCall(
  policy: RulesPolicy | undefined,
  principal: Principal,
  method: string,
  name: string,
  target: Target | undefined,
  args: object | undefined,
  template?: Target,
): string {
  const out = [`principal: ${describePrincipal(principal)}`, `request: ${method} ${name}`];
  if (!target) {
    out.push(`decision: UNKNOWN: ${name} is not in the catalogue; the call fails as for any absent name`);
    return out.join('\n') + '\n';
  }
  out.push(`item: ${target.kind} of upstream ${target.upstream} (its own name: ${target.original})`);
  if (template) out.push(`read through the template ${template.name}`);
  if (!policy) {
    out.push('decision: ALLOWED: no policy: block in the config');
    return out.join('\n') + '\n';
  }
  const itself = policy.decide(principal, target, args ? { method, args } : undefined);
  const through = template && policy.decide(principal, template);
  const decision = itself.allowed && through && !through.allowed ? through : itself;
  const byArgs = args !== undefined && !decision.allowed && policy.decide(principal, target).allowed;
  const what = decision === through ? `the template ${template!.name}: ` : '';
  out.push(
    `decision: ${decision.allowed ? 'ALLOWED' : 'DENIED'}: ${what}${decision.reason}${argsNote(decision)}`,
  );
  if (!decision.allowed)
    out.push(
      byArgs
        ? 'the client sees: a forbidden error (-32000); the item stays listed'
        : 'the client sees: exactly the answer for a name that does not exist; the item is not listed',
    );
  out.push(decision.matches.length ? 'rules that name it:' : 'no rule names it');
  for (const m of decision.matches) {
    const when = m.condition === undefined ? '' : `  when: ${m.condition}`;
    out.push(`  ${m.rule}  ${m.effect}  ${m.glob}${when}  ${m.counts ? 'counts' : 'does not count'}`);
  }
  return out.join('\n') + '\n';
}

function argsNote(decision: Decision): string {
  return decision.dependsOnArgs ? ' (a rule on args decides each call)' : '';
}

/**
 * What `check` warns about: globs that name nothing in the catalogue (a typo, or an upstream that is down),
 * and, under `default: deny`, items that no rule allows to anyone.
 */
export function policyWarnings(policy: RulesPolicy, targets: readonly Target[]): string[] {
  const warnings: string[] = [];
  const byKind = new Map<string, Target[]>();
  for (const t of targets) {
    const kind =
      t.kind === 'tool'
        ? 'tools'
        : t.kind === 'prompt'
          ? 'prompts'
          : t.kind === 'upstream'
            ? ''
            : 'resources';
    if (kind) byKind.set(kind, [...(byKind.get(kind) ?? []), t]);
  }
  for (const rule of policy.rules)
    for (const effect of ['allow', 'deny'] as const)
      for (const [kind, patterns] of Object.entries(rule[effect]))
        for (const glob of patterns.globs) {
          const test = globList([glob])!;
          if (!(byKind.get(kind) ?? []).some((t) => test.test(t.name)))
            warnings.push(
              `policy rule "${rule.name}": ${effect} ${kind} "${glob}" matches nothing in the catalogue`,
            );
        }
  if (policy.defaultEffect === 'deny') {
    const unreachable = [...byKind.entries()].flatMap(([kind, items]) =>
      items.filter(
        (t) => !policy.rules.some((rule) => rule.allow[kind as keyof typeof rule.allow]?.test.test(t.name)),
      ),
    );
    if (unreachable.length)
      warnings.push(
        `policy: ${unreachable.length} item(s) no rule allows to anyone (default: deny): ` +
          unreachable
            .slice(0, 10)
            .map((t) => t.name)
            .join(', ') +
          (unreachable.length > 10 ? ', ...' : ''),
      );
  }
  return warnings;
}
