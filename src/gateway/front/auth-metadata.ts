// RFC 9728 protected-resource metadata: where a client that got a 401 learns which authorization servers issue
// tokens for this gateway and for which resource. Built once from `auth:`; served open at the well-known paths.
import type { AuthConfig } from '../config-auth.js';

const WELL_KNOWN = '/.well-known/oauth-protected-resource';

export interface ProtectedResource {
  /** The metadata URL for the resource itself (what the 401 challenge names). */
  readonly url: string;
  /** The paths the document is served at: the resource's own (RFC 9728 section 3.1) and the root. */
  readonly paths: readonly string[];
  /** The document, serialised once. */
  readonly body: string;
}

export function protectedResource(config: AuthConfig): ProtectedResource {
  const resource = new URL(config.resource);
  const suffix = resource.pathname === '/' ? '' : resource.pathname.replace(/\/$/, '');
  const servers = config.authorizationServers ?? [
    ...new Set([config.jwt?.issuer, config.introspection?.issuer].filter((s): s is string => !!s)),
  ];
  const document = {
    resource: config.resource,
    ...(servers.length ? { authorization_servers: servers } : {}),
    scopes_supported: config.scopesSupported ?? config.requiredScopes,
    bearer_methods_supported: ['header'],
    resource_name: 'Switchboard MCP gateway',
  };
  // The resource's own metadata path, and /mcp's when the public path differs (a proxy that rewrites paths).
  const paths = [...new Set([`${WELL_KNOWN}${suffix}`, `${WELL_KNOWN}/mcp`, WELL_KNOWN])];
  return {
    url: `${resource.origin}${WELL_KNOWN}${suffix}`,
    paths,
    body: JSON.stringify(document),
  };
}
