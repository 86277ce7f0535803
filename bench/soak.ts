// `npm run soak` (not in CI): 50 SDK clients call through the gateway into a fault-injecting stdio upstream
// (crash, hang, garbage, huge, drip, flood at ~2% each) for 10 minutes; fails if the gateway dies, its RSS
// passes the bound, or errors exceed the injected ones by more than 0.1% of calls. Writes bench/results/soak-latest.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { FAULTS, type Fault } from '../test/fixtures/servers/fault-server.js';
import { REPO_ROOT } from './lib/compile.js';
import { probe, runLoad } from './lib/soak-clients.js';
import { SoakGateway } from './lib/soak-gateway.js';
import { report } from './lib/soak-report.js';

const INJECTABLE = FAULTS.filter((fault) => fault !== 'none');
const USAGE = `usage: npm run soak -- [--minutes 10] [--clients 50] [--rate 0.02] [--faults ${INJECTABLE.join(',')}]
  [--scope session|shared] [--upstreams 1] [--timeout-ms 2000] [--max-rss-mib 384]
  [--huge-kib 1024] [--result-cap-kib 2048] [--line-limit-kib 4096]
  [--flood 600] [--drip-ms 1000] [--seed 1] [--log-level warn] [--no-write]`;

function fail(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

const { values: flags } = (() => {
  try {
    return parseArgs({
      options: {
        minutes: { type: 'string', default: '10' },
        clients: { type: 'string', default: '50' },
        rate: { type: 'string', default: '0.02' },
        faults: { type: 'string', default: INJECTABLE.join(',') },
        scope: { type: 'string', default: 'session' },
        upstreams: { type: 'string', default: '1' },
        'timeout-ms': { type: 'string', default: '2000' },
        'max-rss-mib': { type: 'string', default: '384' },
        'huge-kib': { type: 'string', default: '1024' },
        'result-cap-kib': { type: 'string', default: '2048' },
        'line-limit-kib': { type: 'string', default: '4096' },
        flood: { type: 'string', default: '600' },
        'drip-ms': { type: 'string', default: '1000' },
        seed: { type: 'string', default: '1' },
        'log-level': { type: 'string', default: 'warn' },
        'no-write': { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
  } catch (error) {
    fail((error as Error).message);
  }
})();
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}

function positive(name: string, integer = true): number {
  const text = flags[name as keyof typeof flags] as string;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value)))
    fail(`--${name} needs a positive ${integer ? 'whole ' : ''}number, got "${text}"`);
  return value;
}

const minutes = positive('minutes', false);
const clients = positive('clients');
const rate = positive('rate', false);
const faults = flags.faults
  .split(',')
  .map((f) => f.trim())
  .filter(Boolean) as Fault[];
const unknown = faults.filter((f) => !INJECTABLE.includes(f as never));
if (unknown.length) fail(`--faults: unknown ${unknown.join(', ')} (known: ${INJECTABLE.join(', ')})`);
if (rate * faults.length >= 1) fail(`--rate ${rate} x ${faults.length} faults leaves no plain calls`);
if (flags.scope !== 'session' && flags.scope !== 'shared')
  fail(`--scope: session or shared, got "${flags.scope}"`);
const scope = flags.scope;
const upstreams = positive('upstreams');
const timeoutMs = positive('timeout-ms');
const maxRssMiB = positive('max-rss-mib');
const hugeBytes = positive('huge-kib') * 1024;
const resultCapBytes = positive('result-cap-kib') * 1024;
const lineLimitBytes = positive('line-limit-kib') * 1024;
if (!(hugeBytes < resultCapBytes && resultCapBytes < lineLimitBytes))
  fail('need --huge-kib < --result-cap-kib < --line-limit-kib: huge calls come in one size under each');
const floodCount = positive('flood');
const dripMs = positive('drip-ms');
const seed = positive('seed');
if (dripMs >= timeoutMs)
  fail(`--drip-ms ${dripMs} must stay under --timeout-ms ${timeoutMs}: a drip should succeed`);

const gateway = new SoakGateway({
  scope,
  upstreams,
  timeoutMs,
  logLevel: flags['log-level'],
  clients,
  resultCapBytes,
  lineLimitBytes,
});
let gatewayDown = false;
const startedAt = new Date();
console.error(`soak: ${clients} clients for ${minutes} min, faults ${faults.join(',')} at ${rate} each`);
try {
  await gateway.start(() => {
    gatewayDown = true;
    console.error(`soak: the gateway DIED (code ${gateway.died?.code}, signal ${gateway.died?.signal})`);
  });
} catch (error) {
  console.error(`soak: ${(error as Error).message}`);
  await gateway.stop();
  process.exit(1);
}
console.error(`soak: gateway pid ${gateway.pid} at ${gateway.url.href}; log ${gateway.log}`);
// Interrupted: take the gateway and its upstreams down with us rather than leave them running.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`soak: ${signal}, stopping the gateway`);
    void gateway.stop().finally(() => process.exit(130));
  });
}

