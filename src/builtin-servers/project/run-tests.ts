// run_tests: runs the one test command configured for the server, as an argument vector without a shell,
// in its own process group so a timeout ends the whole tree, keeping only the tail of its output.
import { spawn } from 'node:child_process';
import { ToolError } from '../results.js';

export interface TestRun {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  output: string; // the last `maxOutputBytes` of stdout+stderr, interleaved as they arrived
  outputTruncated: boolean;
  durationMs: number;
}

export function runTestCommand(
  argv: string[],
  cwd: string,
  timeoutMs: number,
  maxOutputBytes: number,
  signal?: AbortSignal,
): Promise<TestRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      cwd,
      shell: false,
      detached: true, // a process group of its own: the timeout kills the runner and its workers
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    const collect = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > maxOutputBytes * 2) {
        // Keep memory bounded: retain only the newest maxOutputBytes.
        const all = Buffer.concat(chunks);
        chunks = [all.subarray(all.length - maxOutputBytes)];
        size = maxOutputBytes;
        truncated = true;
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    let timedOut = false;
    const killGroup = (sig: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    };
    const stop = () => {
      killGroup('SIGTERM');
      setTimeout(() => killGroup('SIGKILL'), 2000).unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, timeoutMs);
    signal?.addEventListener('abort', stop, { once: true });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(
        new ToolError(
          `could not start the test command ${JSON.stringify(argv[0])}: ${(err as NodeJS.ErrnoException).code ?? err.message}`,
        ),
      );
    });
    child.on('close', (exitCode, sig) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
      let all = Buffer.concat(chunks);
      if (all.length > maxOutputBytes) {
        all = all.subarray(all.length - maxOutputBytes);
        truncated = true;
      }
      resolve({
        exitCode,
        signal: sig,
        timedOut,
        output: all.toString('utf8'),
        outputTruncated: truncated,
        durationMs: Date.now() - started,
      });
    });
  });
}
