// `node --import tsx bench/fixed-rate.ts`: two gateway targets at the same offered rate of echo calls (an open
// loop, lib/paced.ts), one after the other in alternating slices (A, B, B, A each round), and B's gateway CPU per
// call minus A's. Where the call cells run each target as fast as it goes, this holds the work per second
// equal, so the difference is what B's own work costs and not also the peers it leaves idle (waking them costs).
import { parseArgs } from 'node:util';
import { checkCall, ECHO_TEXT } from './lib/cells.js';
import { compileUpstream } from './lib/compile.js';
import { median } from './lib/median.js';
import { runPacedLoad, type PacedResult } from './lib/paced.js';
import { AB_OPTIONS, envOf, startWithEnv } from './lib/target-env.js';
import { ALL_TARGETS, finishLogs, type RunningTarget, type TargetName } from './lib/targets.js';

const { values: flags } = parseArgs({
  options: {
    ...AB_OPTIONS,
    rate: { type: 'string', default: '4000' },
    sessions: { type: 'string', default: '10' },
    duration: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '4' },
  },
});
const names = [flags.a!, flags.b!];
for (const name of names)
  if (!ALL_TARGETS.includes(name as TargetName)) throw new Error(`unknown target ${name}`);
const rate = Number(flags.rate);
const upstream = compileUpstream();

const targets: RunningTarget[] = [];
let failed = true;
try {
  targets.push(await startWithEnv(names[0] as TargetName, upstream, envOf(flags['a-env']!)));
  targets.push(await startWithEnv(names[1] as TargetName, upstream, envOf(flags['b-env']!)));
  const slice = (target: RunningTarget, warmupMs = 1000) =>
    runPacedLoad(target, {
      rate,
      sessions: Number(flags.sessions),
      method: 'tools/call',
      paramsJson: JSON.stringify({ name: target.tool('echo'), arguments: { text: ECHO_TEXT } }),
      warmupMs,
      durationMs: Number(flags.duration) * 1000,
      check: checkCall('echo'),
    });
  const line = (label: string, r: PacedResult) =>
    `${label} ${r.rootCpuPerCallUs.toFixed(1)} µs/call (${r.callsPerSecond.toFixed(0)} calls/s${r.held ? '' : ', rate NOT held'}, ${r.errors} errors)`;
  for (const target of targets) await slice(target, 2000);
  const differences: number[] = [];
  let allHeld = true;
  for (let round = 1; round <= Number(flags.rounds); round++) {
    const a1 = await slice(targets[0]);
    const b1 = await slice(targets[1]);
    const b2 = await slice(targets[1]);
    const a2 = await slice(targets[0]);
    for (const [a, b] of [
      [a1, b1],
      [a2, b2],
    ]) {
      allHeld &&= a.held && b.held && a.errors === 0 && b.errors === 0;
      differences.push(b.rootCpuPerCallUs - a.rootCpuPerCallUs);
      console.log(
        `round ${round}: ${line('A', a)}, ${line('B', b)}, B - A ${(b.rootCpuPerCallUs - a.rootCpuPerCallUs).toFixed(1)}`,
      );
    }
  }
  console.log(
    `A = ${names[0]} ${flags['a-env']!.join(' ')}, B = ${names[1]} ${flags['b-env']!.join(' ')}, echo at ${rate} calls/s ` +
      `over ${flags.sessions} sessions: median B - A ${median(differences).toFixed(1)} µs/call ` +
      `(pairs: ${differences.map((d) => d.toFixed(0)).join(' ')})` +
      (allHeld ? '' : '; some slice did not hold the rate or had errors: lower --rate'),
  );
  if (!allHeld) process.exitCode = 1;
  failed = false;
} finally {
  await Promise.all(targets.map((target) => target.stop()));
  const logs = finishLogs(failed);
  if (failed) console.error(`target logs and configs: ${logs}`);
}
