// Glob lists (`*` matches any run of characters) compiled once into one anchored regular expression.

/** Compiles allow/deny lists of names with `*` wildcards into one regular expression; undefined for no list. */
export function globList(patterns: readonly string[] | undefined): RegExp | undefined {
  if (!patterns) return undefined;
  const parts = patterns.map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*'));
  return new RegExp(`^(?:${parts.join('|') || '(?!)'})$`);
}

/** An allow/deny pair as one test: allowed when it matches `allow` (or there is none) and not `deny`. */
export function allowDeny(
  lists: { allow?: readonly string[]; deny?: readonly string[] } | undefined,
): ((name: string) => boolean) | undefined {
  const allow = globList(lists?.allow);
  const deny = globList(lists?.deny);
  if (!allow && !deny) return undefined;
  return (name) => (!allow || allow.test(name)) && !deny?.test(name);
}
