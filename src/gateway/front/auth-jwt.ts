// JWT access tokens: the JWKS found by discovery (openid-client) or configured, signatures and claims checked by
// jose (issuer, exact audience, algorithm allow-list, exp/nbf within the skew). A verified token is kept by its
// SHA-256 until it expires, so a busy client pays for one signature check, then one LRU lookup per request.
import { LRUCache } from 'lru-cache';
import {
  createRemoteJWKSet,
  errors as joseErrors,
  jwtVerify,
  type JWTVerifyGetKey,
  type JWTVerifyOptions,
} from 'jose';
import type { Logger } from 'pino';
import { GatewayError } from '../../errors.js';
import type { Principal } from '../../policy/types.js';
import type { AuthConfig } from '../config-auth.js';
import type { Challenges } from './auth-challenge.js';
import { principalMapper } from './auth-claims.js';
import { discover, Eventually } from './auth-discovery.js';

type JwtConfig = NonNullable<AuthConfig['jwt']>;

/** Verified tokens kept at once (a few hundred bytes each). */
const CACHE_MAX = 10_000;
const HMAC = /^HS(256|384|512)$/;
/** Three base64url parts (the last empty for an unsigned token): the shape that goes to the JWT verifier. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function looksLikeJwt(token: string): boolean {
  return JWT_SHAPE.test(token);
}

export class JwtVerifier {
  private readonly cache = new LRUCache<string, Principal>({ max: CACHE_MAX });
  private readonly options: JWTVerifyOptions;
  private readonly keys: Eventually<JWTVerifyGetKey>;
  private readonly secret?: Uint8Array;
  private readonly toPrincipal;

  constructor(
    config: JwtConfig,
    resource: string,
    private readonly challenges: Challenges,
    log: Logger,
  ) {
    this.options = {
      issuer: config.issuer,
      // jose compares `aud` by exact string: a trailing-slash variant of the resource is another audience.
      audience: config.audience ?? resource,
      algorithms: config.algorithms.filter((alg) => alg.toLowerCase() !== 'none'),
      clockTolerance: Math.floor(config.clockSkew / 1000),
      requiredClaims: ['exp'],
    };
    if (config.secret !== undefined) this.secret = new TextEncoder().encode(config.secret);
    this.toPrincipal = principalMapper(config.claims, 'jwt');
    const secret = this.secret;
    this.keys = new Eventually(
      `the JWKS of ${config.issuer}`,
      async () => {
        const jwksUri =
          config.jwksUri ?? (await discover(config.issuer, 'switchboard')).serverMetadata().jwks_uri;
        if (!jwksUri) throw new Error(`the discovery document of ${config.issuer} names no jwks_uri`);
        // jose refetches for an unknown kid at most once per cooldown, and one fetch serves all who wait.
        const remote = createRemoteJWKSet(new URL(jwksUri), { cooldownDuration: config.jwksCooldown });
        return (header, token) => {
          if (header.alg && HMAC.test(header.alg)) {
            if (!secret) throw new joseErrors.JOSEAlgNotAllowed('no secret for HMAC');
            return secret;
          }
          return remote(header, token);
        };
      },
      (error) =>
        log.warn({ issuer: config.issuer, error: (error as Error).message }, 'JWKS discovery failed'),
    );
  }

  /** The principal of a token verified before and not yet expired: no I/O, no promise. */
  cached(digestKey: string): Principal | undefined {
    return this.cache.get(digestKey);
  }

  async verify(token: string, digestKey: string): Promise<Principal> {
    const keys = this.keys.now() ?? (await this.keys.get());
    let claims;
    try {
      ({ payload: claims } = await jwtVerify(token, keys, this.options));
    } catch (error) {
      throw this.refusal(error);
    }
    const principal = this.toPrincipal(claims);
    if (!principal) throw this.challenges.invalid('invalid_token', 'the token names no subject');
    const ttl = claims.exp! * 1000 - Date.now();
    // Accepted within the clock skew after its expiry: good for this request, not worth keeping.
    if (ttl > 0) this.cache.set(digestKey, principal, { ttl });
    return principal;
  }

  /** A verification failure as a 401 with a fixed description (jose's own messages are not passed on). */
  private refusal(error: unknown): GatewayError {
    const invalid = (description: string) => this.challenges.invalid('invalid_token', description);
    if (error instanceof joseErrors.JWTExpired) return invalid('the token has expired');
    if (error instanceof joseErrors.JWTClaimValidationFailed) {
      switch (error.claim) {
        case 'nbf':
          return invalid('the token is not valid yet');
        case 'iss':
          return invalid('the token was issued by another issuer');
        case 'aud':
          return invalid('the token is for another audience');
        default:
          return invalid('the token lacks a required claim or has an invalid one');
      }
    }
    if (error instanceof joseErrors.JOSEAlgNotAllowed) return invalid('the token algorithm is not allowed');
    if (error instanceof joseErrors.JWKSNoMatchingKey)
      return invalid('the token was signed with an unknown key');
    if (error instanceof joseErrors.JWKSMultipleMatchingKeys)
      return invalid('the token names no key id and several keys match');
    if (error instanceof joseErrors.JWSSignatureVerificationFailed)
      return invalid('the token signature is not valid');
    if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid)
      return new GatewayError(
        'auth_unavailable',
        'Service Unavailable: the JWKS could not be fetched; try again shortly',
      );
    if (error instanceof GatewayError) return error;
    if (error instanceof joseErrors.JOSEError) return invalid('the token is malformed or not valid');
    // fetch failures of the JWKS (connection refused, DNS): the provider, not the token.
    return new GatewayError(
      'auth_unavailable',
      'Service Unavailable: the JWKS could not be fetched; try again shortly',
    );
  }
}
