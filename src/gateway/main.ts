// Process entry points behind the CLI: serve (HTTP), stdio, check. Loads config, builds, listens, and
// shuts down cleanly on SIGTERM/SIGINT (serve drains first, drain.ts; client sessions closed, stdio children
// stopped).
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { createEndpointsPolicy } from '../policy/endpoints.js';
import { explainCall, explainCatalogue, policyWarnings } from '../policy/explain.js';
import { createRulesPolicy } from '../policy/rules.js';
import type { Principal, Target } from '../policy/types.js';
import { configWarnings, loadConfig, type GatewayConfig } from './config.js';
import { metricsSettings } from './config-metrics.js';
import { drainOnSignals } from './drain.js';
import { createLogger } from './logger.js';
import { configSecrets } from './redact.js';
import { publishedNames } from './policies.js';
import { watchConfig } from './reload.js';
import { Runtime } from './runtime.js';
import type { Notice } from './stores/pins.js';
import { buildGateway } from './server.js';
import { serveStdio } from './front/stdio.js';
import { stdioPrincipal } from './front/auth.js';
import { isLoopbackHost } from './config-auth.js';
import { GatewayError } from '../errors.js';

/**
 * Without `auth:` every caller is anonymous and may call every tool: allowed only on a loopback address.
 * The message says how to fix it; undefined when the address is fine.
 */
export function anonymousExposure(config: GatewayConfig, host: string): string | undefined {
  if (config.auth || isLoopbackHost(host)) return undefined;
  return (
    `refusing to serve ${host} without authentication: anyone who can reach it could call every tool. ` +
    'Add an `auth:` section (apiKeys, jwt or introspection; see "Authentication" in the README), ' +
    'or listen on 127.0.0.1 (listen.host or --host) and put an authenticating proxy in front'
  );
}

export async function serve(configFile: string, overrides: { host?: string; port?: number }): Promise<void> {
  const config = loadConfig(configFile, process.env, { fromCommand: true });
  const log = createLogger(config.logging.level);
  for (const warning of configWarnings(config)) log.warn(warning);
  const host = overrides.host ?? config.listen.host;
  const port = overrides.port ?? config.listen.port;
  const exposure = anonymousExposure(config, host);
  if (exposure) throw new GatewayError('config', exposure);
  const app = await buildGateway(config, { log, waitForUpstreams: false });
  await app.listen({ host, port });
  // The socket's own address: app.listen's answer shows 127.0.0.1 for a server bound to 0.0.0.0.
  const address = listeningUrl(app.server.address() as AddressInfo);
  log.info({ address: `${address}/mcp` }, 'switchboard listening');
  process.stderr.write(`switchboard listening on ${address}/mcp\n`);
  // SIGHUP or an edit of the file: validated, diffed and applied without a restart (reload.ts).
  watchConfig(app, configFile, log);
  drainOnSignals(app, config.shutdown.drainTimeout, log, config.shutdown.readinessDelay);
}

export async function stdio(configFile: string): Promise<void> {
  const config = loadConfig(configFile, process.env, { fromCommand: true });
  if (config.audit?.stdout)
    throw new GatewayError(
      'config',
      'audit.stdout: under `switchboard stdio` stdout carries the MCP messages; write the audit log to audit.file',
    );
  const log = createLogger(config.logging.level, {
    secrets: configSecrets(config),
    fields: config.logging.redact,
  });
  for (const warning of configWarnings(config)) log.warn(warning);
  const runtime = new Runtime(config, log);
  const metrics = metricsSettings(config);
  const metricsListener =
    metrics && (await (await import('./telemetry/metrics-http.js')).listenForStdio(runtime, metrics, log));
  onSignals(() => runtime.stop());
  await runtime.start();
  await serveStdio(runtime, process.stdin, process.stdout, stdioPrincipal(config.stdio.principal));
  await Promise.all([runtime.stop(), metricsListener?.close()]);
}

