// The bench's launcher for the gateway with a no-op audit stage: the built gateway (dist/, by absolute path)
// from a generated config (its `policy:` and `auth:` included), plus a programmatic `around` stage on every
// routed method that awaits the call and counts it, so the cost of a stage per call shows next to the bare
// gateway. Compiled to .mjs by bench/lib/compile.ts. Run: node policy-gateway.mjs REPO CONFIG PORT.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Policy } from '../src/policy/types.js';

const [repo, configFile, port] = process.argv.slice(2);
const load = (file: string) => import(pathToFileURL(path.join(repo, 'dist', file)).href);

/** An audit stage that records nothing: what a stage around every call costs by itself. */
function noopAudit(): Policy {
  let calls = 0;
  // The count in the target's log shows the stage really ran.
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
// The configured rules (config.policy) come first in the chain; this stage wraps what they let through.
const app = await buildGateway(config, {
  log: createLogger(config.logging.level),
  policies: [noopAudit()],
});
await app.listen({ host: '127.0.0.1', port: Number(port) });
process.stderr.write(`policy-gateway listening on ${port}\n`);
const stop = () => void app.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
