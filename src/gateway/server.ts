// buildGateway(config): the fastify app with /mcp, /healthz and /readyz, the Host/Origin guard and the error
// model at the HTTP edge. It never listens by itself (main.ts and tests do that).
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';
import type { GatewayConfig } from './config.js';
import { createLogger } from './logger.js';
import { registerMcpEndpoint } from './mcp-endpoint.js';
import { Runtime } from './runtime.js';
import { errorText } from './session-server.js';

export interface BuildOptions {
  log?: Logger;
  /** Resolve before upstreams have settled (main.ts listens at once; /readyz tells when they are). */
  waitForUpstreams?: boolean;
}

export async function buildGateway(
  config: GatewayConfig,
  options: BuildOptions = {},
): Promise<FastifyInstance> {
  const log = options.log ?? createLogger(config.logging.level);
  const runtime = new Runtime(config, log);
  const app = Fastify({
    logger: false,
    bodyLimit: config.http.bodyLimit,
    requestTimeout: config.http.requestTimeout,
    keepAliveTimeout: 65_000,
    return503OnClosing: true,
  });
  app.decorate('runtime', runtime);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => {
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
  // A callback hook, not an async one: this runs on every request and a promise per request is measurable.
  app.addHook('onRequest', (request, _reply, done) => {
    if (!request.url.startsWith('/mcp')) return done();
    try {
      guard(request.headers.host, request.headers.origin);
      done();
    } catch (error) {
      done(error as FastifyError);
    }
  });

  app.setErrorHandler((error: FastifyError | GatewayError, _request, reply) => {
    const gatewayError = asGatewayError(error);
    if (gatewayError.kind === 'internal') log.error({ err: error }, 'request failed');
    return reply
      .code(gatewayError.status)
      .header('content-type', 'application/json')
      .send(errorText(null, gatewayError));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: `Not found: ${request.method} ${request.url.split('?')[0]}` }),
  );

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const state = runtime.readiness();
    return reply.code(state.ready ? 200 : 503).send(state);
  });
  registerMcpEndpoint(app, runtime);

  // Open GET streams would hold server.close() forever: end the sessions first.
  app.addHook('preClose', async () => {
    runtime.sessions.closeAll();
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
    const hostname = lower.startsWith('[') ? lower.slice(0, lower.indexOf(']') + 1) : lower.split(':')[0];
    return hosts.has(hostname);
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
