// What policy, auth and shared sessions cost: each secured target and switchboard-redis next to the bare gateway
// (switchboard-stdio, same upstream), with the CPU difference and the rate ratio taken per pair of alternating
// one-second slices (lib/slices.ts; per round where a run has none) before the median, so a slow stretch of the
// shared machine moves both figures together instead of showing up as a difference.
import type { Cell } from './cells.js';
import { median } from './median.js';
import type { Results } from './report.js';
import { benchSampling, securedParts } from './secured.js';
import { bareSliceKey, sliceKey } from './slices.js';

export const BARE = 'switchboard-stdio';
export const SECURED = [
  'switchboard-policy',
  'switchboard-apikey',
  'switchboard-jwt',
  'switchboard-g8',
  'switchboard-secured',
];
/** The bare gateway with `redis:` on (one replica): what sharing sessions through Redis costs per call (G10). */
export const SHARED = ['switchboard-redis'];

const WHAT: Record<string, string> = {
  'switchboard-policy': '`policy:` of 20 rules + audit log (flush)',
  'switchboard-apikey': 'API-key auth',
  'switchboard-jwt': 'JWT auth (RS256, verified once per token, then cached)',
  'switchboard-g8': 'G8 as defined: API key + 50 rules (CEL) + audit (flush) + metrics',
  'switchboard-secured': `API key + 50 rules (CEL, limits, guard) + edge limit + audit (flush) + tracing ${benchSampling()} + metrics`,
  'switchboard-redis': '`redis:` on the local Redis (sessions shared; one replica)',
};

function med(results: Results, cell: string, target: string, field: string): number {
  const rounds = results[cell]?.[target] ?? [];
  return median(rounds.map((r) => (r as unknown as Record<string, number>)[field]));
}

function paired(results: Results, cell: string, target: string, base: string, field: string) {
  const ours = results[cell]?.[target] ?? [];
  const theirs = results[cell]?.[base] ?? [];
  const value = (r: unknown) => (r as Record<string, number> | undefined)?.[field] ?? NaN;
  return ours.map((r, i) => [value(r), value(theirs[i])] as const);
}

/**
 * A target's figure over the bare gateway, median of the differences: from the alternating slices where the run
 * measured them (lib/slices.ts), else from the rounds.
 */
export function overBare(results: Results, cell: string, target: string, field: string, ratio = false) {
  const sliced = (results[cell]?.[sliceKey(target)]?.length ?? 0) > 0;
  const [ours, base] = sliced ? [sliceKey(target), bareSliceKey(target)] : [target, BARE];
  return (ratio ? pairedRatio : pairedDelta)(results, cell, ours, base, field);
}

/** The median over rounds of (target - base) for one field, pairing the rounds both measured. */
function pairedDelta(results: Results, cell: string, target: string, base: string, field: string) {
  return median(paired(results, cell, target, base, field).map(([a, b]) => a - b));
}

/** The median over rounds of target / base: a round where the whole machine was slow cancels out. */
function pairedRatio(results: Results, cell: string, target: string, base: string, field: string) {
  return median(paired(results, cell, target, base, field).map(([a, b]) => (b > 0 ? a / b : NaN)));
}

const fmt = (value: number, digits = 0) =>
  Number.isFinite(value)
    ? value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '—';
const signed = (value: number, digits = 0) =>
  Number.isFinite(value) ? `${value >= 0 ? '+' : '−'}${fmt(Math.abs(value), digits)}` : '—';
const ratio = (value: number) => (Number.isFinite(value) ? `${value.toFixed(2)}×` : '—');
const times = (a: number, b: number) => (b > 0 && Number.isFinite(a / b) ? `${(a / b).toFixed(2)}×` : '—');

/** One row per secured or shared-session target and cell it ran; empty when none ran. */
export function securedTable(results: Results, cells: Cell[], targets: string[]): string {
  const rows: string[][] = [];
  for (const target of [...SECURED, ...SHARED].filter((t) => targets.includes(t))) {
    for (const cell of cells.filter((c) => c.kind === 'call' || c.kind === 'list')) {
      if (!results[cell.id]?.[target]) continue;
      const m = (t: string, field: string) => med(results, cell.id, t, field);
      const list = cell.kind === 'list';
      rows.push([
        target,
        target === 'switchboard-secured' && securedParts().size
          ? `${WHAT[target]}, without ${[...securedParts()].join(', ')} (BENCH_OFF)`
          : WHAT[target],
        cell.id.replace('-c', ' C='),
        fmt(m(target, 'callsPerSecond')),
        ratio(overBare(results, cell.id, target, 'callsPerSecond', true)),
        list ? '—' : times(m(target, 'callsPerSecond'), m('direct', 'callsPerSecond')),
        fmt(m(target, 'p50Ms'), 2),
        signed(overBare(results, cell.id, target, 'p50Ms'), 2),
        fmt(m(target, 'rootCpuPerCallUs')),
        fmt(m(BARE, 'rootCpuPerCallUs')),
        signed(overBare(results, cell.id, target, 'rootCpuPerCallUs'), 1),
        signed(overBare(results, cell.id, target, 'rootUserPerCallUs'), 1),
        list ? '—' : signed(pairedDelta(results, cell.id, target, BARE, 'rootCpuPerCallUs')),
      ]);
    }
  }
  if (rows.length === 0) return '';
  const header = [
    'target',
    'on',
    'cell',
    'calls/s',
    `× ${BARE} (paired)`,
    '× direct',
    'p50 ms',
    'p50 vs bare ms',
  ];
  header.push(
    'CPU/call proxy µs',
    'bare µs',
    'CPU vs bare µs (paired)',
    'of it user µs (paired)',
    'CPU vs bare µs (rounds)',
  );
  const align = header.map((_, i) => (i < 3 ? '---' : '---:'));
  return [header, align, ...rows].map((row) => `| ${row.join(' | ')} |`).join('\n');
}
