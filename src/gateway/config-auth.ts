// The identity part of the config schema: inbound `auth:` (API keys, JWT, token introspection), the stdio
// front's principal, and per-upstream credentials (client credentials, token exchange). Shapes only; the
// modes that use them live in front/auth and upstreams.
import { z } from 'zod';
import { duration } from './config-duration.js';

const SHA256 = /^(sha256:)?[0-9a-f]{64}$/i;

const apiKeySchema = z
  .strictObject({
    subject: z.string().min(1),
    groups: z.array(z.string()).default([]),
    scopes: z.array(z.string()).default([]),
    /** The key's SHA-256 in hex (with or without a `sha256:` prefix): the key itself is never stored. */
    sha256: z
      .string()
      .regex(SHA256, 'a SHA-256 in hex: 64 characters 0-9a-f, optionally after sha256:')
      .optional(),
    /** The key itself, normally `${ENV_VAR}`; at least 16 characters. */
    key: z.string().min(16, 'an API key needs at least 16 characters').optional(),
  })
  .refine((k) => (k.sha256 === undefined) !== (k.key === undefined), {
    message: 'give exactly one of sha256 or key',
  });

/** Claim names, configurable because identity providers differ (Keycloak `groups`, Entra `roles`...). */
const claimsSchema = z
  .strictObject({
    subject: z.string().default('sub'),
    groups: z.string().default('groups'),
    scope: z.string().default('scope'),
    clientId: z.string().default('client_id'),
  })
  .prefault({});

const jwtSchema = z.strictObject({
  /** The issuer (`iss`); its OIDC or OAuth discovery document names the JWKS. https://, except on loopback. */
  issuer: z.string().url(),
  /** Expected `aud`; defaults to auth.resource. */
  audience: z.string().optional(),
  /** Accepted signature algorithms; `none` is never accepted, HS* only with a `secret` of 32+ bytes. */
  algorithms: z.array(z.string()).default(['RS256', 'PS256', 'ES256', 'EdDSA']),
  /** Shared secret for HS256/384/512 tokens (at least 32 bytes). */
  secret: z.string().optional(),
  /** The JWKS URL, when discovery is not available. */
  jwksUri: z.string().url().optional(),
  /** Allowed clock difference for exp/nbf (at most 60s). */
  clockSkew: duration.default(30_000),
  /** The least time between two JWKS fetches caused by unknown key ids. */
  jwksCooldown: duration.default(30_000),
  claims: claimsSchema,
});

const introspectionSchema = z.strictObject({
  issuer: z.string().url(),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  /** The introspection endpoint, when discovery does not name one. */
  endpoint: z.string().url().optional(),
  /** The longest an introspection answer is reused (never past the token's own expiry). */
  cacheTtl: duration.default(60_000),
  claims: claimsSchema,
});

export const authSchema = z
  .strictObject({
    /** The canonical URI of /mcp: the RFC 8707 audience and the RFC 9728 `resource`. */
    resource: z.string().url(),
    requiredScopes: z.array(z.string()).default([]),
    /** Scopes advertised in the protected-resource metadata (defaults to requiredScopes). */
    scopesSupported: z.array(z.string()).optional(),
    /** Authorization servers advertised (defaults to the jwt and introspection issuers). */
    authorizationServers: z.array(z.string().url()).optional(),
    apiKeys: z.array(apiKeySchema).optional(),
    jwt: jwtSchema.optional(),
    introspection: introspectionSchema.optional(),
  })
  .refine((a) => a.apiKeys?.length || a.jwt || a.introspection, {
    message: 'auth needs at least one of apiKeys, jwt or introspection',
  });

/** The stdio front's principal (it has no bearer): the configured subject, or the OS user. */
export const stdioAuthSchema = z
  .strictObject({
    subject: z.string().min(1).optional(),
    groups: z.array(z.string()).default([]),
  })
  .prefault({});

const clientCredentialsSchema = z.strictObject({
  issuer: z.string().url(),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  scope: z.string().optional(),
  /** RFC 8707 resource indicator for the upstream, when the provider wants one. */
  resource: z.string().optional(),
  audience: z.string().optional(),
});

const tokenExchangeSchema = z.strictObject({
  issuer: z.string().url(),
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  /** The audience the exchanged token is for: this upstream. */
  audience: z.string().min(1),
  scope: z.string().optional(),
  resource: z.string().optional(),
});

/** How the gateway authenticates to one upstream; the client's own token never goes there. */
export const upstreamAuthSchema = z
  .strictObject({
    clientCredentials: clientCredentialsSchema.optional(),
    tokenExchange: tokenExchangeSchema.optional(),
  })
  .refine((a) => (a.clientCredentials === undefined) !== (a.tokenExchange === undefined), {
    message: 'give exactly one of clientCredentials or tokenExchange',
  });

export type AuthConfig = z.output<typeof authSchema>;
export type UpstreamAuthConfig = z.output<typeof upstreamAuthSchema>;
