// Which upstreams are pinned and how (each upstream's `pinning:` and `poisoning:`, with their defaults), and where
// pins are kept (Redis when configured, else a file beside the config or `pins.file`; none: memory only).
import path from 'node:path';
import { configBaseDir, configFile, upstreamKind, type GatewayConfig } from '../config.js';
import type { PinBackend } from './pins-definition.js';
import { PinFile } from './pins-file.js';
import { PinRedis } from './pins-redis.js';
import type { SharedRedis } from './redis.js';

export const PINS_FILE_NAME = 'switchboard.pins.json';

export interface UpstreamPinning {
  /** undefined: pinning off (nothing recorded or checked). */
  readonly newTools?: 'trust' | 'quarantine';
  readonly poisoning: 'warn' | 'quarantine';
}

/**
 * Each enabled upstream's pinning. Unset, pinning is on (`newTools: trust`) for a config the switchboard command
 * read from a file (serve, stdio: pins beside it) or one that names `pins.file`; a config built or loaded by a
 * program (tests, embedding) pins only the upstreams that ask. Built-in servers are left out unless asked: they
 * are Switchboard's own code, and pinning them would only quarantine their tools on every upgrade.
 */
export function pinSettings(config: GatewayConfig): Map<string, UpstreamPinning> {
  const lasting = configFile(config) !== undefined || config.pins?.file !== undefined;
  const settings = new Map<string, UpstreamPinning>();
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    if (!upstream.enabled) continue;
    const pinning =
      upstream.pinning ?? (lasting && upstreamKind(upstream) !== 'builtin' ? { newTools: 'trust' } : 'off');
    settings.set(name, {
      newTools: pinning === 'off' ? undefined : pinning.newTools,
      poisoning: upstream.poisoning ?? 'warn',
    });
  }
  return settings;
}

/** Where pins are kept: Redis when configured, else `pins.file`, else beside the config file; none: memory. */
export function pinBackend(config: GatewayConfig, redis: SharedRedis | undefined): PinBackend | undefined {
  if (redis) return new PinRedis(redis);
  const file = config.pins?.file ?? configFile(config);
  if (file === undefined) return undefined;
  const folder = config.pins?.file ? configBaseDir(config) : path.dirname(file);
  return new PinFile(path.resolve(folder, config.pins?.file ?? PINS_FILE_NAME));
}
