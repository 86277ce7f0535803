// The soak's verdict and its Markdown summary: expected vs unexpected errors (failed calls that overlap an
// injected crash on the same upstream counted apart as collateral), RSS, the gateway's fate and its log.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Fault } from '../../test/fixtures/servers/fault-server.js';
import { normalise, type Failure, type Label, type Tally } from './soak-clients.js';

export interface RunFacts {
  startedAt: Date;
  elapsedMs: number;
  settings: Record<string, string | number>;
  rate: number;
  faults: Fault[];
  /** Shared upstream processes that stay when no session is open. */
  upstreams: number;
  maxRssMiB: number;
  rssKb: { max: number; last: number; byMinute: number[] };
  processes: { max: number; afterClientsLeft: number; leftAfterStop: number };
  died?: { code: number | null; signal: string | null; afterMs: number; tail: string };
  exit?: { code: number | null; signal: string | null; stopMs: number };
  probe?: string;
  logFile: string;
  /** How busy things were, to read the latencies by: a shared machine's load shows in every figure. */
  load: {
    gatewayCpuS: number;
    clientCpuS: number;
    clientLoopP99Ms: number;
    clientLoopMaxMs: number;
    healthMs: number[];
    healthFailures: number;
    loadAverage: number[];
    cores: number;
  };
}

export type Kind = 'unexpected' | 'in flight at a crash' | 'during recovery from a crash';

/** A failed `none` call is collateral when it overlaps an injected crash's outage on the same lane. */
export function classify(failure: Failure, tally: Tally): Kind {
  if (failure.wrong) return 'unexpected';
  for (const outage of tally.outages.get(failure.lane) ?? []) {
    if (failure.start >= outage.end || failure.end <= outage.start) continue;
    return failure.start < outage.crashEnd ? 'in flight at a crash' : 'during recovery from a crash';
  }
  return 'unexpected';
}

function grouped(messages: string[]): [string, number, string][] {
  const groups = new Map<string, [string, number, string]>();
  for (const message of messages) {
    const key = normalise(message);
    const group = groups.get(key) ?? [key, 0, message.slice(0, 300)];
    group[1]++;
    groups.set(key, group);
  }
  return [...groups.values()].sort((a, b) => b[1] - a[1]);
}

/** Warnings and errors in the gateway's log, grouped by message. */
async function logGroups(file: string): Promise<[string, number, string][]> {
  const messages: string[] = [];
  // Consecutive lines that are not JSON (a stack trace, a Node warning) make one message.
  let block: string[] = [];
  const endBlock = () => {
    if (block.length) messages.push(`(not JSON) ${block.slice(0, 4).join(' / ').slice(0, 300)}`);
    block = [];
  };
  const lines = createInterface({ input: createReadStream(file) });
  for await (const line of lines) {
    let entry: any;
    try {
      entry = JSON.parse(line);
    } catch {
      if (line.trim() && !/^switchboard (listening|: SIG)/.test(line)) block.push(line.trim());
      continue;
    }
    endBlock();
    if (typeof entry?.level !== 'number' || entry.level < 40) continue;
    const level = entry.level >= 60 ? 'FATAL' : entry.level >= 50 ? 'ERROR' : 'WARN';
    const detail = entry.err?.message ?? entry.error ?? '';
    messages.push(`${level} ${entry.msg ?? ''}${detail ? `: ${String(detail).slice(0, 160)}` : ''}`);
  }
  endBlock();
  return grouped(messages);
}

const pct = (n: number, d: number) => (d === 0 ? '0%' : `${((100 * n) / d).toFixed(3)}%`);
const mib = (kb: number) => (kb / 1024).toFixed(1);
const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s+/g, ' ');

function quantile(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : 0;
}

