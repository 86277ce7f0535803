// Client sessions in Redis (`redis:`), so any replica can serve any request of any session: one hash per
// session holding what a replica needs to take it up (principal, protocol version, client capabilities, log
// level, which replica holds its stream, its subscriptions and tasks), expiring after the idle timeout unless touched.
import type { ClientCapabilities, LoggingLevel } from '@modelcontextprotocol/sdk/types.js';
import type { Principal } from '../../policy/types.js';
import type { SharedRedis } from './redis.js';

/** What a replica reads to take up a session another replica opened. */
export interface SessionRecord {
  readonly principal: Principal;
  readonly protocolVersion: string;
  readonly clientCapabilities: ClientCapabilities;
  readonly logLevel?: LoggingLevel;
  /** The replica holding the session's GET stream, if any. */
  readonly stream?: string;
  /** The claim number of the newest stream (each GET stream opened anywhere takes the next one). */
  readonly streamClaim?: number;
}

/** Gives the session's stream to a replica under the next claim number; 0 when the session is gone (nothing made). */
const HOLD_STREAM = `if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local claim = redis.call('HINCRBY', KEYS[1], 'streamClaim', 1)
redis.call('HSET', KEYS[1], 'stream', ARGV[1])
return claim`;

/** Deletes the stream field only if the claim that asks is still the newest (another may have taken over). */
const RELEASE_STREAM = `if redis.call('HGET', KEYS[1], 'streamClaim') == ARGV[1] then return redis.call('HDEL', KEYS[1], 'stream') end return 0`;

/** Subscriptions are fields `sub:<uri>`, naming the replica whose upstream was told. */
const SUB = 'sub:';

export class SessionDirectory {
  constructor(
    private readonly redis: SharedRedis,
    /** How long a session lives untouched (sessions.idleTimeout; 0: a day, so Redis is never left full). */
    private readonly ttlMs: number,
  ) {}

  /** Writes a new session; awaited before initialize is answered, so the client's next request finds it anywhere. */
  async save(id: string, record: SessionRecord): Promise<void> {
    const key = this.key(id);
    const fields: Record<string, string> = {
      session: JSON.stringify({
        principal: record.principal,
        protocolVersion: record.protocolVersion,
        clientCapabilities: record.clientCapabilities,
      }),
    };
    if (record.logLevel) fields.level = record.logLevel;
    await this.redis.connection().multi().hset(key, fields).pexpire(key, this.ttlMs).exec();
  }

  /** The session, or undefined when Redis holds none by that id (expired, deleted, never opened). */
  async load(id: string): Promise<SessionRecord | undefined> {
    const fields = await this.redis.connection().hgetall(this.key(id));
    if (!fields.session) return undefined;
    const base = JSON.parse(fields.session) as Omit<SessionRecord, 'logLevel' | 'stream' | 'streamClaim'>;
    return {
      ...base,
      ...(fields.level ? { logLevel: fields.level as LoggingLevel } : {}),
      ...(fields.stream ? { stream: fields.stream } : {}),
      ...(fields.streamClaim ? { streamClaim: Number(fields.streamClaim) } : {}),
    };
  }

  /** Keeps an active session from expiring (called at most a few times per TTL by each replica). */
  touch(id: string): void {
    this.redis
      .connection()
      .pexpire(this.key(id), this.ttlMs)
      .catch(() => {});
  }

  setLevel(id: string, level: LoggingLevel): Promise<unknown> {
    return this.redis.connection().hset(this.key(id), 'level', level);
  }

  /**
   * Records that `replica` holds the session's stream now, under a claim number greater than every earlier one:
   * replicas order the news of streams by it, whatever order the bus brings it in. 0: the session is gone.
   */
  async holdStream(id: string, replica: string): Promise<number> {
    return Number(await this.redis.connection().eval(HOLD_STREAM, 1, this.key(id), replica));
  }

  /** Forgets the stream of this claim; 1 when it was still the newest, 0 when another had taken over. */
  async releaseStream(id: string, claim: number): Promise<number> {
    return Number(await this.redis.connection().eval(RELEASE_STREAM, 1, this.key(id), String(claim)));
  }

  subscribed(id: string, uri: string, replica: string | undefined): Promise<unknown> {
    const redis = this.redis.connection();
    return replica ? redis.hset(this.key(id), SUB + uri, replica) : redis.hdel(this.key(id), SUB + uri);
  }

  /** Tasks are fields `task:<id>`, naming the replica whose upstream connection runs the task. */
  taskAt(id: string, taskId: string, replica: string): Promise<unknown> {
    return this.redis.connection().hset(this.key(id), `task:${taskId}`, replica);
  }

  async taskOwner(id: string, taskId: string): Promise<string | undefined> {
    return (await this.redis.connection().hget(this.key(id), `task:${taskId}`)) ?? undefined;
  }

  /** The replicas running tasks of this session. */
  async taskReplicas(id: string): Promise<Set<string>> {
    const fields = await this.redis.connection().hgetall(this.key(id));
    const replicas = new Set<string>();
    for (const [field, replica] of Object.entries(fields))
      if (field.startsWith('task:')) replicas.add(replica);
    return replicas;
  }

  remove(id: string): Promise<unknown> {
    return this.redis.connection().del(this.key(id));
  }

  /** Which of these sessions Redis still holds. */
  async existing(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const pipeline = this.redis.connection().pipeline();
    for (const id of ids) pipeline.exists(this.key(id));
    const results = (await pipeline.exec()) ?? [];
    return new Set(ids.filter((_, i) => results[i]?.[1] === 1));
  }

  private key(id: string): string {
    return `${this.redis.keyPrefix}session:${id}`;
  }
}
