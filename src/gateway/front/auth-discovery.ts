// The authorization server's metadata through openid-client: OpenID Connect discovery, then RFC 8414 OAuth
// metadata, plain http allowed only for loopback issuers (the config refuses it elsewhere). Fetched once in
// the background at start-up; a failure is retried on a later request after a pause, never on every one.
import * as oidc from 'openid-client';
import { GatewayError } from '../../errors.js';

const RETRY_AFTER_MS = 5_000;

export async function discover(
  issuer: string,
  clientId: string,
  clientAuth?: oidc.ClientAuth,
): Promise<oidc.Configuration> {
  const execute = new URL(issuer).protocol === 'http:' ? [oidc.allowInsecureRequests] : [];
  try {
    return await oidc.discovery(new URL(issuer), clientId, undefined, clientAuth, { execute });
  } catch (first) {
    try {
      return await oidc.discovery(new URL(issuer), clientId, undefined, clientAuth, {
        execute,
        algorithm: 'oauth2',
      });
    } catch {
      throw first;
    }
  }
}

/**
 * A value produced once by async work (discovery), shared by every request that needs it. While the work
 * fails, requests get `auth_unavailable` (503) at once, and the work is tried again after RETRY_AFTER_MS.
 */
export class Eventually<T> {
  private value?: T;
  private pending?: Promise<T>;
  private failedAt = 0;
  private failure?: GatewayError;

  constructor(
    private readonly what: string,
    private readonly work: () => Promise<T>,
    private readonly onError: (error: unknown) => void,
  ) {
    this.get().catch(() => {});
  }

  /** The value when it is there (the hot path), else undefined. */
  now(): T | undefined {
    return this.value;
  }

  get(): Promise<T> {
    if (this.value !== undefined) return Promise.resolve(this.value);
    if (this.pending) return this.pending;
    if (this.failure && Date.now() - this.failedAt < RETRY_AFTER_MS) return Promise.reject(this.failure);
    this.pending = this.work().then(
      (value) => {
        this.value = value;
        this.pending = undefined;
        return value;
      },
      (error: unknown) => {
        this.onError(error);
        this.pending = undefined;
        this.failedAt = Date.now();
        this.failure = new GatewayError(
          'auth_unavailable',
          `Service Unavailable: ${this.what} could not be reached; try again shortly`,
        );
        throw this.failure;
      },
    );
    return this.pending;
  }
}
