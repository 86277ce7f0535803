// The configured policies in chain order: rules first (every other stage sees only calls the rules let
// through), then limits, argument guards, secret scanning, the embedder's own policies, approval (a person is
// asked only about a call everything else let through) and virtual endpoints (visibility only, no stage).
import { createApprovalPolicy } from '../policy/approval.js';
import { createEndpointsPolicy } from '../policy/endpoints.js';
import { createGuardsPolicy } from '../policy/guards/policy.js';
import { createRulesPolicy, type RulesPolicy } from '../policy/rules.js';
import { createSecretsPolicy } from '../policy/secrets/policy.js';
import type { Policy } from '../policy/types.js';
import { configBaseDir, type GatewayConfig } from './config.js';
import { configuredLimits } from './stores/limiter.js';
import type { SharedRedis } from './stores/redis.js';

/** How tools and prompts are named per upstream, so the rules can judge an upstream as a whole by its globs. */
export function publishedNames(config: GatewayConfig) {
  const prefixes = new Map(Object.entries(config.upstreams).map(([name, u]) => [name, u.prefix ?? name]));
  return { separator: config.namespace.separator, prefixes };
}

/**
 * Each kind is absent when the config does not use it, so a gateway without it pays nothing. `enabled`: the
 * upstreams that run (a disabled one's guards are not compiled); `extra`: policies an embedder or test adds.
 */
export function configuredPolicies(
  config: GatewayConfig,
  enabled: readonly string[],
  redis: SharedRedis | undefined,
  extra: readonly Policy[],
): { policies: Policy[]; rules?: RulesPolicy } {
  const rules = config.policy && createRulesPolicy(config.policy, publishedNames(config));
  const ruleList = config.policy?.rules ?? [];
  // A refused call never spends a point.
  const limits = configuredLimits(config, redis);
  // A bad guard root stops start-up here.
  const guards = createGuardsPolicy({
    upstreams: new Map(
      enabled.flatMap((name) => {
        const guarded = config.upstreams[name].tools?.guards;
        return guarded ? [[name, guarded] as const] : [];
      }),
    ),
    rules: ruleList,
    baseDir: configBaseDir(config),
  });
  // After the guards (a refused call is not scanned), before approval (a person sees the arguments as the
  // upstream will get them); results are redacted by default, so this stage is almost always present.
  const secrets = createSecretsPolicy({
    upstreams: new Map(enabled.map((name) => [name, config.upstreams[name].secrets])),
    rules: ruleList,
  });
  const approval = config.policy && createApprovalPolicy(config.policy.rules);
  const endpoints = config.endpoints && createEndpointsPolicy(config.endpoints, publishedNames(config));
  const policies = [rules, limits, guards, secrets, ...extra, approval, endpoints].filter(
    (policy): policy is Policy => policy !== undefined,
  );
  return { policies, rules };
}
