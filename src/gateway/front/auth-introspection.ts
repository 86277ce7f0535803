// Opaque tokens: RFC 7662 introspection through openid-client, the answer kept by the token's SHA-256 for at
// most min(its own lifetime, cacheTtl). Refusals are kept too, so a repeated bad token costs no round trip;
// concurrent requests with the same token share one introspection.
import { LRUCache } from 'lru-cache';
import * as oidc from 'openid-client';
import type { Logger } from 'pino';
import { GatewayError } from '../../errors.js';
import type { Principal } from '../../policy/types.js';
import type { AuthConfig } from '../config-auth.js';
import type { Challenges } from './auth-challenge.js';
import { principalMapper } from './auth-claims.js';
import { discover, Eventually } from './auth-discovery.js';

type IntrospectionConfig = NonNullable<AuthConfig['introspection']>;

const CACHE_MAX = 10_000;

/** A refused token, kept like an accepted one: the fixed description of why. */
interface Refused {
  readonly refused: string;
}

type Answer = Principal | Refused;

export class Introspector {
  private readonly cache: LRUCache<string, Answer, string>;
  private readonly server: Eventually<oidc.Configuration>;

  constructor(
    config: IntrospectionConfig,
    resource: string,
    private readonly challenges: Challenges,
    log: Logger,
  ) {
    const audience = config.audience ?? resource;
    const toPrincipal = principalMapper(config.claims, 'introspection');
    const clientAuth = oidc.ClientSecretBasic(config.clientSecret);
    this.server = new Eventually(
      `the introspection endpoint of ${config.issuer}`,
      async () => {
        if (config.endpoint === undefined) return discover(config.issuer, config.clientId, clientAuth);
        const server = new oidc.Configuration(
          { issuer: config.issuer, introspection_endpoint: config.endpoint },
          config.clientId,
          undefined,
          clientAuth,
        );
        if (new URL(config.endpoint).protocol === 'http:') oidc.allowInsecureRequests(server);
        return server;
      },
      (error) =>
        log.warn(
          { issuer: config.issuer, error: (error as Error).message },
          'introspection discovery failed',
        ),
    );
    this.cache = new LRUCache<string, Answer, string>({
      max: CACHE_MAX,
      fetchMethod: async (_key, _stale, { options, context: token }) => {
        const server = this.server.now() ?? (await this.server.get());
        let answer;
        try {
          answer = await oidc.tokenIntrospection(server, token);
        } catch (error) {
          log.warn({ issuer: config.issuer, error: (error as Error).message }, 'token introspection failed');
          throw new GatewayError(
            'auth_unavailable',
            'Service Unavailable: the token could not be introspected; try again shortly',
          );
        }
        options.ttl = config.cacheTtl;
        if (!answer.active) return { refused: 'the token is not active' };
        const lifetime = typeof answer.exp === 'number' ? answer.exp * 1000 - Date.now() : Infinity;
        if (lifetime <= 0) return { refused: 'the token has expired' };
        options.ttl = Math.min(config.cacheTtl, lifetime);
        const aud = answer.aud;
        if (aud !== undefined && !(Array.isArray(aud) ? aud.includes(audience) : aud === audience))
          return { refused: 'the token is for another audience' };
        return toPrincipal(answer as Record<string, unknown>) ?? { refused: 'the token names no subject' };
      },
    });
  }

  /** A kept answer (accepted: its principal; refused: throws the 401), without I/O; undefined if none. */
  cached(digestKey: string): Principal | undefined {
    const answer = this.cache.get(digestKey);
    return answer === undefined ? undefined : this.settle(answer);
  }

  async verify(token: string, digestKey: string): Promise<Principal> {
    const answer = await this.cache.fetch(digestKey, { context: token });
    return this.settle(answer!);
  }

  private settle(answer: Answer): Principal {
    if ('refused' in answer) throw this.challenges.invalid('invalid_token', answer.refused);
    return answer;
  }
}
