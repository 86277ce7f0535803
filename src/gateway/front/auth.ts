// Who a request is from: the `Authenticate` seam (headers -> Principal, synchronously when the answer is cached),
// the anonymous and stdio principals, the Authorization header parser, and the rule that a session answers only
// to the identity that opened it. The modes behind the seam live in auth-*.ts.
import type { IncomingHttpHeaders } from 'node:http';
import { userInfo } from 'node:os';
import type { Principal } from '../../policy/types.js';

/**
 * Establishes the principal of one HTTP request from its headers; throws (or rejects with) a GatewayError to
 * refuse it. A Principal, not a promise, whenever no I/O is needed: the cached path allocates no promise.
 * `connection` (the request's socket) lets a mode remember what a keep-alive connection proved before.
 */
export type Authenticate = (
  headers: IncomingHttpHeaders,
  connection?: object,
) => Principal | Promise<Principal>;

export const ANONYMOUS: Principal = Object.freeze({
  subject: 'anonymous',
  groups: Object.freeze([]),
  scopes: Object.freeze([]),
  via: 'anonymous',
});

export const STDIO_PRINCIPAL: Principal = Object.freeze({
  subject: 'stdio',
  groups: Object.freeze([]),
  scopes: Object.freeze([]),
  via: 'stdio',
});

/** The stdio front's principal: the configured subject, else the OS user running the process. */
export function stdioPrincipal(settings: { subject?: string; groups?: readonly string[] } = {}): Principal {
  return Object.freeze({
    subject: settings.subject ?? osUser(),
    groups: Object.freeze([...(settings.groups ?? [])]),
    scopes: Object.freeze([]),
    via: 'stdio',
  });
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    // A container user with no passwd entry: userInfo throws, the uid still names who it is.
    return process.env.USER ?? `uid:${process.getuid?.() ?? 'unknown'}`;
  }
}

/** The same identity on the same endpoint: a session id presented by anyone else, or through another endpoint,
 * is a session that does not exist for them. */
export function sameIdentity(a: Principal, b: Principal): boolean {
  return (
    a === b ||
    (a.subject === b.subject && a.via === b.via && a.clientId === b.clientId && a.endpoint === b.endpoint)
  );
}

/** Why an Authorization header was refused; the reason is fixed text, never a piece of the header. */
export class Malformed {
  constructor(readonly reason: string) {}
}

const NOT_BEARER = new Malformed('only Bearer tokens are accepted in the Authorization header');
const NO_TOKEN = new Malformed('the Authorization header names Bearer but carries no token');
/** A token with characters outside RFC 6750's b64token (a space, a comma, ...). */
export const MALFORMED_TOKEN = new Malformed('the bearer token is not in the b64token syntax of RFC 6750');
/** RFC 6750 section 2.1: `Bearer 1*SP b64token`, the scheme case-insensitive. */
const BEARER = /^bearer +/i;
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * The bearer token of an Authorization header: the token, undefined when there is no header (or an empty one),
 * or a Malformed when it is something else (another scheme, no token, a token with spaces or other characters).
 */
export function parseAuthorization(value: string | undefined): string | Malformed | undefined {
  const token = bearerCandidate(value);
  return typeof token === 'string' && !isB64Token(token) ? MALFORMED_TOKEN : token;
}

/**
 * parseAuthorization without the character check of the token, which scans the whole token: the hot path
 * looks a token up first (whatever is in a cache or the key set passed the full check before) and checks the
 * syntax only when it has to verify a token it has not seen.
 */
export function bearerCandidate(value: string | undefined): string | Malformed | undefined {
  if (value === undefined || value === '') return undefined;
  const prefix = BEARER.exec(value);
  if (prefix === null) return /^bearer$/i.test(value) ? NO_TOKEN : NOT_BEARER;
  const token = value.slice(prefix[0].length);
  return token === '' ? NO_TOKEN : token;
}

/** RFC 6750's b64token: what a bearer token may consist of. */
export function isB64Token(token: string): boolean {
  return B64TOKEN.test(token);
}