const progress = setInterval(() => {
  const rss = (gateway.lastRssKb / 1024).toFixed(0);
  console.error(`soak: ${((Date.now() - startedAt.getTime()) / 1000).toFixed(0)} s, gateway RSS ${rss} MiB`);
}, 30_000);
const t0 = Date.now();
const loadAtStart = os.loadavg()[0];
const ownCpuAtStart = process.cpuUsage();
// A stall in this process would read as a slow gateway; measuring it tells the two apart.
const loop = monitorEventLoopDelay({ resolution: 20 });
loop.enable();
const tally = await runLoad(
  {
    url: gateway.url,
    clients,
    durationMs: minutes * 60_000,
    rate,
    faults,
    seed,
    timeoutMs,
    hugeBytes,
    resultCapBytes,
    lineLimitBytes,
    floodCount,
    dripMs,
    toolName: (client) => gateway.toolName(client),
    lane: (client) => gateway.lane(client),
  },
  () => gatewayDown,
);
const elapsedMs = Date.now() - t0;
loop.disable();
const ownCpu = process.cpuUsage(ownCpuAtStart);
const gatewayCpu = gateway.lastCpuS;
clearInterval(progress);

// Every client has sent DELETE: per-session upstreams should be gone, leaving the shared ones.
const probeError = gatewayDown ? 'the gateway is not running' : await probe(gateway.url, gateway.toolName(0));
await sleep(2000);
const afterClientsLeft = gateway.upstreamProcesses().length;
const rssKb = { max: gateway.maxRssKb, last: gateway.lastRssKb, byMinute: gateway.rssByMinute };
const maxProcesses = gateway.maxProcesses;
const stopped = await gateway.stop();
const { markdown, pass } = await report(tally, {
  startedAt,
  elapsedMs,
  settings: {
    clients,
    minutes,
    'rate per fault': rate,
    faults: faults.join(' '),
    scope,
    upstreams,
    'upstream timeout': `${timeoutMs} ms`,
    huge: `${hugeBytes / 1024} KiB, result cap ${resultCapBytes / 1024} KiB, line limit ${lineLimitBytes / 1024} KiB`,
    flood: `${floodCount} notifications`,
    drip: `${dripMs} ms`,
    seed,
  },
  rate,
  faults,
  upstreams,
  maxRssMiB,
  rssKb,
  processes: { max: maxProcesses, afterClientsLeft, leftAfterStop: stopped.leftBehind },
  died: gateway.died && {
    code: gateway.died.code,
    signal: gateway.died.signal,
    afterMs: gateway.died.at - t0,
    tail: gateway.tail(40),
  },
  exit: stopped,
  probe: probeError,
  logFile: gateway.log,
  load: {
    gatewayCpuS: gatewayCpu,
    clientCpuS: (ownCpu.user + ownCpu.system) / 1e6,
    clientLoopP99Ms: loop.percentile(99) / 1e6,
    clientLoopMaxMs: loop.max / 1e6,
    healthMs: gateway.healthMs,
    healthFailures: gateway.healthFailures,
    loadAverage: [loadAtStart, os.loadavg()[0]],
    cores: os.availableParallelism(),
  },
});
console.log(markdown);
if (!flags['no-write']) {
  const file = path.join(REPO_ROOT, 'bench', 'results', 'soak-latest.md');
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, markdown);
  console.error(
    `soak: wrote ${path.relative(REPO_ROOT, file)}; gateway log and config kept in ${gateway.dir}`,
  );
}
process.exit(pass ? 0 : 1);
