// The gateway CLI under valgrind's callgrind, for bench/instructions.ts (named as BENCH_CLI): counting starts off
// and is switched on with callgrind_control once the gateway is warm. Plain JS: BENCH_CLI is run by node itself.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const out = process.env.BENCH_CALLGRIND_OUT;
const cli = process.env.BENCH_CALLGRIND_CLI;
if (!out || !cli)
  throw new Error('callgrind-cli.mjs: BENCH_CALLGRIND_OUT and BENCH_CALLGRIND_CLI must be set');
const child = spawn(
  'valgrind',
  [
    '--tool=callgrind',
    '--instr-atstart=no',
    // V8 writes and rewrites machine code on the heap: valgrind must notice it changed.
    '--smc-check=all-non-file',
    `--callgrind-out-file=${out}`,
    process.execPath,
    cli,
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit' },
);
// valgrind runs the tool in its own process (same pid): callgrind_control needs that pid.
writeFileSync(`${out}.pid`, String(child.pid));
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
