// Who a request is from. Until inbound auth is configured (the identity issue), every HTTP request is the
// anonymous principal and the stdio front's one session is the stdio principal; `authenticate` is the seam
// where verified identities plug in, and a session answers only to the identity that opened it.
import type { IncomingHttpHeaders } from 'node:http';
import type { Principal } from '../../policy/types.js';

/** Establishes the principal of one HTTP request from its headers; throws a GatewayError to refuse it. */
export type Authenticate = (headers: IncomingHttpHeaders) => Principal;

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

export const anonymous: Authenticate = () => ANONYMOUS;

/** The same identity: a session id presented by anyone else is a session that does not exist for them. */
export function sameIdentity(a: Principal, b: Principal): boolean {
  return a === b || (a.subject === b.subject && a.via === b.via && a.clientId === b.clientId);
}
