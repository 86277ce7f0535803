// Hot reload for `switchboard serve`: on SIGHUP or a change of the config file (watched, debounced) the file is
// read and validated; an invalid one is refused (logged, the running config kept), a valid one diffed against
// the running config (reload-diff.ts) and applied: upstreams, API keys, policy, endpoints and curation.
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { loadConfig, type GatewayConfig } from './config.js';
import { addLogSecrets } from './logger.js';
import { configSecrets } from './redact.js';
import { configDiff, describeDiff, type ConfigDiff } from './reload-diff.js';
import type { Runtime } from './runtime.js';

/** Editors save in bursts (truncate, write, rename): one reload for the burst, once it is quiet this long. */
const DEBOUNCE_MS = 200;

export interface Reloader {
  /** Reads, validates and applies the file now; resolves once done (never rejects: failures are logged). */
  reload(): Promise<void>;
  close(): void;
}

/** Watches `file` and listens for SIGHUP; each reload runs after the one before has finished. */
export function watchConfig(app: FastifyInstance, file: string, log: Logger): Reloader {
  const runtime: Runtime = app.runtime;
  let running: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const reload = () => (running = running.then(() => reloadOnce(app, runtime, file, log)));
  const soon = () => {
    clearTimeout(timer);
    timer = setTimeout(() => void reload(), DEBOUNCE_MS);
  };
  // The directory, not the file: an editor that saves by renaming a new file over the old one replaces the
  // inode a file watch would follow, and a Kubernetes ConfigMap volume swaps its `..data` link instead.
  const name = path.basename(file);
  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(path.dirname(path.resolve(file)), (_event, changed) => {
      if (changed === null || changed === name || changed.startsWith('..')) soon();
    });
    // The watch alone never keeps the process up: shutdown is the signals' business (drain.ts).
    watcher.unref();
    watcher.on('error', (error) => log.warn({ err: error }, 'config watch failed; reload with SIGHUP'));
  } catch (error) {
    log.warn({ err: error }, 'cannot watch the config file; reload with SIGHUP');
  }
  const onHangup = () => {
    log.info('SIGHUP: reloading the config');
    void reload();
  };
  process.on('SIGHUP', onHangup);
  return {
    reload,
    close() {
      clearTimeout(timer);
      watcher?.close();
      process.off('SIGHUP', onHangup);
    },
  };
}

async function reloadOnce(app: FastifyInstance, runtime: Runtime, file: string, log: Logger): Promise<void> {
  let next: GatewayConfig;
  try {
    next = loadConfig(file, process.env, { fromCommand: true });
  } catch (error) {
    // The message names the file and the bad key (`upstreams.x.comand: unknown key`).
    log.error(`config reload refused, the running config is kept: ${(error as Error).message}`);
    return;
  }
  const running = runtime.config;
  const diff = configDiff(running, next);
  const changes = describeDiff({ ...diff, restartOnly: [] });
  for (const key of diff.restartOnly)
    log.warn({ key }, `config reload: ${key} changed but applies only on restart; the running value is kept`);
  if (changes.length === 0) {
    log.debug('config reload: nothing to apply');
    return;
  }
  // Credentials the new config names never reach a log line, as at start-up.
  addLogSecrets(log, configSecrets(next), next.logging.redact);
  const applied = applicable(running, next, diff);
  try {
    await runtime.applyConfig(applied, diff.upstreams);
  } catch (error) {
    log.error(`config reload refused, the running config is kept: ${(error as Error).message}`);
    return;
  }
  app.inboundAuth?.apiKeys.replace(applied.auth?.apiKeys ?? []);
  log.info({ changes }, 'config reloaded');
}

/**
 * The config the gateway runs after the reload: the new file, with the keys only a restart applies kept as they
 * run (so the next reload still names them, and nothing reads a value that is not in force).
 */
function applicable(running: GatewayConfig, next: GatewayConfig, diff: ConfigDiff): GatewayConfig {
  const kept: Record<string, unknown> = { ...next };
  for (const key of diff.restartOnly) {
    const [top, sub] = key.split(/[. ]/, 2);
    if (top === 'endpoints') continue;
    if (top === 'auth' && sub !== undefined && running.auth && next.auth)
      kept.auth = { ...(kept.auth as object), [sub]: (running.auth as Record<string, unknown>)[sub] };
    else kept[top] = (running as Record<string, unknown>)[top];
  }
  // Where relative paths resolve and which variables were expanded: the new file's.
  for (const hidden of ['baseDir', 'expandedEnv', 'file'])
    Object.defineProperty(kept, hidden, {
      value: (next as unknown as Record<string, unknown>)[hidden],
      enumerable: false,
    });
  return kept as GatewayConfig;
}
