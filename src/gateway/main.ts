// Process entry points behind the CLI: serve (HTTP), stdio, check. Loads config, builds, listens, and
// shuts down cleanly on SIGTERM/SIGINT (client sessions closed, stdio children stopped).
import type { FastifyInstance } from 'fastify';
import { loadConfig, type GatewayConfig } from './config.js';
import { createLogger } from './logger.js';
import { Runtime } from './runtime.js';
import { buildGateway } from './server.js';
import { serveStdio } from './stdio-front.js';

export async function serve(configFile: string, overrides: { host?: string; port?: number }): Promise<void> {
  const config = loadConfig(configFile);
  const log = createLogger(config.logging.level);
  const app = await buildGateway(config, { log, waitForUpstreams: false });
  const host = overrides.host ?? config.listen.host;
  const port = overrides.port ?? config.listen.port;
  const address = await app.listen({ host, port });
  log.info({ address: `${address}/mcp` }, 'switchboard listening');
  process.stderr.write(`switchboard listening on ${address}/mcp\n`);
  onSignals(() => app.close());
}

export async function stdio(configFile: string): Promise<void> {
  const config = loadConfig(configFile);
  const log = createLogger(config.logging.level);
  const runtime = new Runtime(config, log);
  onSignals(() => runtime.stop());
  await runtime.start();
  await serveStdio(runtime);
  await runtime.stop();
}

/** Connects to every upstream and prints a table; returns the exit code. */
export async function check(configFile: string): Promise<number> {
  const config: GatewayConfig = loadConfig(configFile);
  const runtime = new Runtime(config, createLogger('silent'));
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
