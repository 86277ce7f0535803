// Turns zod's issues about a config into one line each that names the path of the bad key and says what
// was expected and what was found (`listen.port: expected number, got string`).
import type { z } from 'zod';

type Issue = z.core.$ZodIssue;

/** The keys that decide which kind an upstream entry is, in the order the union lists them. */
const KIND_KEYS = ['command', 'url', 'builtin'] as const;

export function describeIssues(
  issues: readonly Issue[],
  input: unknown,
  knownUpstreamKeys: ReadonlySet<string>,
): string {
  return issues.map((issue) => describeIssue(issue, input, knownUpstreamKeys)).join('; ');
}

function describeIssue(issue: Issue, input: unknown, known: ReadonlySet<string>): string {
  const at = issue.path.map(String);
  if (issue.code === 'invalid_union' && at[0] === 'upstreams' && at.length === 2) {
    // Report the branch the entry was meant to be, not zod's list of every alternative.
    const entry = valueAt(input, at) as Record<string, unknown> | undefined;
    const isObject = !!entry && typeof entry === 'object';
    if (isObject && 'command' in entry && 'url' in entry && !('builtin' in entry)) {
      return `${at.join('.')}: an upstream is either stdio (command) or HTTP (url), not both`;
    }
    const branch = isObject ? KIND_KEYS.findIndex((k) => k in entry) : -1;
    if (branch === -1 || !issue.errors[branch]) {
      const unknown = isObject ? Object.keys(entry).filter((k) => !known.has(k)) : [];
      const hint = `${at.join('.')}: an upstream needs one of command (stdio), url (HTTP) or builtin`;
      return [...unknown.map((k) => `${[...at, k].join('.')}: unknown key`), hint].join('; ');
    }
    return issue.errors[branch]
      .map((inner) => formatIssue([...at, ...inner.path.map(String)], inner, input))
      .join('; ');
  }
  return formatIssue(at, issue, input);
}

/** One issue at `at` (a path from the root of `root`, the whole input that was validated). */
export function formatIssue(at: string[], issue: Issue, root: unknown): string {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${[...at, key].join('.')}: unknown key`).join('; ');
  }
  const where = at.length ? at.join('.') : '(top level)';
  if (issue.code === 'invalid_type') {
    // zod leaves `input` out of issues, so look the value up: only a missing one is "required".
    const value = valueAt(root, at);
    if (value === undefined) return `${where}: required`;
    // A message of the schema's own (a duration without its unit) says more than the generic one.
    if (!issue.message.startsWith('Invalid input')) return `${where}: ${issue.message}`;
    return `${where}: expected ${typeName(issue.expected)}, got ${describeValue(value)}`;
  }
  if (issue.code === 'invalid_value') {
    return `${where}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  if (issue.code === 'invalid_key') return `${where}: ${issue.issues[0]?.message ?? issue.message}`;
  if (issue.code === 'invalid_union') {
    // The branch whose type matched says what is wrong; a plain type mismatch says least.
    const branch = issue.errors.find(
      (e) => !(e.length === 1 && e[0].code === 'invalid_type' && e[0].path.length === 0),
    );
    if (branch?.length) return formatIssue([...at, ...branch[0].path.map(String)], branch[0], root);
    const expected = issue.errors.flatMap((e) =>
      e[0]?.code === 'invalid_type' ? [typeName(e[0].expected)] : [],
    );
    if (expected.length)
      return `${where}: expected ${expected.join(' or ')}, got ${describeValue(valueAt(root, at))}`;
  }
  return `${where}: ${issue.message}`;
}

/** zod's names for YAML/JSON mappings are `record` and `object`; a config author knows them as mappings. */
function typeName(expected: string): string {
  return expected === 'record' || expected === 'object' ? 'mapping' : expected;
}

/** The value's type only: the value itself may have come from an environment variable holding a secret. */
function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value === 'object' ? 'mapping' : typeof value;
}

function valueAt(input: unknown, at: string[]): unknown {
  let current = input;
  for (const key of at) current = (current as Record<string, unknown> | undefined)?.[key];
  return current;
}
