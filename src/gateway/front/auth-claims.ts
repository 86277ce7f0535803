// Claims of a verified token (a JWT's payload or an introspection answer) as a Principal: the claim names are
// configurable, a dotted name reaches into an object (Keycloak's `realm_access.roles`), scope may be a
// space-separated string or an array, groups an array or a single string.
import type { Principal, Via } from '../../policy/types.js';

export interface ClaimNames {
  subject: string;
  groups: string;
  scope: string;
  clientId: string;
}

/** A claim reader built once at start-up. */
export type ClaimReader = (claims: Record<string, unknown>) => unknown;

function reader(name: string): ClaimReader {
  if (!name.includes('.')) return (claims) => claims[name];
  const path = name.split('.');
  return (claims) => {
    let value: unknown = claims;
    for (const step of path) {
      if (value === null || typeof value !== 'object') return undefined;
      value = (value as Record<string, unknown>)[step];
    }
    return value;
  };
}

function strings(value: unknown, split: boolean): readonly string[] {
  if (typeof value === 'string') return split ? value.split(' ').filter(Boolean) : [value];
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return [];
}

/** Maps claims to a Principal; undefined when they name no subject (the token is then refused). */
export function principalMapper(
  names: ClaimNames,
  via: Via,
): (claims: Record<string, unknown>) => Principal | undefined {
  const subject = reader(names.subject);
  const groups = reader(names.groups);
  const scope = reader(names.scope);
  const clientId = reader(names.clientId);
  return (claims) => {
    // OIDC providers name the client in `azp` when they have no `client_id` claim (Keycloak, Entra).
    const client = clientId(claims) ?? claims.azp;
    // A client-credentials token has no user: with the default claim names, the client is the subject.
    const sub = subject(claims) ?? (names.subject === 'sub' ? (claims.username ?? client) : undefined);
    if (typeof sub !== 'string' || sub === '') return undefined;
    return Object.freeze({
      subject: sub,
      groups: Object.freeze(strings(groups(claims), false)),
      scopes: Object.freeze(strings(scope(claims), true)),
      ...(typeof client === 'string' && client !== '' ? { clientId: client } : {}),
      via,
    });
  };
}

/** Whether a principal carries every required scope. */
export function hasScopes(principal: Principal, required: readonly string[]): boolean {
  for (const scope of required) if (!principal.scopes.includes(scope)) return false;
  return true;
}
