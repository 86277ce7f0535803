// The replicas' message bus over Redis pub/sub (`redis:`): each replica has an id, a channel of its own for
// messages meant for it (a client's answer, a message for the stream it holds) and listens on one channel all
// replicas share (session changes); a heartbeat key says it is alive.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { SharedRedis } from './redis.js';

/** A message between replicas: `t` names its kind, `from` the sender; the rest is the kind's own. */
export interface BusMessage {
  readonly t: string;
  readonly from?: string;
  readonly [field: string]: unknown;
}

type Handler = (message: BusMessage) => void;

/** How often a replica says it is alive, and how long that lasts: a replica killed with SIGKILL is known dead
 * within HEARTBEAT_TTL_MS. */
const HEARTBEAT_MS = 1000;
const HEARTBEAT_TTL_MS = 3000;
const START_WAIT_MS = 2000;

export class ClusterBus {
  /** This replica: short and random, so ids the gateway hands out (server-to-client requests) can carry it. */
  readonly replica = randomBytes(6).toString('hex');
  private readonly handlers = new Map<string, Handler>();
  private subscriber?: Redis;
  private heartbeat?: NodeJS.Timeout;
  private readonly direct: string;
  private readonly everyone: string;

  constructor(
    private readonly redis: SharedRedis,
    private readonly log: Logger,
  ) {
    this.direct = `${redis.keyPrefix}bus:${this.replica}`;
    this.everyone = `${redis.keyPrefix}bus:all`;
  }

  /** Handles one kind of message (a Map: a kind that came over the wire never reaches a prototype). */
  on(kind: string, handler: Handler): void {
    this.handlers.set(kind, handler);
  }

  /** Subscribes to both channels (again after each reconnect) and starts the heartbeat; resolves once
   * subscribed, or after a short wait when Redis is down (start-up does not hang on it). */
  async start(): Promise<void> {
    const subscriber = (this.subscriber = this.redis.connection().duplicate());
    // Errors are reported once by the shared connection.
    subscriber.on('error', () => {});
    subscriber.on('message', (_channel: string, text: string) => this.receive(text));
    let subscribed!: () => void;
    const first = new Promise<void>((resolve) => (subscribed = resolve));
    const subscribe = () =>
      subscriber.subscribe(this.direct, this.everyone).then(subscribed, (error: Error) => {
        this.log.warn(
          { err: error.message },
          'redis bus: could not subscribe; replicas cannot relay until it can',
        );
      });
    subscriber.on('ready', subscribe);
    const beat = () =>
      this.redis
        .connection()
        .set(this.aliveKey(this.replica), '1', 'PX', HEARTBEAT_TTL_MS)
        .catch(() => {});
    beat();
    this.heartbeat = setInterval(beat, HEARTBEAT_MS);
    this.heartbeat.unref();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([first, new Promise<void>((resolve) => (timer = setTimeout(resolve, START_WAIT_MS)))]);
    clearTimeout(timer);
  }

  /** To one replica (fire and forget: a replica that is gone loses it, as its clients lost their streams). */
  send(replica: string, message: BusMessage): void {
    void this.publish(`${this.redis.keyPrefix}bus:${replica}`, message);
  }

  /** To every other replica; settles once Redis has handed the message on (or could not: it is logged). */
  broadcast(message: BusMessage): Promise<void> {
    return this.publish(this.everyone, message);
  }

  /** Whether a replica's heartbeat is current (false too when Redis cannot say). */
  async alive(replica: string): Promise<boolean> {
    if (replica === this.replica) return true;
    return (
      (await this.redis
        .connection()
        .exists(this.aliveKey(replica))
        .catch(() => 0)) === 1
    );
  }

  async stop(): Promise<void> {
    clearInterval(this.heartbeat);
    const subscriber = this.subscriber;
    this.subscriber = undefined;
    await this.redis
      .connection()
      .del(this.aliveKey(this.replica))
      .catch(() => {});
    if (subscriber) await subscriber.quit().catch(() => subscriber.disconnect());
  }

  private publish(channel: string, message: BusMessage): Promise<void> {
    const text = JSON.stringify({ ...message, from: this.replica });
    return this.redis
      .connection()
      .publish(channel, text)
      .then(
        () => {},
        (error: Error) =>
          this.log.debug({ err: error.message, kind: message.t }, 'redis bus: publish failed'),
      );
  }

  private receive(text: string): void {
    let message: BusMessage;
    try {
      message = JSON.parse(text) as BusMessage;
    } catch {
      return;
    }
    // A replica's own broadcasts come back to it: it has acted on them already.
    if (!message || typeof message.t !== 'string' || message.from === this.replica) return;
    const handler = this.handlers.get(message.t);
    if (!handler) return;
    try {
      handler(message);
    } catch (error) {
      this.log.warn({ err: String(error), kind: message.t }, 'redis bus: a message could not be handled');
    }
  }

  private aliveKey(replica: string): string {
    return `${this.redis.keyPrefix}replica:${replica}`;
  }
}