/** Connects to every upstream and prints a table; returns the exit code. */
export async function check(configFile: string): Promise<number> {
  const config: GatewayConfig = loadConfig(configFile, process.env, { fromCommand: true });
  for (const warning of configWarnings(config)) process.stderr.write(`warning: ${warning}\n`);
  const exposure = anonymousExposure(config, config.listen.host);
  const runtime = new Runtime(config, createLogger('silent'));
  // check looks at the pins (what would be quarantined) but records nothing: the gateway does that.
  runtime.pins.readOnly = true;
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
  for (const warning of runtime.router.curationWarnings()) process.stderr.write(`warning: ${warning}\n`);
  for (const notice of runtime.pins.notices()) process.stderr.write(`warning: ${pinNotice(notice)}\n`);
  if (config.policy) {
    const policy = createRulesPolicy(config.policy, publishedNames(config));
    for (const warning of policyWarnings(policy, catalogueTargets(runtime)))
      process.stderr.write(`warning: ${warning}\n`);
  }
  if (exposure) {
    process.stderr.write(`error: serve would refuse this config: ${exposure}\n`);
    code = 1;
  }
  await runtime.stop();
  return code;
}

/**
 * `policy explain`: starts the upstreams as `check` does (the catalogue is theirs), then prints what `principal`
 * sees, or the decision for one call (`request` = [METHOD, NAME]); exit 1 when an upstream is not ready.
 */
export async function policyExplain(
  configFile: string,
  principal: Principal,
  request: readonly string[],
  args?: object,
): Promise<number> {
  const config = loadConfig(configFile, process.env, { fromCommand: true });
  const runtime = new Runtime(config, createLogger('silent'));
  runtime.pins.readOnly = true;
  onSignals(() => runtime.stop());
  await runtime.start().catch((error: Error) => process.stderr.write(`${error.message}\n`));
  const down = runtime.upstreams.filter((u) => u.state !== 'ready');
  for (const u of down)
    process.stderr.write(`warning: upstream ${u.name} is ${u.state}: its items are missing\n`);
  const { router } = runtime;
  const policy = config.policy && createRulesPolicy(config.policy, publishedNames(config));
  // Through a virtual endpoint, what lies outside its subset does not exist for the principal at all.
  const endpoints = principal.endpoint === undefined ? undefined : config.endpoints;
  if (principal.endpoint !== undefined && !endpoints?.[principal.endpoint]) {
    process.stderr.write(`error: --as endpoint=${principal.endpoint}: no such endpoint under endpoints:\n`);
    await runtime.stop();
    return 2;
  }
  const onEndpoint = endpoints
    ? createEndpointsPolicy(endpoints, publishedNames(config)).visible!.bind(undefined, principal)
    : () => true;
  if (request.length) {
    const [method, name] = request;
    const found: { target?: Target; template?: Target } | undefined =
      method === 'tools/call'
        ? { target: router.tool(name) }
        : method === 'prompts/get'
          ? { target: router.prompt(name) }
          : router.resource(name);
    const target = found?.target && onEndpoint(found.target) ? found.target : undefined;
    if (found?.target && !target)
      process.stdout.write(`not on endpoint ${principal.endpoint}: unknown there, whatever the rules say\n`);
    process.stdout.write(explainCall(policy, principal, method, name, target, args, found?.template));
  } else {
    process.stdout.write(explainCatalogue(policy, principal, catalogueTargets(runtime).filter(onEndpoint)));
  }
  await runtime.stop();
  return down.length ? 1 : 0;
}

/** Every published item, and each upstream as a whole: what a policy is explained and checked against. */
function catalogueTargets(runtime: Runtime): Target[] {
  const kinds = ['tools', 'prompts', 'resources', 'resourceTemplates'] as const;
  const targets: Target[] = kinds.flatMap((kind) => runtime.router.listed(kind).map((item) => item.target));
  for (const u of runtime.upstreams)
    targets.push({ kind: 'upstream', upstream: u.name, name: u.name, original: u.name });
  return targets;
}

/** A quarantined or flagged tool as `check` prints it. */
function pinNotice({ publicName, upstream, reason, findings }: Notice): string {
  const found = findings.map((f) => `${f.kind} in ${f.field}: ${f.excerpt}`).join('; ');
  return reason
    ? `tool ${publicName} (${upstream}) is quarantined (${reason})${found ? `: ${found}` : ''}; ` +
        `see \`switchboard pins diff ${publicName}\``
    : `tool ${publicName} (${upstream}) looks poisoned (published, poisoning: warn): ${found}`;
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
