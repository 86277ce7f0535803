// `node --import tsx bench/profile.ts`: one call cell against a Switchboard target whose gateway runs under
// `node --cpu-prof`, then a summary of where the gateway's CPU went, in µs per call: by area (node:http,
// undici, the gateway's own files, GC, ...), by function self time, and by function inclusive time.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CALL_CELLS, measureCell } from './lib/cells.js';
import { compileUpstream } from './lib/compile.js';
import { ALL_TARGETS, finishLogs, startTarget, type TargetName } from './lib/targets.js';

const { values: flags } = parseArgs({
  options: {
    target: { type: 'string', default: 'switchboard-http' },
    cell: { type: 'string', default: 'echo-c10' },
    duration: { type: 'string', default: '6' },
    top: { type: 'string', default: '25' },
  },
});
const cell = CALL_CELLS.find((c) => c.id === flags.cell);
if (!cell) throw new Error(`--cell: one of ${CALL_CELLS.map((c) => c.id).join(', ')}`);
const targetName = flags.target as TargetName;
const gateways = ALL_TARGETS.filter((t) => t.startsWith('switchboard-'));
if (!gateways.includes(targetName))
  throw new Error(`--target: one of ${gateways.join(', ')} (only the gateway is profiled)`);

const dir = mkdtempSync(path.join(os.tmpdir(), 'switchboard-profile-'));
const target = await startTarget(targetName, compileUpstream(), { extraTools: 0, upstreams: 1 }, [
  '--cpu-prof',
  '--cpu-prof-dir',
  dir,
]);
let calls = 0;
try {
  // The warm-up runs inside the profile too; its calls are counted, so µs per call stays honest.
  const timing = { warmupMs: 0, durationMs: Number(flags.duration) * 1000, idleSessions: 0 };
  const warm = await measureCell(cell, target, { ...timing, durationMs: 2000 });
  const result = await measureCell(cell, target, timing);
  if (warm.kind !== 'call' || result.kind !== 'call') throw new Error('not a call cell');
  calls = warm.calls + result.calls;
  console.log(
    `${targetName} ${cell.id}: ${result.callsPerSecond.toFixed(0)} calls/s, gateway CPU ${result.rootCpuPerCallUs.toFixed(0)} µs/call (from /proc, profiler on), errors ${result.errors + warm.errors}`,
  );
} finally {
  await target.stop();
  // The target's log and config are kept only when something went wrong.
  const logs = finishLogs(calls === 0);
  if (calls === 0) console.error(`target log and config: ${logs}`);
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}
const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
if (!file) throw new Error(`no .cpuprofile in ${dir}: did the gateway exit cleanly on SIGTERM?`);
const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Profile;

const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

function area(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  if (url.includes('/undici/')) return 'undici';
  if (url.includes('/fastify/') || url.includes('/find-my-way/') || url.includes('/light-my-request/'))
    return 'fastify';
  if (url.includes('/pino')) return 'pino';
  if (url.includes('node_modules')) return url.replace(/.*node_modules\/((@[^/]+\/)?[^/]+).*/, '$1');
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?([^/]+).*/, 'node:$2');
  return path.relative(process.cwd(), url.replace(/^file:\/\//, ''));
}
const label = (node: ProfileNode) => {
  const { functionName, url, lineNumber } = node.callFrame;
  return `${functionName || '(anonymous)'} ${url ? `${area(url, functionName)}:${lineNumber + 1}` : ''}`;
};

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
const areas = new Map<string, number>();
let busy = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i])!;
  const us = profile.timeDeltas[i] ?? 0;
  if (node.callFrame.functionName === '(idle)') continue;
  busy += us;
  self.set(label(node), (self.get(label(node)) ?? 0) + us);
  const a = area(node.callFrame.url, node.callFrame.functionName);
  areas.set(a, (areas.get(a) ?? 0) + us);
  // Inclusive: each function once per sample, however often it recurs on the stack.
  const seen = new Set<string>();
  for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
    const l = label(byId.get(id)!);
    if (l.startsWith('(root)') || seen.has(l)) continue;
    seen.add(l);
    inclusive.set(l, (inclusive.get(l) ?? 0) + us);
  }
}

const top = Number(flags.top);
const table = (title: string, map: Map<string, number>) => {
  console.log(`\n${title} (µs per call, % of busy samples)`);
  for (const [key, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(
      `${(us / calls).toFixed(1).padStart(8)}  ${((100 * us) / busy).toFixed(1).padStart(5)}%  ${key}`,
    );
};
console.log(`profile ${path.join(dir, file)}: ${calls} calls, ${(busy / calls).toFixed(0)} µs busy per call`);
table('By area (self time)', areas);
table('By function, self time', self);
table('By function, inclusive time', inclusive);
