// Shared literals of the rule-engine tests: principals, targets and a way to build a policy from plain rules
// the way the config does (through the schema, so defaults and checks are the real ones).
import { policySchema } from '../../src/policy/rules-schema.js';
import { createRulesPolicy, type PublishedNames, type RulesPolicy } from '../../src/policy/rules.js';
import type { Principal, Target, TargetKind } from '../../src/policy/types.js';

export const alice: Principal = { subject: 'alice', groups: ['analysts'], scopes: [], via: 'apiKey' };
export const bob: Principal = {
  subject: 'bob',
  groups: ['ci', 'builders'],
  scopes: ['mcp:tools'],
  clientId: 'ci-runner',
  via: 'jwt',
};
export const eve: Principal = { subject: 'eve', groups: [], scopes: [], via: 'anonymous' };
export const PRINCIPALS = [alice, bob, eve];

export const target = (kind: TargetKind, upstream: string, name: string): Target => ({
  kind,
  upstream,
  name,
  original: name,
});

export const sqlQuery = target('tool', 'sql', 'sql__query');
export const sqlDrop = target('tool', 'sql', 'sql__drop_table');
export const docsSearch = target('tool', 'docs', 'docs__search');
export const getEnv = target('tool', 'files', 'files__get-env');
export const docsPrompt = target('prompt', 'docs', 'docs__summary');
export const guide = target('resource', 'docs', 'docs://guide');
export const pages = target('template', 'docs', 'docs://page/{id}');
export const TARGETS = [sqlQuery, sqlDrop, docsSearch, getEnv, docsPrompt, guide, pages];

/** sql, docs and files, each prefixed with its own name. */
export const NAMES: PublishedNames = {
  separator: '__',
  prefixes: new Map([
    ['sql', 'sql'],
    ['docs', 'docs'],
    ['files', 'files'],
  ]),
};

/** `names: null` builds the policy as the registry does, without knowing how upstreams are prefixed. */
export function policyOf(raw: unknown, names: PublishedNames | null = NAMES): RulesPolicy {
  return createRulesPolicy(policySchema.parse(raw), names ?? undefined);
}

/** Every ordering of a list (n! of them: keep n small). */
export function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}
