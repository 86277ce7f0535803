// `npm run bench`: interleaved side-by-side runs of direct, Switchboard and the npm peers, printed as Markdown
// and written to bench/results/. `--quick` (< 60 s, for CI) compares Switchboard over stdio to direct only.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  CALL_CELLS,
  IDLE_CELL,
  LIST_CELL,
  SETUP_CELL,
  measureCell,
  type Cell,
  type Timing,
} from './lib/cells.js';
import { REPO_ROOT, compileUpstream } from './lib/compile.js';
import { callTable, goalsTable, idleTable, listTable, med, setupTable, type Results } from './lib/report.js';
import { BARE, SECURED, SHARED, securedTable } from './lib/report-secured.js';
import { PAIRS_PER_ROUND, measureSlices } from './lib/slices.js';
import {
  ALL_TARGETS,
  finishLogs,
  runsCell,
  startTarget,
  type TargetName,
  type UpstreamShape,
} from './lib/targets.js';

const USAGE = `usage: npm run bench -- [--quick] [--rounds N] [--duration SEC] [--warmup SEC]
  [--targets ${ALL_TARGETS.join(',')}] [--cells echo-c1,...,payload-c50,setup,idle,list] [--idle-sessions N] [--no-write]`;

/** A bad command line gets one clear line and exit code 2, not a stack trace. */
function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

const { values: flags } = (() => {
  try {
    return parseCommandLine();
  } catch (error) {
    fail((error as Error).message);
  }
})();

function parseCommandLine() {
  return parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      targets: { type: 'string' },
      cells: { type: 'string' },
      'idle-sessions': { type: 'string' },
      'no-write': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
}
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}

function number(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) fail(`--${name} needs a positive number, got "${text}"`);
  return value;
}

function list<T extends string>(
  name: string,
  text: string | undefined,
  known: readonly T[],
  fallback: T[],
): T[] {
  if (text === undefined) return fallback;
  const items = text.split(',').map((item) => item.trim()) as T[];
  const unknown = items.filter((item) => !known.includes(item));
  if (unknown.length) fail(`--${name}: unknown ${unknown.join(', ')} (known: ${known.join(', ')})`);
  return items;
}

const quick = flags.quick;
const rounds = number('rounds', flags.rounds, 3);
const timing: Timing = {
  warmupMs: number('warmup', flags.warmup, 1) * 1000,
  durationMs: number('duration', flags.duration, quick ? 3 : 4) * 1000,
  idleSessions: number('idle-sessions', flags['idle-sessions'], 1000),
};
const allCells = [...CALL_CELLS, SETUP_CELL, IDLE_CELL, LIST_CELL];
const cells = list(
  'cells',
  flags.cells,
  allCells.map((c) => c.id),
  quick ? ['echo-c10'] : allCells.map((c) => c.id),
).map((id) => allCells.find((c) => c.id === id)!);
const targets = list<TargetName>(
  'targets',
  flags.targets,
  ALL_TARGETS,
  quick ? ['direct', 'switchboard-stdio'] : ALL_TARGETS,
);
if (!targets.includes('direct')) fail('--targets must include direct: every ratio is to direct');

const results: Results = {};
/** The targets whose cost over the bare gateway is a goal (G8, G10). */
const PAIRED: string[] = [...SECURED, ...SHARED];
const upstreamJs = compileUpstream();

