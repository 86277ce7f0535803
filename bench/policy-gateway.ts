// The bench's "policy on" target: the built gateway (dist/) with a test policy of 20 visibility rules and a
// no-op audit stage on every routed method, so the cost of the pipeline seam (one predicate per list view and
// per resolution, one stage per call) shows next to the bare gateway. Run: node policy-gateway.mjs REPO CONFIG PORT.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Policy, Principal, Target } from '../src/policy/types.js';

const [repo, configFile, port] = process.argv.slice(2);
const load = (file: string) => import(pathToFileURL(path.join(repo, 'dist', file)).href);

/** 20 rules as the policy issue will write them: globs over public names by kind, deny overriding allow. */
function twentyRules(): Policy {
  const glob = (pattern: string) =>
    new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
  const rules = Array.from({ length: 20 }, (_, i) => ({
    kind: (['tool', 'prompt', 'resource', 'template'] as const)[i % 4],
    deny: i % 5 === 4,
    groups: i % 3 === 0 ? ['bench', `team-${i}`] : undefined,
    pattern: glob(i % 5 === 4 ? `*__secret_${i}*` : i === 0 ? '*' : `*__tool_${i}*`),
  }));
  return {
    name: 'bench-twenty-rules',
    visible(principal: Principal, target: Target) {
      let allowed = false;
      for (const rule of rules) {
        if (rule.kind !== target.kind && target.kind !== 'upstream') continue;
        if (rule.groups && !rule.groups.some((g) => principal.groups.includes(g))) continue;
        if (!rule.pattern.test(target.name)) continue;
        if (rule.deny) return false;
        allowed = true;
      }
      return allowed || target.kind !== 'tool';
    },
    viewKey: (principal) => `${principal.subject}\0${[...principal.groups].sort().join(',')}`,
  };
}

/** An audit stage that records nothing: what a stage around every call costs by itself. */
function noopAudit(): Policy {
  let calls = 0;
  process.on('exit', () => process.stderr.write(`audited ${calls} calls\n`));
  return {
    name: 'bench-noop-audit',
    async around(call, next) {
      const result = await next(call);
      calls++;
      return result;
    },
    // No `methods`: it wraps every routed method, as an audit stage would.
  };
}

const { loadConfig } = await load('gateway/config.js');
const { buildGateway } = await load('gateway/server.js');
const { createLogger } = await load('gateway/logger.js');
const config = loadConfig(configFile);
const app = await buildGateway(config, {
  log: createLogger(config.logging.level),
  policies: [twentyRules(), noopAudit()],
});
await app.listen({ host: '127.0.0.1', port: Number(port) });
process.stderr.write(`policy-gateway listening on ${port}\n`);
const stop = () => void app.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
