// `switchboard check --diff --config NEW --against RUNNING`: what a reload of NEW would change in a gateway that
// runs RUNNING (the file it last loaded). Validates both files; connects to nothing.
import { loadConfig } from './config.js';
import { configDiff, describeDiff } from './reload-diff.js';

/** Prints one line per change (or that there is none); returns the exit code. An invalid file throws. */
export function checkDiff(configFile: string, againstFile: string): number {
  const running = loadConfig(againstFile, process.env, { fromCommand: true });
  const next = loadConfig(configFile, process.env, { fromCommand: true });
  const lines = describeDiff(configDiff(running, next));
  process.stdout.write(lines.length ? lines.map((line) => `${line}\n`).join('') : 'no changes\n');
  return 0;
}