/** One group of cells shares an upstream shape; its targets stay up while its rounds run A B A B. */
async function runGroup(groupCells: Cell[], groupTargets: TargetName[], shape: UpstreamShape): Promise<void> {
  if (groupCells.length === 0) return;
  const running = new Map<TargetName, Awaited<ReturnType<typeof startTarget>>>();
  try {
    // A target that runs none of the group's cells (see TARGET_CELLS) is not started for it.
    for (const name of groupTargets.filter((t) => groupCells.some((cell) => runsCell(t, cell.id)))) {
      try {
        running.set(name, await startTarget(name, upstreamJs, shape));
      } catch (error) {
        const message = (error as Error).message;
        console.error(`! ${name} did not start: ${message}`);
        for (const cell of groupCells.filter((c) => runsCell(name, c.id)))
          ((results[cell.id] ??= {})[name] ??= []).push({ error: message });
      }
    }
    // An unrecorded warm-up per target, so round 1 does not pay for JIT compilation and lazy start-up.
    const warmCell =
      groupCells.find((c) => c.kind === 'list') ?? CALL_CELLS.find((c) => c.id === 'echo-c10')!;
    for (const [name, target] of running) {
      await measureCell(warmCell, target, { ...timing, warmupMs: 0, durationMs: 2000 }).catch((error) =>
        console.error(`! warm-up of ${name} failed: ${(error as Error).message}`),
      );
    }
    for (let round = 0; round < rounds; round++) {
      for (const cell of groupCells) {
        // Rotate the order each round so no target always runs first (or right after the heaviest one).
        const order = [...running.keys()].map((_, i, all) => all[(i + round) % all.length]);
        for (const name of order.filter((t) => runsCell(t, cell.id))) {
          const slot = ((results[cell.id] ??= {})[name] ??= []);
          try {
            const result =
              cell.kind === 'idle'
                ? await measureIdleFresh(cell, name, shape)
                : await measureCell(cell, running.get(name)!, timing);
            slot.push(result);
            console.error(`[${round + 1}/${rounds}] ${cell.id} ${name}: ${summary(result)}`);
          } catch (error) {
            slot.push({ error: (error as Error).message });
            console.error(`[${round + 1}/${rounds}] ${cell.id} ${name}: FAILED ${(error as Error).message}`);
          }
        }
        // G8 and G10 compare with the bare gateway in alternating one-second slices (lib/slices.ts).
        const bare = running.get(BARE as TargetName);
        if (cell.kind !== 'call' || !bare) continue;
        for (const name of order.filter((t) => PAIRED.includes(t) && runsCell(t, cell.id))) {
          await measureSlices(cell, bare, running.get(name)!, name, results, timing);
          console.error(`[${round + 1}/${rounds}] ${cell.id} ${name}: slices beside ${BARE} done`);
        }
      }
    }
  } finally {
    await Promise.all([...running.values()].map((target) => target.stop()));
  }
}

/** Memory per idle session on a freshly started target, so garbage from earlier cells does not blur it. */
async function measureIdleFresh(cell: Cell, name: TargetName, shape: UpstreamShape) {
  const target = await startTarget(name, upstreamJs, shape);
  try {
    const warmCell = CALL_CELLS.find((c) => c.id === 'echo-c10')!;
    await measureCell(warmCell, target, { ...timing, warmupMs: 0, durationMs: 1500 });
    await setTimeout(1000);
    return await measureCell(cell, target, timing);
  } finally {
    await target.stop();
  }
}

function summary(result: Awaited<ReturnType<typeof measureCell>>): string {
  const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '—');
  switch (result.kind) {
    case 'call':
    case 'list':
      return `${f(result.callsPerSecond)} /s, p50 ${f(result.p50Ms, 2)} ms, p99 ${f(result.p99Ms, 2)} ms, CPU/call ${f(result.rootCpuPerCallUs)}/${f(result.treeCpuPerCallUs)} µs (proxy/tree; proxy user ${f(result.rootUserPerCallUs)}), errors ${result.errors}`;
    case 'setup':
      return `${f(result.perSecond)} sessions/s, p50 ${f(result.p50Ms, 2)} ms, CPU/session ${f(result.rootCpuPerSessionUs)}/${f(result.treeCpuPerSessionUs)} µs, errors ${result.errors}`;
    case 'idle':
      return `${result.sessions} sessions, ${f(result.rootKbPerSession, 1)}/${f(result.treeKbPerSession, 1)} KB each (proxy/tree), ${result.processesAfter} processes`;
  }
}

const startedAt = Date.now();
const mainCells = cells.filter((cell) => cell.kind !== 'list');
await runGroup(mainCells, targets, { extraTools: 0, upstreams: 1 });
// 20 upstreams x 50 tools for a gateway; one upstream with the same 1,000 tools for everyone else.
const listTargets = targets.filter((t) => t !== 'switchboard-http' && runsCell(t, 'list'));
await runGroup(
  cells.filter((cell) => cell.kind === 'list'),
  listTargets,
  { extraTools: 48, upstreams: 20 },
);
const elapsed = (Date.now() - startedAt) / 1000;
const failed = Object.values(results).some((byTarget) =>
  Object.values(byTarget).some((rounds) =>
    rounds.some((r) => 'error' in r || ('errors' in r && r.errors > 0)),
  ),
);
const logs = finishLogs(failed);
if (failed) console.error(`some measurements failed or saw errors; target logs and configs: ${logs}`);

