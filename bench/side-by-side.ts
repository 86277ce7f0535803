// `node --import tsx bench/side-by-side.ts`: two gateway targets (or one target twice with different
// environments, such as BENCH_OFF) loaded at the same time, round after round, and B's gateway CPU per call
// minus A's. Both see the same machine at every moment, which steadies an A/B on a shared, noisy box.
import { parseArgs } from 'node:util';
import { CALL_CELLS, measureCell } from './lib/cells.js';
import { compileUpstream } from './lib/compile.js';
import { median } from './lib/median.js';
import { envOf, startWithEnv } from './lib/target-env.js';
import { ALL_TARGETS, finishLogs, type RunningTarget, type TargetName } from './lib/targets.js';

const { values: flags } = parseArgs({
  options: {
    a: { type: 'string', default: 'switchboard-secured' },
    b: { type: 'string' },
    'a-env': { type: 'string', multiple: true, default: [] },
    'b-env': { type: 'string', multiple: true, default: [] },
    cell: { type: 'string', default: 'echo-c10' },
    duration: { type: 'string', default: '6' },
    rounds: { type: 'string', default: '5' },
  },
});
const cell = CALL_CELLS.find((c) => c.id === flags.cell);
if (!cell) throw new Error(`--cell: one of ${CALL_CELLS.map((c) => c.id).join(', ')}`);
const names = [flags.a!, flags.b ?? flags.a!];
for (const name of names)
  if (!ALL_TARGETS.includes(name as TargetName)) throw new Error(`unknown target ${name}`);

const upstream = compileUpstream();
const start = (name: string, env: Record<string, string>) => startWithEnv(name as TargetName, upstream, env);

const targets: RunningTarget[] = [];
let failed = true;
try {
  targets.push(await start(names[0], envOf(flags['a-env']!)));
  targets.push(await start(names[1], envOf(flags['b-env']!)));
  const timing = { warmupMs: 0, durationMs: Number(flags.duration) * 1000, idleSessions: 0 };
  const both = (durationMs: number) =>
    Promise.all(targets.map((target) => measureCell(cell, target, { ...timing, durationMs })));
  await both(3000);
  const differences: number[] = [];
  for (let round = 1; round <= Number(flags.rounds); round++) {
    const [a, b] = await both(timing.durationMs);
    if (a.kind !== 'call' || b.kind !== 'call') throw new Error('not a call cell');
    const difference = b.rootCpuPerCallUs - a.rootCpuPerCallUs;
    differences.push(difference);
    console.log(
      `round ${round}: A ${a.rootCpuPerCallUs.toFixed(0)} µs/call (${a.callsPerSecond.toFixed(0)} calls/s, ${a.errors} errors), ` +
        `B ${b.rootCpuPerCallUs.toFixed(0)} µs/call (${b.callsPerSecond.toFixed(0)} calls/s, ${b.errors} errors), B - A ${difference.toFixed(1)}`,
    );
  }
  console.log(
    `A = ${names[0]} ${flags['a-env']!.join(' ')}, B = ${names[1]} ${flags['b-env']!.join(' ')}, ${cell.id}: ` +
      `median B - A ${median(differences).toFixed(1)} µs/call (rounds: ${differences.map((d) => d.toFixed(0)).join(' ')})`,
  );
  failed = false;
} finally {
  await Promise.all(targets.map((target) => target.stop()));
  const logs = finishLogs(failed);
  if (failed) console.error(`target logs and configs: ${logs}`);
}
