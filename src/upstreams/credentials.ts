// Credentials the gateway obtains for an upstream itself, never the client's own token: an OAuth client
// credentials token for the shared connection, or per caller a token exchanged for theirs (RFC 8693), each
// kept until shortly before it expires and renewed without dropping the connection that uses it.
import { LRUCache } from 'lru-cache';
import type * as Oidc from 'openid-client';
import { GatewayError } from '../errors.js';

export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
/** Token lifetime assumed when the provider states none (no expires_in, not a JWT with exp). */
const DEFAULT_LIFETIME_MS = 60_000;
/** A token this close to expiry (or a tenth of its lifetime, if less) is not sent: the call waits for a new one. */
const HARD_MARGIN_MS = 2_000;
/** After a failed grant, calls fail fast with the same error for this long instead of each asking again. */
const FAILURE_COOLDOWN_MS = 1_000;
/** Callers whose exchanged tokens are kept (each a few hundred bytes). */
const MAX_CALLERS = 10_000;

export interface ClientCredentialsSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  scope?: string;
  resource?: string;
  audience?: string;
}

export interface TokenExchangeSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  audience: string;
  scope?: string;
  resource?: string;
}

/** Whom a call is made for, as the upstream side needs it (a structural subset of the gateway's principal). */
export interface Caller {
  /** Stable per identity (via, client id and subject): the key of its own upstream connection. */
  readonly key: string;
  readonly subject: string;
  readonly groups: readonly string[];
  readonly via: string;
  /** The raw token the caller presented on this request: the subject token of an exchange. Never sent upstream. */
  readonly bearer?: string;
}

/**
 * A bearer token kept fresh. `header()` is the Authorization value to send now. `fresh()` is undefined while
 * the token is good (the hot path: no promise), else a promise that settles once a usable one is held, or
 * rejects with an `upstream_unavailable` error naming the upstream and the provider's error code.
 */
export interface TokenSource {
  header(): string | undefined;
  fresh(bearer?: string): Promise<void> | undefined;
}

export interface UpstreamCredentials {
  /** Token exchange: every caller gets an upstream connection of its own, carrying its own token. */
  readonly perCaller: boolean;
  /** The shared connection's token (the catalogue; every call when not per caller). */
  readonly shared: TokenSource;
  /** The token of one caller's connection; throws when the caller has no token that can be exchanged. */
  forCaller(caller: Caller): TokenSource;
}

/** What the provider answered: the header to send and how long the token lives. */
interface Grant {
  header: string;
  lifetimeMs: number;
}

interface Token {
  header: string;
  /** From here on the token is renewed in the background while calls go on with it. */
  refreshAt: number;
  /** From here on calls wait for a new token. */
  usableUntil: number;
}

/**
 * Builds the credentials of one upstream from its `auth:` entry. Their errors do not name the upstream: the
 * pool, which knows it, puts its name in front.
 */
export function upstreamCredentials(
  auth: { clientCredentials?: ClientCredentialsSettings; tokenExchange?: TokenExchangeSettings },
  now: () => number = Date.now,
): UpstreamCredentials {
  if (auth.clientCredentials) {
    const settings = auth.clientCredentials;
    const endpoint = new TokenEndpoint(settings);
    const shared = new KeptToken(
      () => endpoint.request('client credentials grant', 'client_credentials', targetParams(settings)),
      now,
    );
    return { perCaller: false, shared, forCaller: () => shared };
  }
  const settings = auth.tokenExchange!;
  const endpoint = new TokenEndpoint(settings);
  // The catalogue connection has no user behind it: the gateway lists tools as its own client.
  const shared = new KeptToken(
    () =>
      endpoint.request(
        'client credentials grant (for the catalogue connection)',
        'client_credentials',
        targetParams(settings),
      ),
    now,
  );
  const callers = new LRUCache<string, ExchangedToken>({ max: MAX_CALLERS });
  return {
    perCaller: true,
    shared,
    forCaller(caller) {
      if (!caller.bearer || (caller.via !== 'jwt' && caller.via !== 'introspection')) {
        throw new GatewayError(
          'upstream_unavailable',
          `token exchange needs the caller's OAuth access token; ` +
            `this request was authenticated by ${caller.via}, so there is no token to exchange`,
        );
      }
      let kept = callers.get(caller.key);
      if (!kept) callers.set(caller.key, (kept = new ExchangedToken(endpoint, settings, caller.bearer, now)));
      return kept;
    },
  };
}

/** audience, resource and scope as token request parameters, when configured. */
function targetParams(settings: { scope?: string; resource?: string; audience?: string }) {
  const params: Record<string, string> = {};
  if (settings.audience) params.audience = settings.audience;
  if (settings.resource) params.resource = settings.resource;
  if (settings.scope) params.scope = settings.scope;
  return params;
}

/** One token, renewed in the background once it is past its refresh time, and awaited only once expired. */
class KeptToken implements TokenSource {
  private token?: Token;
  private pending?: Promise<void>;
  private failure?: { error: GatewayError; until: number };

  constructor(
    private readonly obtain: () => Promise<Grant>,
    protected readonly now: () => number,
  ) {}

  header(): string | undefined {
    return this.token?.header;
  }