const versionOf = (pkg: string) => {
  try {
    return JSON.parse(readFileSync(path.join(REPO_ROOT, 'node_modules', pkg, 'package.json'), 'utf8'))
      .version;
  } catch {
    return '?';
  }
};
const sections = [
  `# Switchboard benchmark${quick ? ' (quick)' : ''}`,
  [
    `${new Date().toISOString()} · ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'} · Node ${process.version}`,
    `SDK ${versionOf('@modelcontextprotocol/sdk')} · mcp-proxy ${versionOf('mcp-proxy')} · supergateway ${versionOf('supergateway')}`,
    `median of ${rounds} interleaved rounds · ${timing.warmupMs / 1000} s warm-up + ${timing.durationMs / 1000} s per cell · run took ${elapsed.toFixed(0)} s`,
    `command: \`npm run bench -- ${process.argv.slice(2).join(' ')}\``.replace(/ -- `$/, '`'),
  ].join('  \n'),
  'Client: raw keep-alive JSON-RPC over HTTP, C sessions each calling in a closed loop. "proxy" = the proxy process ' +
    '(for direct, the server); "tree" = every process of the target (proxy, upstream, per-session children), from /proc. ' +
    "direct = the upstream served by the SDK's own StreamableHTTPServerTransport. Compare ratios and CPU per call, not absolute rates: the machine is shared.",
];
if (cells.some((c) => c.kind === 'call'))
  sections.push('## tools/call (echo 100 B, payload 100 KB)', callTable(results, cells, targets));
if (cells.includes(SETUP_CELL))
  sections.push('## Session set-up (one after another)', setupTable(results, targets));
if (cells.includes(IDLE_CELL)) {
  sections.push(
    `## Memory per idle session (${timing.idleSessions} sessions; supergateway at most 20: it spawns a process per session)`,
    idleTable(results, targets),
  );
}
if (cells.includes(LIST_CELL)) {
  sections.push(
    '## tools/list of 1,000 tools (Switchboard: 20 stdio upstreams × 50 tools; others: one upstream with 1,000)',
    listTable(results, listTargets),
  );
}
const secured = securedTable(results, cells, targets);
if (secured) {
  sections.push(
    '## Policy, auth and Redis on, against the bare gateway (switchboard-stdio; same stdio upstream)',
    'Paired: the bare gateway and the target measured in alternating one-second slices (bare, target, target, ' +
      `bare, ...; ${PAIRS_PER_ROUND} pairs a round), the difference (or ratio) per pair, then the median; ` +
      '"rounds": the difference per round of the full cells instead. ' +
      'The secured targets run only the cells where policy and auth can cost something.',
    secured,
  );
}
const goals = goalsTable(results, targets);
if (goals)
  sections.push('## Switchboard against the goals ([docs/performance.md](../../docs/performance.md))', goals);
const markdown = sections.join('\n\n') + '\n';
console.log(markdown);

if (!quick && !flags['no-write']) {
  const dir = path.join(REPO_ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  writeFileSync(path.join(dir, 'latest.md'), markdown);
  writeFileSync(path.join(dir, `${stamp}.md`), markdown);
  writeFileSync(path.join(dir, 'latest.json'), JSON.stringify({ rounds, timing, targets, results }, null, 1));
  console.error(`written: bench/results/latest.md, bench/results/${stamp}.md, bench/results/latest.json`);
}

if (quick) {
  // The CI guard: Switchboard in front of a stdio upstream must not be slower than the SDK server alone.
  const ratio =
    med(results, 'echo-c10', 'switchboard-stdio', 'callsPerSecond') /
    med(results, 'echo-c10', 'direct', 'callsPerSecond');
  const enforce = process.env.BENCH_ENFORCE === '1';
  if (!Number.isFinite(ratio)) {
    // Not noise: a target that fails to start or to answer is a broken build.
    console.error('FAIL: the quick run could not measure both direct and switchboard-stdio (see above)');
    process.exit(1);
  } else if (ratio < 1.0) {
    const message = `Switchboard (stdio upstream) throughput at C=10 is ${ratio.toFixed(2)}× direct; expected ≥ 1.00×`;
    if (enforce) {
      console.error(`FAIL: ${message}`);
      process.exit(1);
    }
    console.error(`WARN: ${message} (set BENCH_ENFORCE=1 to fail on this)`);
  } else console.error(`OK: Switchboard (stdio upstream) throughput at C=10 is ${ratio.toFixed(2)}× direct`);
}
