// From an upstream's config entry to the running parts: the Upstream (its spec, timeouts, limits) and how the
// router sees it (prefix, catalogue filters, curation). Shared by start-up and by each reload.
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { allowDeny } from '../policy/glob.js';
import { Upstream, type UpstreamOptions } from '../upstreams/pool.js';
import type { SessionBudget } from '../upstreams/session-budget.js';
import { publicName } from './catalog/names.js';
import { configBaseDir, type GatewayConfig, type StdioUpstreamConfig } from './config.js';
import { redactWithConfig } from './redact.js';
import { specFor } from './upstream-spec.js';

/** What shared connections declare: the gateway can relay these to whichever client asks. */
const SHARED_CAPABILITIES: ClientCapabilities = {
  sampling: {},
  elicitation: { form: {}, url: {} },
  roots: { listChanged: true },
};

/** What every upstream of one runtime shares. */
export interface UpstreamShared {
  readonly budget: SessionBudget;
  readonly log: Logger;
  readonly hooks: UpstreamOptions['hooks'];
}

export function buildUpstream(config: GatewayConfig, name: string, shared: UpstreamShared): Upstream {
  const upstream = config.upstreams[name];
  const { defaults } = config;
  return new Upstream({
    name,
    spec: specFor(upstream, configBaseDir(config), (tool) =>
      publicName(upstream.prefix ?? name, config.namespace.separator, tool),
    ),
    scope: upstream.scope ?? 'shared',
    timeoutMs: upstream.timeout ?? defaults.timeout,
    maxTimeoutMs: upstream.maxTimeout ?? defaults.maxTimeout,
    startTimeoutMs:
      upstream.startTimeout ?? Math.max(defaults.startTimeout, upstream.timeout ?? defaults.timeout),
    maxLineBytes: (upstream as StdioUpstreamConfig).maxLineBytes ?? defaults.maxLineBytes,
    maxResultBytes: upstream.maxResultBytes ?? defaults.maxResultBytes,
    budget: shared.budget,
    redact: (text) => redactWithConfig(config, text),
    log: shared.log.child({ upstream: name }),
    hooks: shared.hooks,
    sharedCapabilities: SHARED_CAPABILITIES,
  });
}

/** How the router sees one upstream: its prefix, principal-independent filters and tool curation. */
export function routerEntry(config: GatewayConfig, upstream: Upstream) {
  const entry = config.upstreams[upstream.name];
  return {
    upstream,
    prefix: entry.prefix ?? upstream.name,
    // Principal-independent catalogue filters: what is filtered out does not exist behind the gateway.
    filter: {
      tools: allowDeny(entry.tools),
      prompts: allowDeny(entry.prompts),
      resources: allowDeny(entry.resources),
    },
    curation: entry.tools,
  };
}
