// The identity part of the config schema: inbound `auth:` (API keys, JWT, token introspection), the stdio
// front's principal, and per-upstream credentials (client credentials, token exchange). Shapes only; the
// modes that use them live in front/auth and upstreams.
import { z } from 'zod';
import { duration } from '../duration.js';

const SHA256 = /^(sha256:)?[0-9a-f]{64}$/i;
const HMAC = /^HS(256|384|512)$/;
const MAX_SKEW_MS = 60_000;

/** Loopback hosts, where plain http is allowed for an issuer (local providers and tests). */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  return (
    bare === 'localhost' ||
    bare === '::1' ||
    bare === '::ffff:127.0.0.1' ||
    /^127(\.\d{1,3}){3}$/.test(bare) ||
    bare.endsWith('.localhost')
  );
}

/** An issuer URL: https://, or http:// on a loopback host only (tokens and secrets cross this connection). */
const issuerUrl = z
  .string()
  .url()
  .refine(
    (value) => {
      const url = new URL(value);
      return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
    },
    { message: 'an issuer must be https:// (plain http:// is allowed on loopback only)' },
  );

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
    key: z
      .string()
      .min(16, 'an API key needs at least 16 characters')
      .regex(
        /^[A-Za-z0-9\-._~+/]+=*$/,
        'an API key may use letters, digits and - . _ ~ + / (RFC 6750 b64token)',
      )
      .optional(),
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

const jwtSchema = z
  .strictObject({
    /** The issuer (`iss`); its OIDC or OAuth discovery document names the JWKS. https://, except on loopback. */
    issuer: issuerUrl,
    /** Expected `aud`; defaults to auth.resource. */
    audience: z.string().optional(),
    /** Accepted signature algorithms; `none` is never accepted, HS* only with a `secret` of 32+ bytes. */
    algorithms: z.array(z.string()).default(['RS256', 'PS256', 'ES256', 'EdDSA']),
    /** Shared secret for HS256/384/512 tokens (at least 32 bytes). */
    secret: z.string().optional(),
    /** The JWKS URL, when discovery is not available. */
    jwksUri: z.string().url().optional(),
    /** Allowed clock difference for exp/nbf (at most 60s). */
    clockSkew: duration
      .default(30_000)
      .refine((ms) => ms <= MAX_SKEW_MS, { message: 'clockSkew is at most 60s' }),
    /** The least time between two JWKS fetches caused by unknown key ids. */
    jwksCooldown: duration.default(30_000),
    claims: claimsSchema,
  })
  .superRefine((jwt, ctx) => {
    if (jwt.algorithms.some((alg) => alg.toLowerCase() === 'none'))
      ctx.addIssue({ code: 'custom', path: ['algorithms'], message: '"none" is never accepted' });
    const hmac = jwt.algorithms.some((alg) => HMAC.test(alg));
    if (hmac && Buffer.byteLength(jwt.secret ?? '') < 32)
      ctx.addIssue({
        code: 'custom',
        path: ['secret'],
        message: 'HS256/384/512 need a secret of at least 32 bytes',
      });
    if (jwt.secret !== undefined && !hmac)
      ctx.addIssue({
        code: 'custom',
        path: ['secret'],
        message: 'a secret is used only with HS256/384/512: add one of them to algorithms',
      });
  });

const introspectionSchema = z.strictObject({
  issuer: issuerUrl,
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  /** The introspection endpoint, when discovery does not name one. */
  endpoint: z.string().url().optional(),
  /** Expected `aud` when the introspection answer names one; defaults to auth.resource. */
  audience: z.string().optional(),
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
  issuer: issuerUrl,
  clientId: z.string().min(1),
  clientSecret: z.string().min(1),
  scope: z.string().optional(),
  /** RFC 8707 resource indicator for the upstream, when the provider wants one. */
  resource: z.string().optional(),
  audience: z.string().optional(),
});

const tokenExchangeSchema = z.strictObject({
  issuer: issuerUrl,
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
