// buildGateway(config): the fastify app with /mcp, /healthz and /readyz, the Host/Origin guard and the error
// model at the HTTP edge. It never listens by itself (main.ts and tests do that).
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';
import type { GatewayConfig } from './config.js';
import { metricsSettings } from './config-metrics.js';
import { addLogSecrets, createLogger } from './logger.js';
import type { Policy } from '../policy/types.js';
import type { Authenticate } from './front/auth.js';
import { registerAuth } from './front/auth-hook.js';
import { createInboundAuth } from './front/auth-inbound.js';
import { registerEdgeRateLimit } from './front/edge-rate-limit.js';
import { registerMcpEndpoint } from './front/http.js';
import { configSecrets } from './redact.js';
import { Runtime } from './runtime.js';
import { windowCounters } from './stores/limiter.js';
import { errorText } from './wire/jsonrpc.js';

export interface BuildOptions {
  log?: Logger;
  /** Resolve before upstreams have settled (main.ts listens at once; /readyz tells when they are). */
  waitForUpstreams?: boolean;
  /** Policies compiled into the pipeline, in order, besides any the config names (tests and benchmarks drive
   * the pipeline with their own this way). */
  policies?: readonly Policy[];
  /** Establishes each HTTP request's principal (anonymous when absent, until `auth:` is configured). */
  authenticate?: Authenticate;
}

