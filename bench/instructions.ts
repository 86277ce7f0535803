// `node --import tsx bench/instructions.ts`: instructions per echo call (C=1) of two gateway targets, counted by
// callgrind (lib/callgrind.ts), and B's minus A's. The count repeats within ~1 % from run to run, so it ranks a
// change of a few µs on a machine whose CPU time swings by ±30 µs; G1-G10 stay judged in CPU time by run.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { callgrindEnv, countedInstructions, ensureValgrind } from './lib/callgrind.js';
import { compileUpstream } from './lib/compile.js';
import { createAgent, McpHttpSession } from './lib/mcp-client.js';
import { AB_OPTIONS, envOf, startWithEnv } from './lib/target-env.js';
import { ALL_TARGETS, finishLogs, GATEWAY_CLI, type TargetName } from './lib/targets.js';

const { values: flags } = parseArgs({
  options: {
    ...AB_OPTIONS,
    calls: { type: 'string', default: '1000' },
    warmup: { type: 'string', default: '5000' },
  },
});
const calls = Number(flags.calls);
const warmup = Number(flags.warmup);
for (const name of [flags.a!, flags.b!])
  if (!ALL_TARGETS.includes(name as TargetName) || !name.startsWith('switchboard-'))
    throw new Error(
      `${name}: a gateway target (switchboard-...) is needed, one of ${ALL_TARGETS.join(', ')}`,
    );
ensureValgrind();

const upstream = compileUpstream();
const dir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-callgrind-'));

/** Instructions per echo call of one target: started under callgrind, warmed up (JIT), then `calls` counted. */
async function perCall(name: TargetName, env: Record<string, string>, side: string): Promise<number> {
  const out = path.join(dir, `${side}.out`);
  // BENCH_CLI in the side's environment names the build to count (an earlier dist/ copy, as side-by-side.ts).
  const cli = env.BENCH_CLI ? path.resolve(env.BENCH_CLI) : GATEWAY_CLI;
  const target = await startWithEnv(name, upstream, { ...env, ...callgrindEnv(out, cli) });
  const agent = createAgent();
  try {
    const session = new McpHttpSession(target.url, agent, target.authorization?.());
    await session.open();
    const params = JSON.stringify({ name: target.tool('echo'), arguments: { text: 'x'.repeat(100) } });
    const run = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const answer = await session.request('tools/call', params);
        if (answer.error || answer.result?.content?.[0]?.text?.length !== 100)
          throw new Error(`${name}: echo answered ${JSON.stringify(answer).slice(0, 200)}`);
      }
    };
    await run(warmup);
    const total = await countedInstructions(out, () => run(calls));
    await session.close();
    return total / calls;
  } finally {
    agent.destroy();
    await target.stop();
  }
}

let failed = true;
try {
  const a = await perCall(flags.a as TargetName, envOf(flags['a-env']!), 'a');
  const b = await perCall(flags.b as TargetName, envOf(flags['b-env']!), 'b');
  const k = (n: number) => `${(n / 1000).toFixed(1)}k`;
  console.log(
    `A = ${flags.a} ${flags['a-env']!.join(' ')}: ${k(a)} instructions per echo call (C=1, ${calls} calls)`,
  );
  console.log(`B = ${flags.b} ${flags['b-env']!.join(' ')}: ${k(b)} instructions per echo call`);
  console.log(`B - A: ${k(b - a)} instructions per call (${((b / a - 1) * 100).toFixed(1)} %)`);
  failed = false;
} finally {
  rmSync(dir, { recursive: true, force: true });
  const logs = finishLogs(failed);
  if (failed) console.error(`target logs and configs: ${logs}`);
}
