// Where the metrics come from and where they are served: `instrument` wires a GatewayMetrics into a runtime
// (observer, decision sink, upstream states), and GET /metrics is served on the main app behind its auth, or by
// a listener of its own (no auth, nothing but /metrics). Loaded only when `telemetry.metrics` is on.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { GatewayError } from '../../errors.js';
import type { MetricsSettings } from '../config-metrics.js';
import type { Runtime } from '../runtime.js';
import { principalOf } from '../front/auth-hook.js';
import { GatewayMetrics } from './metrics.js';

const PATH = '/metrics';

/** A GatewayMetrics fed by this runtime: every request, every decision, every upstream state change. */
export function instrument(runtime: Runtime): GatewayMetrics {
  const { router, pins } = runtime;
  const metrics = new GatewayMetrics({
    upstreams: runtime.upstreams,
    sessions: runtime.sessions,
    quarantined: () => pins.notices(),
    tool: (name) => router.tool(name) ?? router.down('tools', name),
  });
  runtime.observers.push(metrics.observer);
  runtime.decisions.subscribe(metrics.onDecision);
  runtime.onUpstreamState = (upstream) => metrics.onUpstreamState(upstream);
  runtime.metrics = metrics;
  return metrics;
}

/** Instruments the app's runtime and serves /metrics as configured. */
export function serveMetrics(app: FastifyInstance, settings: MetricsSettings, log: Logger): GatewayMetrics {
  const metrics = instrument(app.runtime);
  if (settings.listen) {
    const listener = new MetricsListener(metrics, settings.listen, log);
    // With the app, not before: a port already taken fails listen() with a clear error.
    app.addHook('onReady', () => listener.start());
    app.addHook('onClose', () => listener.close());
    app.decorate('metricsListener', listener);
    return metrics;
  }
  const groups = settings.groups && new Set(settings.groups);
  // Behind the app's hooks: the Host guard, then auth (401 without a valid credential) when `auth:` is on.
  app.get(PATH, async (request, reply) => {
    if (groups && !principalOf(request).groups.some((group) => groups.has(group)))
      throw new GatewayError(
        'forbidden',
        'Forbidden: /metrics is for the groups in telemetry.metrics.groups',
      );
    const { contentType, text } = await metrics.scrape();
    return reply.header('content-type', contentType).header('cache-control', 'no-store').send(text);
  });
  return metrics;
}

/** A listener that serves GET /metrics and nothing else: no auth, so bind it to an internal address. */
export class MetricsListener {
  private readonly server: Server;

  constructor(
    private readonly metrics: GatewayMetrics,
    private readonly listen: { readonly host: string; readonly port: number },
    private readonly log: Logger,
  ) {
    this.server = createServer((request, response) => void this.serve(request, response));
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const fail = (error: Error) =>
        reject(
          new GatewayError(
            'config',
            `telemetry.metrics.listen: cannot listen on ${this.listen.host}:${this.listen.port}: ${error.message}`,
          ),
        );
      this.server.once('error', fail);
      this.server.listen(this.listen.port, this.listen.host, () => {
        this.server.off('error', fail);
        this.log.info({ address: this.url }, 'metrics listening');
        resolve();
      });
    });
  }

  /** http://host:port/metrics as bound (the real port when 0 was asked for). */
  get url(): string {
    const { address, family, port } = this.server.address() as AddressInfo;
    return `http://${family === 'IPv6' ? `[${address}]` : address}:${port}${PATH}`;
  }

  close(): Promise<void> {
    if (!this.server.listening) return Promise.resolve();
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const target = request.url ?? '/';
    const query = target.indexOf('?');
    if ((query === -1 ? target : target.slice(0, query)) !== PATH) return end(response, 404, 'Not found\n');
    if (request.method !== 'GET' && request.method !== 'HEAD')
      return end(response, 405, 'Method not allowed\n', { allow: 'GET, HEAD' });
    try {
      const { contentType, text } = await this.metrics.scrape();
      response.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
      response.end(request.method === 'HEAD' ? undefined : text);
    } catch (error) {
      this.log.error({ err: error }, 'metrics scrape failed');
      end(response, 500, 'Internal error\n');
    }
  }
}

function end(response: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) {
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  response.end(body);
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The separate metrics listener (`telemetry.metrics.listen`); absent when /metrics is on the main app. */
    metricsListener?: MetricsListener;
  }
}

/**
 * Over stdio there is no HTTP app: metrics are served only on their own listener. Returns it started, or
 * undefined (with a warning, and nothing instrumented) when `telemetry.metrics` names no `listen`.
 */
export async function listenForStdio(
  runtime: Runtime,
  settings: MetricsSettings,
  log: Logger,
): Promise<MetricsListener | undefined> {
  if (!settings.listen) {
    log.warn('telemetry.metrics: stdio serves no /metrics on its own; set telemetry.metrics.listen');
    return undefined;
  }
  const listener = new MetricsListener(instrument(runtime), settings.listen, log);
  await listener.start();
  return listener;
}
