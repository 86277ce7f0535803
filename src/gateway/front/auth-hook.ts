// The authenticate hook at the HTTP edge: a callback-style onRequest hook after the Host guard that puts the
// request's principal on `request.principal` (and the raw bearer on `request.bearer` for token exchange). A
// cached identity costs no promise. Open: /healthz, the RFC 9728 documents; /readyz answers anyone, but names
// its upstreams only to an authenticated caller.
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import type { Principal } from '../../policy/types.js';
import { installedTracing } from '../telemetry/tracing-hooks.js';
import { hasQueryToken } from './auth-challenge.js';
import type { InboundAuth } from './auth-inbound.js';
import { ANONYMOUS, bearerCandidate, type Authenticate } from './auth.js';

const HEALTHZ = '/healthz';
const READYZ = '/readyz';

/**
 * `inbound`: the configured modes (then also the metadata routes and the query-token refusal); `authenticate`:
 * a seam for tests and embedders; neither: every request is anonymous.
 */
export function registerAuth(
  app: FastifyInstance,
  inbound?: InboundAuth,
  authenticate?: Authenticate,
  /** Told of each refusal (401/403) before it is answered: the audit log records it. */
  onRefused?: (request: FastifyRequest, error: unknown) => void,
): void {
  // Reload (and tests) swap the API key set through it: app.inboundAuth?.apiKeys.replace(...).
  app.decorate('inboundAuth', inbound);
  app.decorateRequest('principal', null);
  app.decorateRequest('bearer', undefined);
  const verify = inbound?.authenticate ?? authenticate;
  if (!verify) {
    app.addHook('onRequest', (request, _reply, done) => {
      request.principal = ANONYMOUS;
      done();
    });
    return;
  }
  const open = new Set([HEALTHZ, ...(inbound?.metadata.paths ?? [])]);
  // Traced (`telemetry.otlp`): the hook notes when it ran, for the request's `auth` span; otherwise it reads no
  // clock at all.
  const tracing = installedTracing();
  const refused = (request: FastifyRequest, start: number, error: unknown) =>
    tracing!.refused(
      { method: request.method, route: request.routeOptions.url, headers: request.raw.headers },
      { start, end: performance.now() },
      error,
    );
  if (inbound) {
    for (const path of inbound.metadata.paths) {
      app.get(path, (_request, reply) =>
        reply
          .header('content-type', 'application/json')
          .header('cache-control', 'max-age=3600')
          .send(inbound.metadata.body),
      );
    }
  }
  app.addHook('onRequest', (request, _reply, done) => {
    const target = request.raw.url ?? '/';
    const query = target.indexOf('?');
    const path = query === -1 ? target : target.slice(0, query);
    if (open.has(path)) return done();
    const start = tracing ? performance.now() : 0;
    if (inbound && query !== -1 && hasQueryToken(target, query)) {
      const refusal = inbound.challenges.queryToken();
      if (tracing) refused(request, start, refusal);
      onRefused?.(request, refusal);
      return done(refusal as unknown as FastifyError);
    }
    // /readyz: anyone may ask whether the gateway is ready; only a caller with a valid identity sees details.
    const optional = path === READYZ;
    const accept = (principal: Principal) => {
      request.principal = principal;
      if (tracing)
        tracing.authenticated(request.raw.headers, { start, end: performance.now(), via: principal.via });
      if (principal.via === 'jwt' || principal.via === 'introspection') {
        // Already checked in full by the mode that accepted it: the cheap split is enough here.
        const token = bearerCandidate(request.headers.authorization);
        if (typeof token === 'string') request.bearer = token;
      }
      done();
    };
    const refuse = (error: unknown) => {
      if (optional) return done();
      if (tracing) refused(request, start, error);
      onRefused?.(request, error);
      done(error as FastifyError);
    };
    let outcome: Principal | Promise<Principal>;
    try {
      outcome = verify(request.headers, request.raw.socket);
    } catch (error) {
      return refuse(error);
    }
    if (outcome instanceof Promise) outcome.then(accept, refuse);
    else accept(outcome);
  });
}

/** The principal the hook established; fails closed if a route ever runs without one. */
export function principalOf(request: { principal: Principal | null }): Principal {
  if (request.principal === null) throw new Error('no principal: the authenticate hook did not run');
  return request.principal;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The configured inbound auth; undefined without `auth:`. */
    inboundAuth: InboundAuth | undefined;
  }
  interface FastifyRequest {
    /** Who sent this request, established by the authenticate hook (null only on open routes). */
    principal: Principal | null;
    /** The bearer token as presented, for jwt and introspection principals (token exchange needs it). */
    bearer: string | undefined;
  }
}
