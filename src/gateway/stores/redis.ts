// The one Redis connection a gateway shares among its stores (rate-limit counters today), from `redis:`:
// created on first use, so a config that names Redis but nothing that needs it never connects; closed with
// the gateway. An outage is logged once as it starts and once as it ends, never per call.
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

export interface RedisSettings {
  readonly url: string;
  /** Put in front of every key a store writes. */
  readonly keyPrefix: string;
}

/**
 * How long a connection attempt and a command may take. The stores fall back to this process's own memory
 * when Redis does not answer: a call must not wait for a dead Redis longer than a blink.
 */
const CONNECT_TIMEOUT_MS = 2000;
const COMMAND_TIMEOUT_MS = 1000;

export class SharedRedis {
  private client?: Redis;
  private settledOnce?: Promise<void>;
  private down = false;
  private closing?: Promise<void>;
  /** host:port only: the URL may carry a password. */
  private readonly where: string;

  constructor(
    readonly settings: RedisSettings,
    private readonly log: Logger,
  ) {
    this.where = new URL(settings.url).host;
  }

  get keyPrefix(): string {
    return this.settings.keyPrefix;
  }

  /** The shared client; the first call creates it and starts connecting. */
  connection(): Redis {
    if (this.client) return this.client;
    const client = new Redis(this.settings.url, {
      connectTimeout: CONNECT_TIMEOUT_MS,
      commandTimeout: COMMAND_TIMEOUT_MS,
      // A command caught by a dropped connection fails after one reconnect attempt (the stores then count in
      // memory) instead of waiting through twenty; reconnecting itself goes on in the background.
      maxRetriesPerRequest: 1,
    });
    client.on('error', (error: Error) => {
      if (this.down) return;
      this.down = true;
      this.log.warn(
        { redis: this.where, err: error.message },
        "redis unreachable: shared state (rate-limit windows) falls back to this replica's own memory until it is back",
      );
    });
    client.on('ready', () => {
      if (!this.down) return;
      this.down = false;
      this.log.info({ redis: this.where }, 'redis reachable again');
    });
    this.settledOnce = new Promise<void>((resolve) => {
      client.once('ready', resolve);
      client.once('error', () => resolve());
    });
    this.client = client;
    return client;
  }

  /** Resolves once the first connection attempt has either succeeded or failed; at once if nothing used Redis. */
  settled(): Promise<void> {
    return this.settledOnce ?? Promise.resolve();
  }

  /** Ends the connection; safe to call more than once. */
  close(): Promise<void> {
    const client = this.client;
    if (!client) return Promise.resolve();
    this.closing ??=
      client.status === 'ready'
        ? client.quit().then(
            () => {},
            () => client.disconnect(),
          )
        : Promise.resolve(client.disconnect());
    return this.closing;
  }
}
