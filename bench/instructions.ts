// `node --import tsx bench/instructions.ts`: instructions per echo call of two gateway targets (C=1, or
// `--concurrency` sessions at once), counted by callgrind (lib/callgrind.ts), and B's minus A's; `--top N` also
// lists the N functions whose count changed most. The count mostly repeats within ~1 % (a run where V8 took a
// slow path can be ~9 % off: repeat it), so it ranks a change of a few µs on a machine whose CPU time swings by
// ±30 µs; G1-G10 stay judged in CPU time by run.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { callgrindEnv, countedInstructions, ensureValgrind, functionCounts } from './lib/callgrind.js';
import { compileUpstream } from './lib/compile.js';
import { createAgent, McpHttpSession } from './lib/mcp-client.js';
import { AB_OPTIONS, envOf, startWithEnv } from './lib/target-env.js';
import { ALL_TARGETS, finishLogs, GATEWAY_CLI, type TargetName } from './lib/targets.js';

const { values: flags } = parseArgs({
  options: {
    ...AB_OPTIONS,
    calls: { type: 'string', default: '1000' },
    warmup: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '1' },
    top: { type: 'string', default: '0' },
  },
});
const concurrency = Number(flags.concurrency);
const top = Number(flags.top);
if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error('--concurrency: a whole number >= 1');
if (!Number.isInteger(top) || top < 0) throw new Error('--top: a whole number >= 0');
// Each session makes the same number of calls: the counts are rounded up to a multiple of the sessions.
const perSession = (count: number) => Math.ceil(count / concurrency);
const calls = perSession(Number(flags.calls)) * concurrency;
const warmup = perSession(Number(flags.warmup)) * concurrency;
for (const name of [flags.a!, flags.b!])
  if (!ALL_TARGETS.includes(name as TargetName) || !name.startsWith('switchboard-'))
    throw new Error(
      `${name}: a gateway target (switchboard-...) is needed, one of ${ALL_TARGETS.join(', ')}`,
    );
ensureValgrind();

const upstream = compileUpstream();
const dir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-callgrind-'));

interface Counted {
  perCall: number;
  /** Instructions per call by function, when `--top` asks for them. */
  byFunction?: Map<string, number>;
}

/** Instructions per echo call of one target: started under callgrind, warmed up (JIT), then `calls` counted. */
async function counted(name: TargetName, env: Record<string, string>, side: string): Promise<Counted> {
  const out = path.join(dir, `${side}.out`);
  // BENCH_CLI in the side's environment names the build to count (an earlier dist/ copy, as side-by-side.ts).
  const cli = env.BENCH_CLI ? path.resolve(env.BENCH_CLI) : GATEWAY_CLI;
  const target = await startWithEnv(name, upstream, { ...env, ...callgrindEnv(out, cli) });
  const agent = createAgent();
  try {
    const sessions = Array.from(
      { length: concurrency },
      () => new McpHttpSession(target.url, agent, target.authorization?.()),
    );
    for (const session of sessions) await session.open();
    const params = JSON.stringify({ name: target.tool('echo'), arguments: { text: 'x'.repeat(100) } });
    const loop = async (session: McpHttpSession, count: number) => {
      for (let i = 0; i < count; i++) {
        const answer = await session.request('tools/call', params);
        if (answer.error || answer.result?.content?.[0]?.text?.length !== 100)
          throw new Error(`${name}: echo answered ${JSON.stringify(answer).slice(0, 200)}`);
      }
    };
    const run = async (count: number) => {
      await Promise.all(sessions.map((session) => loop(session, count / concurrency)));
    };
    await run(warmup);
    const { total, dump } = await countedInstructions(out, () => run(calls));
    for (const session of sessions) await session.close();
    if (top === 0) return { perCall: total / calls };
    const byFunction = new Map([...functionCounts(dump)].map(([fn, count]) => [fn, count / calls]));
    return { perCall: total / calls, byFunction };
  } finally {
    agent.destroy();
    await target.stop();
  }
}

/** The `top` functions whose instructions per call differ most between A and B, largest difference first. */
function topChanges(a: Map<string, number>, b: Map<string, number>): string[] {
  const names = new Set([...a.keys(), ...b.keys()]);
  return [...names]
    .map((fn) => ({ fn, change: (b.get(fn) ?? 0) - (a.get(fn) ?? 0) }))
    .sort((x, y) => Math.abs(y.change) - Math.abs(x.change))
    .slice(0, top)
    .map(({ fn, change }) => `${`${change >= 0 ? '+' : ''}${Math.round(change)}`.padStart(9)}  ${fn}`);
}

let failed = true;
try {
  const a = await counted(flags.a as TargetName, envOf(flags['a-env']!), 'a');
  const b = await counted(flags.b as TargetName, envOf(flags['b-env']!), 'b');
  const k = (n: number) => `${(n / 1000).toFixed(1)}k`;
  const how = `C=${concurrency}, ${calls} calls`;
  console.log(
    `A = ${flags.a} ${flags['a-env']!.join(' ')}: ${k(a.perCall)} instructions per echo call (${how})`,
  );
  console.log(`B = ${flags.b} ${flags['b-env']!.join(' ')}: ${k(b.perCall)} instructions per echo call`);
  console.log(
    `B - A: ${k(b.perCall - a.perCall)} instructions per call (${((b.perCall / a.perCall - 1) * 100).toFixed(1)} %)`,
  );
  if (a.byFunction && b.byFunction) {
    console.log(`The ${top} functions whose instructions per call changed most (B - A):`);
    for (const line of topChanges(a.byFunction, b.byFunction)) console.log(line);
  }
  failed = false;
} finally {
  rmSync(dir, { recursive: true, force: true });
  const logs = finishLogs(failed);
  if (failed) console.error(`target logs and configs: ${logs}`);
}
