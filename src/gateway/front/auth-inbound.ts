// Inbound auth as configured under `auth:`: one bearer token, tried as an API key first (exact digest match),
// else as a JWT when it has a JWT's shape and `jwt` is configured, else by introspection. The cached path (an
// API key, a token verified before) is one SHA-256 and one map lookup, and returns without a promise; an API key
// presented again on the same connection is not even hashed (auth-connection-keys.ts).
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { Principal } from '../../policy/types.js';
import type { AuthConfig } from '../config-auth.js';
import { ApiKeys, tokenDigest } from './auth-api-keys.js';
import { ConnectionKeys } from './auth-connection-keys.js';
import { Challenges } from './auth-challenge.js';
import { hasScopes } from './auth-claims.js';
import { Introspector } from './auth-introspection.js';
import { JwtVerifier, looksLikeJwt } from './auth-jwt.js';
import { protectedResource, type ProtectedResource } from './auth-metadata.js';
import { bearerCandidate, isB64Token, Malformed, MALFORMED_TOKEN, type Authenticate } from './auth.js';

export interface InboundAuth {
  readonly authenticate: Authenticate;
  /** The API key set: `apiKeys.replace(entries)` swaps it on reload. */
  readonly apiKeys: ApiKeys;
  readonly challenges: Challenges;
  readonly metadata: ProtectedResource;
}

export function createInboundAuth(config: AuthConfig, log: Logger): InboundAuth {
  const metadata = protectedResource(config);
  const challenges = new Challenges(metadata.url, config.requiredScopes);
  const apiKeys = new ApiKeys(config.apiKeys);
  const jwt = config.jwt && new JwtVerifier(config.jwt, config.resource, challenges, log);
  const introspection =
    config.introspection && new Introspector(config.introspection, config.resource, challenges, log);
  const required = config.requiredScopes;

  // Scopes are what the authorization server granted a client; an API key is granted by the operator directly,
  // so requiredScopes applies to OAuth tokens only (a key's own `scopes` still reach policies).
  const scoped = (principal: Principal): Principal => {
    if (!hasScopes(principal, required)) throw challenges.insufficientScope();
    return principal;
  };
  const scopedAsync = (pending: Promise<Principal>) => pending.then(scoped);

  const connections = new ConnectionKeys();
  const authenticate = (
    headers: IncomingHttpHeaders,
    connection?: object,
  ): Principal | Promise<Principal> => {
    const header = headers.authorization;
    // The same header on the same connection as an API key before it: that key's principal, with no hash.
    if (connection !== undefined && header !== undefined) {
      const known = connections.recall(connection, header, apiKeys.generation);
      if (known) return known;
    }
    const token = bearerCandidate(header);
    if (token === undefined) throw challenges.missing();
    if (token instanceof Malformed) throw challenges.invalid('invalid_request', token.reason);
    // The cached path: one hash, then map lookups. Whatever is found passed every check when it was stored.
    const key = tokenDigest(token);
    const byKey = apiKeys.match(key);
    if (byKey) {
      if (connection !== undefined) connections.remember(connection, header!, byKey, apiKeys.generation);
      return byKey;
    }
    const known = jwt?.cached(key) ?? introspection?.cached(key);
    if (known) return scoped(known);
    if (!isB64Token(token)) throw challenges.invalid('invalid_request', MALFORMED_TOKEN.reason);
    if (jwt && looksLikeJwt(token)) return scopedAsync(jwt.verify(token, key));
    if (introspection) return scopedAsync(introspection.verify(token, key));
    throw challenges.invalid('invalid_token', 'the token is not valid');
  };
  return { authenticate, apiKeys, challenges, metadata };
}
