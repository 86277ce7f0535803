// Pins in Redis (`redis:` configured), shared by every replica: one hash under the key prefix, a field per
// upstream entry and per tool record, and a version counter each write bumps, which replicas poll to pick up
// approvals and each other's quarantines.
import { GatewayError } from '../../errors.js';
import { validRecord, type PinBackend, type PinData, type PinRecord } from './pins-definition.js';
import type { SharedRedis } from './redis.js';

/** Fields: `u <upstream>` -> { firstSeen }, `t <upstream> <tool>` -> a record (NUL-separated). */
const UPSTREAM = 'u\0';
const TOOL = 't\0';

export class PinRedis implements PinBackend {
  private version: string | null = null;
  readonly retried = true;
  readonly shared = true;
  private readonly key: string;
  private readonly versionKey: string;

  constructor(private readonly redis: SharedRedis) {
    this.key = `${redis.keyPrefix}pins`;
    this.versionKey = `${redis.keyPrefix}pins:version`;
  }

  get where(): string {
    return `redis key ${this.key}`;
  }

  async load(): Promise<PinData> {
    const client = this.redis.connection();
    let fields: Record<string, string>;
    try {
      [fields, this.version] = await Promise.all([client.hgetall(this.key), client.get(this.versionKey)]);
    } catch (error) {
      throw new GatewayError(
        'upstream_unavailable',
        `pins in ${this.where}: Redis did not answer (${(error as Error).message})`,
      );
    }
    return parseFields(fields, this.where);
  }

  async save(changes: PinData): Promise<void> {
    const client = this.redis.connection();
    const tools: [string, PinRecord][] = [];
    for (const [upstream, entry] of changes)
      for (const [tool, record] of entry.tools) tools.push([`${TOOL}${upstream}\0${tool}`, record]);
    // A record another writer updated later than ours is kept (the same rule as the file's merge).
    const current = tools.length ? await client.hmget(this.key, ...tools.map(([field]) => field)) : [];
    const multi = client.multi();
    for (const [upstream, entry] of changes)
      multi.hsetnx(this.key, `${UPSTREAM}${upstream}`, JSON.stringify({ firstSeen: entry.firstSeen }));
    tools.forEach(([field, record], i) => {
      const theirs = current[i] ? (JSON.parse(current[i]!) as PinRecord) : undefined;
      if (!theirs || theirs.updated <= record.updated) multi.hset(this.key, field, JSON.stringify(record));
    });
    multi.incr(this.versionKey);
    const results = await multi.exec();
    const version = results?.at(-1)?.[1];
    // Another writer bumped the version since this process last looked (an approval, another replica): leave
    // the seen version behind so the next poll loads what they wrote.
    const onlyOurs = this.version !== null && Number(version) === Number(this.version) + 1;
    this.version = version === undefined || !onlyOurs ? null : String(version);
  }

  async changed(): Promise<boolean> {
    return (await this.redis.connection().get(this.versionKey)) !== this.version;
  }

  /** The connection is the gateway's (SharedRedis), closed with it. */
  async close(): Promise<void> {}
}

function parseFields(fields: Record<string, string>, where: string): PinData {
  const data: PinData = new Map();
  const entry = (upstream: string, firstSeen = '') => {
    let found = data.get(upstream);
    if (!found) data.set(upstream, (found = { firstSeen, tools: new Map() }));
    return found;
  };
  for (const [field, value] of Object.entries(fields)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new GatewayError('config', `pins in ${where}: field ${JSON.stringify(field)} is not JSON`);
    }
    if (field.startsWith(UPSTREAM)) {
      entry(field.slice(UPSTREAM.length)).firstSeen = String((parsed as { firstSeen?: unknown }).firstSeen);
    } else if (field.startsWith(TOOL)) {
      const rest = field.slice(TOOL.length);
      const at = rest.indexOf('\0');
      if (at < 0 || !validRecord(parsed))
        throw new GatewayError(
          'config',
          `pins in ${where}: field ${JSON.stringify(field)} is not a pin record`,
        );
      entry(rest.slice(0, at)).tools.set(rest.slice(at + 1), parsed);
    }
  }
  return data;
}