export async function report(tally: Tally, facts: RunFacts): Promise<{ markdown: string; pass: boolean }> {
  let calls = 0;
  let injected = 0;
  let errors = 0;
  for (const [fault, stats] of tally.byFault) {
    calls += stats.calls;
    errors += stats.errors;
    if (fault !== 'none') injected += stats.calls;
  }
  const byKind = new Map<Kind, Failure[]>();
  for (const failure of tally.failures) {
    const kind = classify(failure, tally);
    const list = byKind.get(kind);
    if (list) list.push(failure);
    else byKind.set(kind, [failure]);
  }
  const unexpected = byKind.get('unexpected') ?? [];
  // Errors on calls that asked for a fault, except a wrong answer (never explained by a fault).
  const expectedErrors = errors - tally.failures.filter((f) => f.fault === 'none' || f.wrong).length;
  const unexpectedRate = calls === 0 ? 1 : unexpected.length / calls;
  const reasons: string[] = [];
  if (facts.died) reasons.push(`the gateway died (${facts.died.code ?? facts.died.signal})`);
  if (unexpectedRate > 0.001) reasons.push(`unexpected error rate ${pct(unexpected.length, calls)} > 0.1%`);
  if (facts.rssKb.max > facts.maxRssMiB * 1024)
    reasons.push(`gateway RSS ${mib(facts.rssKb.max)} MiB > ${facts.maxRssMiB} MiB`);
  if (tally.sessionErrors.length)
    reasons.push(`${tally.sessionErrors.length} client(s) could not open a session`);
  if (facts.probe) reasons.push(`a fresh client failed after the run: ${facts.probe}`);
  const pass = reasons.length === 0;
  // Not part of the verdict the issue sets, but a cap that lets an oversized answer through is worth a line.
  const warnings: string[] = [];
  for (const [label, limit] of [
    ['huge>cap', 'maxResultBytes'],
    ['huge>line', 'maxLineBytes'],
  ] as const) {
    const ok = tally.byFault.get(label)?.ok ?? 0;
    if (ok) warnings.push(`${ok} ${label} call(s) succeeded: the upstream's ${limit} did not hold`);
  }
  const { exit, processes } = facts;
  if (exit && (exit.code !== 0 || exit.stopMs > 5000))
    warnings.push(
      `after SIGTERM the gateway took ${exit.stopMs} ms to exit, with ${exit.code ?? exit.signal}`,
    );
  if (processes.afterClientsLeft > facts.upstreams || processes.leftAfterStop > 0)
    warnings.push(
      `upstream processes outlived their sessions (${processes.afterClientsLeft} after the clients left) or the gateway (${processes.leftAfterStop})`,
    );

  const out: string[] = [];
  const seconds = facts.elapsedMs / 1000;
  out.push(`# Soak, ${facts.startedAt.toISOString()}`, '');
  out.push(`**${pass ? 'PASS' : 'FAIL'}**${pass ? '' : `: ${reasons.join('; ')}`}`, '');
  for (const warning of warnings) out.push(`WARN: ${warning}`, '');
  out.push(
    `Settings: ${Object.entries(facts.settings)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}.`,
    '',
  );
  out.push('| figure | value |', '|---|---|');
  out.push(`| calls | ${calls} in ${seconds.toFixed(0)} s (${(calls / seconds).toFixed(0)}/s) |`);
  out.push(
    `| injected faults | ${injected} (${pct(injected, calls)}; asked ${pct(facts.rate * facts.faults.length, 1)}) |`,
  );
  out.push(`| errors, all | ${errors} (${pct(errors, calls)}) |`);
  out.push(`| errors on injected faults (expected) | ${expectedErrors} |`);
  for (const kind of ['in flight at a crash', 'during recovery from a crash'] as const)
    out.push(`| collateral: plain calls failed ${kind} | ${byKind.get(kind)?.length ?? 0} |`);
  out.push(
    `| **unexpected errors** | **${unexpected.length} (${pct(unexpected.length, calls)}; bound 0.1%)** |`,
  );
  out.push(
    `| gateway RSS max / at end | ${mib(facts.rssKb.max)} / ${mib(facts.rssKb.last)} MiB (bound ${facts.maxRssMiB} MiB) |`,
  );
  out.push(
    `| upstream processes: max / after clients left / left after stop | ${facts.processes.max} / ${facts.processes.afterClientsLeft} / ${facts.processes.leftAfterStop} |`,
  );
  const fate = facts.died
    ? `**died** after ${(facts.died.afterMs / 1000).toFixed(1)} s (code ${facts.died.code}, signal ${facts.died.signal})`
    : `yes; after SIGTERM it exited in ${facts.exit?.stopMs} ms with ${facts.exit?.code ?? facts.exit?.signal}`;
  out.push(`| gateway alive | ${fate} |`);
  out.push(`| fresh client after the run | ${facts.probe ? cell(facts.probe) : 'ok'} |`);
  out.push(`| progress notifications received (flood) | ${tally.progressReceived} |`);
  const { load } = facts;
  const health = Float64Array.from(load.healthMs).sort();
  const healthFailed = load.healthFailures ? `, ${load.healthFailures} failed` : '';
  out.push(
    `| gateway \`GET /healthz\` each second: p50 / max | ${quantile(Array.from(health), 0.5).toFixed(1)} / ${quantile(Array.from(health), 1).toFixed(0)} ms${healthFailed} |`,
  );
  out.push(
    `| CPU: gateway / load generator | ${load.gatewayCpuS.toFixed(1)} s / ${load.clientCpuS.toFixed(1)} s (${(load.gatewayCpuS / seconds).toFixed(2)} / ${(load.clientCpuS / seconds).toFixed(2)} cores) |`,
  );
  out.push(
    `| load generator event-loop delay p99 / max | ${load.clientLoopP99Ms.toFixed(0)} / ${load.clientLoopMaxMs.toFixed(0)} ms |`,
  );
  out.push(
    `| machine load average at start / end (${load.cores} cores) | ${load.loadAverage.map((l) => l.toFixed(1)).join(' / ')} |`,
    '',
  );

  out.push(
    '## Per fault',
    '',
    '| fault | calls | ok | errors | p50 ms | p99 ms | max ms | most common error |',
  );
  out.push('|---|---:|---:|---:|---:|---:|---:|---|');
  const labels = ['none', ...facts.faults].flatMap((f) =>
    f === 'huge' ? ['huge', 'huge>cap', 'huge>line'] : f === 'hang' ? ['hang', 'hang>cancel'] : [f],
  );
  for (const fault of labels as Label[]) {
    const stats = tally.byFault.get(fault);
    if (!stats) continue;
    const sorted = Float64Array.from(stats.ms).sort();
    const top = [...stats.messages.values()].sort((a, b) => b.count - a.count)[0];
    const msg = top ? `${top.count}x ${cell(top.example.slice(0, 120))}` : '';
    const q = (x: number) => quantile(Array.from(sorted), x).toFixed(0);
    out.push(
      `| ${fault} | ${stats.calls} | ${stats.ok} | ${stats.errors} | ${q(0.5)} | ${q(0.99)} | ${q(1)} | ${msg} |`,
    );
  }
  out.push('');
  for (const kind of ['unexpected', 'in flight at a crash', 'during recovery from a crash'] as const) {
    const list = byKind.get(kind);
    if (!list?.length) continue;
    out.push(
      `## ${kind === 'unexpected' ? 'Unexpected errors' : `Collateral: ${kind}`}`,
      '',
      '| count | message |',
      '|---:|---|',
    );
    for (const [, count, example] of grouped(list.map((f) => `[${f.fault}] ${f.message}`)).slice(0, 15))
      out.push(`| ${count} | ${cell(example)} |`);
    out.push('');
  }
  if (tally.sessionErrors.length)
    out.push(
      '## Sessions that could not open',
      '',
      ...tally.sessionErrors.slice(0, 10).map((e) => `- ${e}`),
      '',
    );
  const logs = await logGroups(facts.logFile);
  out.push('## Gateway log, warnings and errors', '');
  if (logs.length === 0) out.push('(none)');
  else {
    out.push('| count | message |', '|---:|---|');
    for (const [, count, example] of logs.slice(0, 15)) out.push(`| ${count} | ${cell(example)} |`);
  }
  out.push(
    '',
    '## Memory by minute',
    '',
    '| minute | gateway max RSS MiB | calls finished |',
    '|---:|---:|---:|',
  );
  facts.rssKb.byMinute.forEach((kb, minute) =>
    out.push(`| ${minute + 1} | ${mib(kb)} | ${tally.callsByMinute[minute] ?? 0} |`),
  );
  if (facts.died) out.push('', "## The gateway's last log lines", '', '```', facts.died.tail, '```');
  out.push('');
  return { markdown: out.join('\n'), pass };
}