export async function buildGateway(
  config: GatewayConfig,
  options: BuildOptions = {},
): Promise<FastifyInstance> {
  const log = options.log ?? createLogger(config.logging.level);
  // Credentials the config names never reach a log line, whatever upstream text they come back in; nor do the
  // fields `logging.redact` names.
  addLogSecrets(log, configSecrets(config), config.logging.redact);
  const runtime = new Runtime(config, log, options.policies);
  const app = Fastify({
    // No fastify request logging: its lines would bypass the gateway's own (and could carry headers).
    logger: false,
    bodyLimit: config.http.bodyLimit,
    requestTimeout: config.http.requestTimeout,
    keepAliveTimeout: 65_000,
    return503OnClosing: true,
  });
  app.decorate('runtime', runtime);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    // GET and DELETE carry no message: a client that labels an empty body as JSON (many do) is served, as
    // the SDK's own server does, instead of failing in the parser before its session is even looked at.
    if (body === '' && request.method !== 'POST') return done(null, undefined);
    try {
      done(null, JSON.parse(body as string));
    } catch (error) {
      done(
        new GatewayError(
          'parse_error',
          `Parse error: ${(error as Error).message}`,
        ) as unknown as FastifyError,
        undefined,
      );
    }
  });

  const guard = hostGuard(config);
  // Fail closed: every request is guarded, whatever route its target matched (however it was spelled:
  // `/%6Dcp`, `/mcp?x`, absolute-form ...) and whether it matched at all. The one exception is the exact
  // target `/healthz` (any other spelling of it is guarded too). A callback hook, not an async one, and no
  // `request.routeOptions` (a new object per access): nothing allocated per request.
  app.addHook('onRequest', (request, _reply, done) => {
    const target = request.raw.url ?? '/';
    if (target === HEALTHZ) return done();
    try {
      guard(request.headers.host, request.headers.origin);
      // An absolute-form target (`POST http://host/mcp`) names the host too; it must be allowed as well.
      if (target.charCodeAt(0) !== SLASH && target !== '*') guard(authorityOf(target), undefined);
      done();
    } catch (error) {
      done(error as FastifyError);
    }
  });

  // Who each request is from (after the Host guard): `auth:` when configured, else the seam, else anonymous.
  const audit = runtime.audit;
  registerAuth(
    app,
    config.auth && createInboundAuth(config.auth, log),
    options.authenticate,
    audit &&
      ((request, error) =>
        audit.onAuthRefused({
          method: request.method,
          path: request.url.split('?')[0],
          remote: request.ip,
          error,
        })),
  );
  // The coarse per-principal request limit, after authentication and before the routes it covers.
  if (config.http.rateLimit)
    await registerEdgeRateLimit(app, config.http.rateLimit, windowCounters(runtime.redis, 'edge:'));

  app.setErrorHandler((error: FastifyError | GatewayError, _request, reply) => {
    const gatewayError = asGatewayError(error);
    if (gatewayError.kind === 'internal') log.error({ err: error }, 'request failed');
    const data = gatewayError.data as { retryAfter?: unknown; wwwAuthenticate?: unknown } | undefined;
    if (typeof data?.retryAfter === 'number') void reply.header('retry-after', String(data.retryAfter));
    if (typeof data?.wwwAuthenticate === 'string')
      void reply.header('www-authenticate', data.wwwAuthenticate);
    return reply
      .code(gatewayError.status)
      .header('content-type', 'application/json')
      .send(errorText(null, gatewayError));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: `Not found: ${request.method} ${request.url.split('?')[0]}` }),
  );

  // Liveness probes often send an arbitrary Host (a pod IP, a node name): unguarded, as it reveals nothing.
  app.get(HEALTHZ, async () => ({ status: 'ok' }));
  app.get('/readyz', async (request, reply) => {
    const state = runtime.readiness();
    // Upstream names and errors only to a caller with an identity (the auth hook leaves others without one).
    const open = state.draining ? { ready: false, draining: true } : { ready: state.ready };
    return reply.code(state.ready ? 200 : 503).send(request.principal ? state : open);
  });
  registerMcpEndpoint(app, runtime);
  // GET /metrics (or a listener of its own) fed by the runtime; prom-client is loaded only when configured.
  const metrics = metricsSettings(config);
  if (metrics) (await import('./telemetry/metrics-http.js')).serveMetrics(app, metrics, log);

  // Every open connection (one listener per connection, nothing per request), for shutdown below.
  const sockets = new Set<Socket>();
  let closing = false;
  app.server.on('connection', (socket: Socket) => {
    // Accepted in the moment between the sweep below and the listener closing: it would get a 503 anyway.
    if (closing) return void socket.destroy();
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // server.close() waits for every connection that is not idle between requests, and Node counts one that
  // never sent a request (a client that opened it, then aborted the request it was for) as busy, and stops
  // checking timeouts once closing: one such connection held shutdown until the force-exit timer. So: end the
  // sessions (GET streams end, calls in flight are aborted and answered), stop the upstreams (a call waiting
  // for a per-session process to start fails now rather than at startTimeout), then end each connection
  // as soon as it serves no request.
  app.addHook('preClose', async () => {
    closing = true;
    runtime.sessions.closeAll();
    void runtime.stop();
    for (const socket of sockets) endWhenIdle(socket);
  });
  app.addHook('onClose', async () => {
    await runtime.stop();
  });
  const started = runtime.start();
  if (options.waitForUpstreams === false) {
    started.catch((error) => {
      log.fatal({ error: (error as Error).message }, 'gateway start-up failed');
      process.exitCode = 1;
      void app.close();
    });
  } else {
    await started;
  }
  return app;
}

/**
 * Ends a connection once it has no answer in progress: at once when it is idle or never sent a request, or as
 * soon as its answer has gone out. `_httpMessage` is the response Node has assigned to the socket (the field
 * Node's own closeIdleConnections reads).
 */
function endWhenIdle(socket: Socket): void {
  const response = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (!response || response.writableFinished) socket.destroy();
  else response.once('close', () => socket.destroySoon());
}

function asGatewayError(error: FastifyError | GatewayError): GatewayError {
  if (error instanceof GatewayError) return error;
  switch (error.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError('payload_too_large', 'Payload Too Large: the request body exceeds the limit');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new GatewayError(
        'unsupported_media_type',
        'Unsupported Media Type: Content-Type must be application/json',
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new GatewayError('parse_error', 'Parse error: empty body');
    default:
      if (error.statusCode === 400) return new GatewayError('invalid_request', error.message);
      return new GatewayError('internal', error.message);
  }
}

const HEALTHZ = '/healthz';
const SLASH = 0x2f;

/** The host[:port] of an absolute-form request target; '' (never allowed) when it has none. */
function authorityOf(target: string): string {
  try {
    return new URL(target).host;
  } catch {
    return '';
  }
}

/** host, [v6] or either with a numeric port: the only shapes a Host header may take. */
const HOST_SHAPE = /^(\[[0-9a-f:.]+\]|[^:@/\\[\]#?\s]+)(:\d{1,5})?$/;

/** DNS-rebinding guard: the Host header, and the Origin header when a browser sends one, must be allowed. */
export function hostGuard(
  config: GatewayConfig,
): (host: string | undefined, origin: string | undefined) => void {
  const hosts = new Set(config.http.allowedHosts.map((h) => h.toLowerCase()));
  const origins = config.http.allowedOrigins
    ? new Set(config.http.allowedOrigins.map((o) => o.toLowerCase()))
    : undefined;
  const allowedHost = (value: string) => {
    const lower = value.toLowerCase();
    if (hosts.has('*') || hosts.has(lower)) return true;
    // Only a well-formed host[:port] is compared: `[::1].evil.com` or `localhost:1@evil.com` never match.
    const shape = HOST_SHAPE.exec(lower);
    return shape !== null && hosts.has(shape[1]);
  };
  return (host, origin) => {
    if (!host || !allowedHost(host)) {
      throw new GatewayError(
        'forbidden',
        `Forbidden: Host "${host ?? ''}" is not allowed (http.allowedHosts)`,
      );
    }
    if (origin === undefined) return;
    let allowed: boolean;
    if (origins) allowed = origins.has('*') || origins.has(origin.toLowerCase());
    else {
      try {
        const url = new URL(origin);
        allowed = (url.protocol === 'http:' || url.protocol === 'https:') && allowedHost(url.host);
      } catch {
        allowed = false;
      }
    }
    if (!allowed)
      throw new GatewayError(
        'forbidden',
        `Forbidden: Origin "${origin}" is not allowed (http.allowedOrigins)`,
      );
  };
}

declare module 'fastify' {
  interface FastifyInstance {
    runtime: Runtime;
  }
}
