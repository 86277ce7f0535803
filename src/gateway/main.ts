// Process entry points behind the CLI: serve (HTTP), stdio, check. Loads config, builds, listens, and
// shuts down cleanly on SIGTERM/SIGINT (client sessions closed, stdio children stopped).
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { configWarnings, loadConfig, type GatewayConfig } from './config.js';
import { createLogger } from './logger.js';
import { configSecrets } from './redact.js';
import { Runtime } from './runtime.js';
import { buildGateway } from './server.js';
import { serveStdio } from './front/stdio.js';

export async function serve(configFile: string, overrides: { host?: string; port?: number }): Promise<void> {
  const config = loadConfig(configFile);
  const log = createLogger(config.logging.level);
  for (const warning of configWarnings(config)) log.warn(warning);
  const app = await buildGateway(config, { log, waitForUpstreams: false });
  const host = overrides.host ?? config.listen.host;
  const port = overrides.port ?? config.listen.port;
  await app.listen({ host, port });
  // The socket's own address: app.listen's answer shows 127.0.0.1 for a server bound to 0.0.0.0.
  const address = listeningUrl(app.server.address() as AddressInfo);
  log.info({ address: `${address}/mcp` }, 'switchboard listening');
  process.stderr.write(`switchboard listening on ${address}/mcp\n`);
  onSignals(() => app.close());
}

export async function stdio(configFile: string): Promise<void> {
  const config = loadConfig(configFile);
  const log = createLogger(config.logging.level, { secrets: configSecrets(config) });
  for (const warning of configWarnings(config)) log.warn(warning);
  const runtime = new Runtime(config, log);
  onSignals(() => runtime.stop());
  await runtime.start();
  await serveStdio(runtime);
  await runtime.stop();
}

/** Connects to every upstream and prints a table; returns the exit code. */
export async function check(configFile: string): Promise<number> {
  const config: GatewayConfig = loadConfig(configFile);
  for (const warning of configWarnings(config)) process.stderr.write(`warning: ${warning}\n`);
  const runtime = new Runtime(config, createLogger('silent'));
  // Upstreams run in their own process groups, out of reach of a terminal's Ctrl-C: stop them on a signal.
  onSignals(() => runtime.stop());
  let code = 0;
  try {
    await runtime.start();
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    code = 1;
  }
  const rows = runtime.upstreams.map((u) => [
    u.name,
    u.state,
    String(u.catalog.tools.length),
    String(u.catalog.prompts.length),
    String(u.catalog.resources.length),
    u.lastError ?? '',
  ]);
  const header = ['UPSTREAM', 'STATUS', 'TOOLS', 'PROMPTS', 'RESOURCES', 'ERROR'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const row of [header, ...rows]) {
    process.stdout.write(
      row
        .map((cell, i) => cell.padEnd(widths[i]))
        .join('  ')
        .trimEnd() + '\n',
    );
  }
  if (runtime.upstreams.some((u) => u.state !== 'ready')) code = 1;
  await runtime.stop();
  return code;
}

/** `http://0.0.0.0:8080`, `http://[::]:8080`: where the server really listens. */
function listeningUrl({ address, family, port }: AddressInfo): string {
  return `http://${family === 'IPv6' ? `[${address}]` : address}:${port}`;
}

function onSignals(shutdown: () => Promise<unknown>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`switchboard: ${signal}, shutting down\n`);
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    void shutdown().finally(() => process.exit(0));
  };
  process.once('SIGTERM', () => handler('SIGTERM'));
  process.once('SIGINT', () => handler('SIGINT'));
}

export type { FastifyInstance };