  fresh(): Promise<void> | undefined {
    const token = this.token;
    const now = this.now();
    if (token && now < token.refreshAt) return undefined;
    if (token && now < token.usableUntil) {
      // Still good for a while: this call goes on with it, and the next ones find the new token.
      this.renew().catch(() => {});
      return undefined;
    }
    return this.renew();
  }

  private renew(): Promise<void> {
    if (this.pending) return this.pending;
    if (this.failure && this.now() < this.failure.until) return Promise.reject(this.failure.error);
    const started = this.now();
    const pending = this.obtain().then(
      (grant) => {
        this.token = timed(grant, started);
        this.failure = undefined;
      },
      (error: GatewayError) => {
        this.failure = { error, until: this.now() + FAILURE_COOLDOWN_MS };
        throw error;
      },
    );
    this.pending = pending.finally(() => (this.pending = undefined));
    return this.pending;
  }
}

/** One caller's exchanged token: renewed by exchanging the latest token that caller presented. */
class ExchangedToken extends KeptToken {
  private readonly subject: { token: string };

  constructor(endpoint: TokenEndpoint, settings: TokenExchangeSettings, bearer: string, now: () => number) {
    const subject = { token: bearer };
    super(
      () =>
        endpoint.request('token exchange', TOKEN_EXCHANGE, {
          subject_token: subject.token,
          subject_token_type: ACCESS_TOKEN,
          requested_token_type: ACCESS_TOKEN,
          ...targetParams(settings),
        }),
      now,
    );
    this.subject = subject;
  }

  override fresh(bearer?: string): Promise<void> | undefined {
    if (bearer) this.subject.token = bearer;
    return super.fresh();
  }
}

/** The provider's token endpoint, found by discovery on first use (and again after a failed discovery). */
class TokenEndpoint {
  private config?: Promise<Oidc.Configuration>;

  constructor(private readonly settings: { issuer: string; clientId: string; clientSecret: string }) {}

  /** `what` names the request in errors ("token exchange"). */
  async request(what: string, grantType: string, params: Record<string, string>): Promise<Grant> {
    try {
      const config = await this.configuration();
      const oidc = await import('openid-client');
      const answer =
        grantType === 'client_credentials'
          ? await oidc.clientCredentialsGrant(config, params)
          : await oidc.genericGrantRequest(config, grantType, params);
      return {
        header: `Bearer ${answer.access_token}`,
        lifetimeMs:
          answer.expires_in !== undefined ? answer.expires_in * 1000 : jwtLifetime(answer.access_token),
      };
    } catch (error) {
      throw new GatewayError(
        'upstream_unavailable',
        `the ${what} at ${this.settings.issuer} failed: ${reason(error)}`,
      );
    }
  }

  private configuration(): Promise<Oidc.Configuration> {
    if (!this.config) {
      const { issuer, clientId, clientSecret } = this.settings;
      const url = new URL(issuer);
      // Loaded on first use: a gateway without upstream credentials never pays for it at start.
      this.config = import('openid-client').then((oidc) =>
        oidc.discovery(url, clientId, undefined, oidc.ClientSecretBasic(clientSecret), {
          execute: url.protocol === 'http:' ? [oidc.allowInsecureRequests] : [],
          timeout: 10,
        }),
      );
      this.config.catch(() => (this.config = undefined));
    }
    return this.config;
  }
}

/** When to renew a token and when to stop sending it, timed from when its request left (clock skew aside). */
function timed(grant: Grant, started: number): Token {
  const expiresAt = started + grant.lifetimeMs;
  return {
    header: grant.header,
    refreshAt: expiresAt - Math.min(60_000, grant.lifetimeMs / 5),
    usableUntil: expiresAt - Math.min(HARD_MARGIN_MS, grant.lifetimeMs / 10),
  };
}

/** A JWT's own exp, when the provider sent no expires_in. */
function jwtLifetime(token: string): number {
  try {
    const exp = (JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { exp?: unknown })
      .exp;
    if (typeof exp === 'number') return Math.max(0, exp * 1000 - Date.now());
  } catch {
    // Not a JWT: the default lifetime below.
  }
  return DEFAULT_LIFETIME_MS;
}

/** The provider's error code and description, or the network failure; never a secret (none is in either). */
function reason(error: unknown): string {
  const body = error as Partial<Oidc.ResponseBodyError>;
  if (body.code === 'OAUTH_RESPONSE_BODY_ERROR' && typeof body.error === 'string')
    return oauthError(body.error, body.error_description);
  // A 401 with WWW-Authenticate (a refused client secret): its error code is in the challenge.
  const challenge = error as Partial<Oidc.WWWAuthenticateChallengeError>;
  const found = challenge.code === 'OAUTH_WWW_AUTHENTICATE_CHALLENGE' && challenge.cause?.[0]?.parameters;
  if (found && typeof found.error === 'string') return oauthError(found.error, found.error_description);
  // A network failure says only "fetch failed"; the system error code (ECONNREFUSED...) sits in its causes.
  const message = error instanceof Error ? error.message : String(error);
  for (
    let at = error as { cause?: unknown; code?: unknown } | undefined, depth = 0;
    at && depth < 4;
    depth++
  ) {
    if (typeof at.code === 'string' && /^E[A-Z_]+$/.test(at.code)) return `${message} (${at.code})`;
    at = at.cause as typeof at;
  }
  return message;
}

function oauthError(code: string, description: string | undefined): string {
  return description ? `${code} (${description})` : code;
}
