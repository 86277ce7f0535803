// Runs the external validators the deploy tests rely on (kubectl, docker-compose, haproxy); a missing one
// fails the test with the way to install it, never skips it.
import { spawnSync } from 'node:child_process';

const INSTALL: Record<string, string> = {
  kubectl: 'kubectl ships with the node-svc machine image (not in Debian bookworm)',
  'docker-compose': 'apt-get install -y docker-compose',
  haproxy: 'apt-get install -y haproxy',
};

export interface ToolResult {
  status: number;
  stdout: string;
  stderr: string;
}

export function runTool(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): ToolResult {
  const result = spawnSync(command, args, { env, encoding: 'utf8', timeout: 60_000 });
  if (result.error) {
    throw new Error(`${command} could not run (${result.error.message}); install: ${INSTALL[command]}`);
  }
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}
