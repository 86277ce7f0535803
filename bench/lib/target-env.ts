// Starting a bench target with some environment variables set for it alone (`--a-env`/`--b-env` of the A/B
// tools): BENCH_OFF and BENCH_CLI are read here as the target starts, the rest by the gateway it spawns.
import { startTarget, type RunningTarget, type TargetName } from './targets.js';

/** `NAME=VALUE` pairs (V may hold commas, as BENCH_OFF's list does) as an environment. */
export function envOf(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new Error(`--a-env/--b-env take NAME=VALUE, not "${pair}"`);
    env[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return env;
}

/** Starts a target (one stdio upstream with echo) with `env` set in this process while it starts. */
export async function startWithEnv(
  name: TargetName,
  upstreamJs: string,
  env: Record<string, string>,
): Promise<RunningTarget> {
  const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  Object.assign(process.env, env);
  try {
    return await startTarget(name, upstreamJs, { extraTools: 0, upstreams: 1 });
  } finally {
    for (const [key, value] of Object.entries(saved))
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
  }
}

/** The flags of the A/B tools (instructions.ts, fixed-rate.ts): targets A and B, and each one's environment. */
export const AB_OPTIONS = {
  a: { type: 'string' as const, default: 'switchboard-stdio' },
  b: { type: 'string' as const, default: 'switchboard-g8' },
  'a-env': { type: 'string' as const, multiple: true as const, default: [] as string[] },
  'b-env': { type: 'string' as const, multiple: true as const, default: [] as string[] },
};
