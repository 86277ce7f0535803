// How a stdio upstream's process tree is started and ended. `npx server` is a tree (npx, a shell, the real
// server), so each upstream runs in its own process group and every signal goes to the whole group.
import { spawn, type ChildProcess } from 'node:child_process';

/** Process groups exist on POSIX; on Windows the child alone is signalled. */
const GROUPED = process.platform !== 'win32';
/** How often a closing upstream checks whether its group has emptied. */
const POLL_MS = 20;

/**
 * Variables a child inherits from the gateway; everything else must be named in `env` (no secret leaks by
 * default). Proxy and CA variables are passed so `npx` and servers work behind a corporate proxy; NODE_OPTIONS
 * never is (it would load the gateway's preloads and flags into every server). The README lists these.
 */
export const INHERITED_ENV = [
  'HOME',
  'LOGNAME',
  'PATH',
  'SHELL',
  'TERM',
  'USER',
  'LANG',
  'LC_ALL',
  'TMPDIR',
  'TZ',
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'NODE_EXTRA_CA_CERTS',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
];

/** Groups still running; killed synchronously if the gateway exits without stopping them. */
const liveGroups = new Set<number>();
let exitHooked = false;

export function spawnInGroup(
  command: string,
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  cwd: string | undefined,
): ChildProcess {
  const childEnv: Record<string, string> = {};
  for (const key of INHERITED_ENV) if (process.env[key] !== undefined) childEnv[key] = process.env[key]!;
  Object.assign(childEnv, env);
  const child = spawn(command, [...args], {
    env: childEnv,
    cwd,
    stdio: ['pipe', 'pipe', 'pipe'],
    windowsHide: true,
    // Its own process group: the whole tree can be signalled at once, and a terminal's Ctrl-C reaches only
    // the gateway, which then stops its children in order.
    detached: GROUPED,
  });
  const pid = child.pid;
  if (GROUPED && pid) {
    liveGroups.add(pid);
    if (!exitHooked) {
      exitHooked = true;
      // The last resort when the gateway exits abruptly (process.exit, an uncaught exception): no orphans.
      process.on('exit', () => {
        for (const group of liveGroups) signal(group, 'SIGKILL');
      });
    }
  }
  return child;
}

/** Sends a signal to the child's whole group (or the child alone where groups do not exist). */
export function signalGroup(child: ChildProcess, sig: NodeJS.Signals): void {
  if (!child.pid) return;
  if (GROUPED) signal(child.pid, sig);
  else child.kill(sig);
}

/** Whether any process of the child's group still exists. */
export function groupAlive(child: ChildProcess): boolean {
  if (!child.pid) return false;
  if (!GROUPED) return child.exitCode === null && child.signalCode === null;
  try {
    process.kill(-child.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Resolves true once the group is empty, false after `ms`. */
export function waitGroupGone(child: ChildProcess, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const until = Date.now() + ms;
    const check = () => {
      if (!groupAlive(child)) return resolve(true);
      if (Date.now() >= until) return resolve(false);
      // Not unref'd: a polite stop should finish even when nothing else keeps the process alive.
      setTimeout(check, POLL_MS);
    };
    check();
  });
}

/** Forgets a group once it is empty, so the exit hook never signals a reused id. */
export function releaseGroup(child: ChildProcess): void {
  if (child.pid) liveGroups.delete(child.pid);
}

function signal(group: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-group, sig);
  } catch {
    // ESRCH: the group is already gone.
  }
}
