// What a config reload would change: upstreams added, removed or changed, API keys rotated (counted, never
// shown), policy, endpoints and curation, and the keys that only a restart applies. Pure: `switchboard check
// --diff` prints it and the running gateway applies it (reload.ts).
import type { ApiKeyEntry } from './front/auth-api-keys.js';
import type { GatewayConfig } from './config.js';

/** Top-level keys a running gateway cannot change: the reload applies the rest and warns about these. */
const RESTART_ONLY = [
  'listen',
  'namespace',
  'http',
  'sessions',
  'stdio',
  'redis',
  'pins',
  'audit',
  'telemetry',
  'logging',
  'ui',
] as const;

export interface ConfigDiff {
  upstreams: { added: string[]; removed: string[]; changed: string[] };
  /** Counts only: a key's value (or digest) never reaches a log line or a terminal. */
  apiKeys: { added: number; removed: number; total: number };
  /** Rule names added, removed or changed; `default` when policy.default changed. */
  rules: { added: string[]; removed: string[]; changed: string[] };
  /** Whether anything else under `policy:` changed (approval settings, limits outside rules ...). */
  policyOther: boolean;
  endpoints: { added: string[]; removed: string[]; changed: string[] };
  /** Keys the reload leaves as they run, each named as a config path (`listen`, `auth.jwt`, `endpoints`). */
  restartOnly: string[];
}

/** The difference between the running config and a new one (both already validated). */
export function configDiff(running: GatewayConfig, next: GatewayConfig): ConfigDiff {
  const restartOnly: string[] = RESTART_ONLY.filter((key) => differs(field(running, key), field(next, key)));
  const { apiKeys: runningKeys, ...runningAuth } = running.auth ?? {};
  const { apiKeys: nextKeys, ...nextAuth } = next.auth ?? {};
  // Only the key set is swapped live (auth-api-keys.ts); verifiers, metadata routes and challenges are built
  // once with the HTTP app, so everything else under auth: (jwt, introspection, resource ...) waits for a restart.
  if (Boolean(running.auth) !== Boolean(next.auth)) restartOnly.push('auth');
  else
    for (const key of unionKeys(runningAuth, nextAuth))
      if (differs(field(runningAuth, key), field(nextAuth, key))) restartOnly.push(`auth.${key}`);
  const endpoints = recordDiff(running.endpoints ?? {}, next.endpoints ?? {});
  // An endpoint's subset switches live; its route (/mcp/<name>) is registered at start-up.
  if (endpoints.added.length || endpoints.removed.length) restartOnly.push('endpoints (names)');
  return {
    upstreams: upstreamDiff(running, next),
    apiKeys: keyDiff(runningKeys ?? [], nextKeys ?? []),
    rules: ruleDiff(running, next),
    policyOther: differs(
      { ...running.policy, rules: undefined, default: undefined },
      { ...next.policy, rules: undefined, default: undefined },
    ),
    endpoints,
    restartOnly,
  };
}

/** Whether the diff changes anything at all (restart-only keys included). */
export function isEmptyDiff(diff: ConfigDiff): boolean {
  return describeDiff(diff).length === 0;
}

/** One line per change, as `check --diff` prints them and the reload logs them. */
export function describeDiff(diff: ConfigDiff): string[] {
  const lines: string[] = [];
  const list = (label: string, names: string[]) =>
    names.length && lines.push(`${label}: ${names.join(', ')}`);
  list('upstreams added', diff.upstreams.added);
  list('upstreams removed', diff.upstreams.removed);
  list('upstreams changed (restarted)', diff.upstreams.changed);
  const keys = diff.apiKeys;
  if (keys.added || keys.removed)
    lines.push(`auth.apiKeys: ${keys.added} added, ${keys.removed} removed (${keys.total} in total)`);
  list('policy rules added', diff.rules.added);
  list('policy rules removed', diff.rules.removed);
  list('policy rules changed', diff.rules.changed);
  if (diff.policyOther) lines.push('policy: other settings changed');
  list('endpoints added', diff.endpoints.added);
  list('endpoints removed', diff.endpoints.removed);
  list('endpoints changed', diff.endpoints.changed);
  list('restart required for', diff.restartOnly);
  return lines;
}

function upstreamDiff(running: GatewayConfig, next: GatewayConfig): ConfigDiff['upstreams'] {
  // Only enabled upstreams run: enabling one adds it, disabling one removes it.
  const enabled = (config: GatewayConfig) =>
    Object.fromEntries(Object.entries(config.upstreams).filter(([, u]) => u.enabled));
  const diff = recordDiff(enabled(running), enabled(next));
  // Every upstream's timeouts and limits fall back on `defaults:`: when they change, every upstream restarts.
  if (differs(running.defaults, next.defaults))
    diff.changed = Object.keys(enabled(next)).filter((name) => !diff.added.includes(name));
  return diff;
}

function ruleDiff(running: GatewayConfig, next: GatewayConfig): ConfigDiff['rules'] {
  const byName = (config: GatewayConfig) =>
    Object.fromEntries((config.policy?.rules ?? []).map((rule, i) => [rule.name ?? `#${i + 1}`, rule]));
  const diff = recordDiff(byName(running), byName(next));
  if (running.policy?.default !== next.policy?.default) diff.changed.push('default');
  return diff;
}

function keyDiff(running: readonly ApiKeyEntry[], next: readonly ApiKeyEntry[]): ConfigDiff['apiKeys'] {
  // A key is who it is for and what it is; a new subject for the same key is one removed and one added.
  const identity = (entry: ApiKeyEntry) => JSON.stringify([entry.key, entry.sha256?.toLowerCase(), entry]);
  const before = new Set(running.map(identity));
  const after = new Set(next.map(identity));
  return {
    added: [...after].filter((key) => !before.has(key)).length,
    removed: [...before].filter((key) => !after.has(key)).length,
    total: after.size,
  };
}

function recordDiff(
  running: object,
  next: object,
): { added: string[]; removed: string[]; changed: string[] } {
  const before = new Map(Object.entries(running));
  const after = new Map(Object.entries(next));
  return {
    added: [...after.keys()].filter((name) => !before.has(name)),
    removed: [...before.keys()].filter((name) => !after.has(name)),
    changed: [...after.keys()].filter(
      (name) => before.has(name) && differs(before.get(name), after.get(name)),
    ),
  };
}

function unionKeys(a: object, b: object): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])];
}

function field(object: object, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(object, key)
    ? (object as Record<string, unknown>)[key]
    : undefined;
}

/** Deep inequality of two parsed config values (plain JSON shapes; key order does not matter). */
function differs(a: unknown, b: unknown): boolean {
  return canonical(a) !== canonical(b);
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : v,
  );
}
