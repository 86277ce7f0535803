// `${principal.subject}` and `${principal.groups}` in the env of a `scope: session` stdio upstream: filled in
// when that session's process starts, so per-user processes get per-user settings. Config loading leaves these
// references alone (its ${NAME} takes no dots), so they reach this point as written.
const PRINCIPAL_REF = /\$\{principal\.([^}]*)\}/g;

/** Who a per-session process is started for; absent for the catalogue process, which serves no one. */
export interface EnvPrincipal {
  readonly subject: string;
  readonly groups: readonly string[];
}

/** The env with every principal reference filled in (empty for the catalogue process). */
export function expandPrincipalEnv(
  env: Readonly<Record<string, string>>,
  principal: EnvPrincipal | undefined,
): Record<string, string> {
  const expanded: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    expanded[name] = value.includes('${principal.')
      ? value.replace(PRINCIPAL_REF, (_match, field: string) =>
          !principal ? '' : field === 'subject' ? principal.subject : principal.groups.join(','),
        )
      : value;
  }
  return expanded;
}

/** Whether any env value names the principal (the spec then needs expanding per process). */
export function namesPrincipal(env: Readonly<Record<string, string>>): boolean {
  return Object.values(env).some((value) => value.includes('${principal.'));
}

/**
 * What is wrong with the principal references of one upstream's env, as `KEY: message`, or undefined.
 * Only `subject` and `groups` exist, and only a `scope: session` upstream has one principal per process.
 */
export function principalEnvProblem(
  env: Readonly<Record<string, string>>,
  scope: string | undefined,
): string | undefined {
  for (const [name, value] of Object.entries(env)) {
    for (const [, field] of value.matchAll(PRINCIPAL_REF)) {
      if (field !== 'subject' && field !== 'groups') {
        return `${name}: \${principal.${field}} is not known; use \${principal.subject} or \${principal.groups}`;
      }
      if (scope !== 'session') {
        return `${name}: \${principal.${field}} needs scope: session (one process per client session); a shared process serves every user`;
      }
    }
  }
  return undefined;
}
