// What a pin records of a tool: the fields that tell a model what the tool does (name, title, description,
// schemas, annotations), as canonical JSON (keys sorted at every depth) and its sha256, so the same definition
// always hashes the same whatever order an upstream sends its keys in; and the record, its merge rule and the
// file's JSON shape, shared by the stores (pins-file.ts, pins-redis.ts) and the CLI.
import { createHash } from 'node:crypto';
import type { PoisoningFinding } from '../../policy/poisoning.js';
import type { CatalogItem } from '../../upstreams/catalog.js';

/** The fields of a tool that count; anything else (`_meta`, `icons`, ...) may change without a quarantine. */
export const PINNED_FIELDS = [
  'name',
  'title',
  'description',
  'inputSchema',
  'outputSchema',
  'annotations',
] as const;

export type ToolDefinition = Partial<Record<(typeof PINNED_FIELDS)[number], unknown>>;

/** The counted fields of an upstream's tool (absent fields stay absent, so adding one is a change). */
export function definitionOf(item: CatalogItem): ToolDefinition {
  const definition: ToolDefinition = {};
  for (const field of PINNED_FIELDS) if (item[field] !== undefined) definition[field] = item[field];
  return definition;
}

/** JSON with object keys sorted at every depth; arrays keep their order (order in a list means something). */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort();
    const parts = keys.map(
      (k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`,
    );
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function definitionHash(definition: ToolDefinition): string {
  return createHash('sha256').update(canonicalJson(definition)).digest('hex');
}

/** An upstream's catalogue items stay the same objects until it lists again: each is hashed once. */
const hashed = new WeakMap<CatalogItem, { definition: ToolDefinition; hash: string }>();

export function pinnedForm(item: CatalogItem): { definition: ToolDefinition; hash: string } {
  let found = hashed.get(item);
  if (!found) {
    const definition = definitionOf(item);
    found = { definition, hash: definitionHash(definition) };
    hashed.set(item, found);
  }
  return found;
}

/** One tool's pin: the definition that counts, and whether it is published or held back (and why). */
export interface PinRecord {
  state: 'pinned' | 'quarantined';
  reason?: 'changed' | 'new' | 'poisoning';
  /** The pinned definition (for `new` and `poisoning`, the one waiting for approval). */
  hash: string;
  definition: ToolDefinition;
  /** `changed`: what the upstream presents now instead, kept for `pins diff` and for the approval. */
  pending?: { hash: string; definition: ToolDefinition };
  /** `poisoning`: what the heuristics found. */
  findings?: readonly PoisoningFinding[];
  /** The hash a person approved: its poisoning findings are not held against it again. */
  approved?: string;
  /** The public name when last published or held (for `pins list`; the config maps names too). */
  publicName?: string;
  firstSeen: string;
  updated: string;
}

/** Every pin, by upstream then the upstream's own tool name (Maps: names from the wire never reach a
 * prototype). An upstream with an entry has been seen: its later newcomers follow `newTools`. */
export type PinData = Map<string, { firstSeen: string; tools: Map<string, PinRecord> }>;

/** Where pins are kept: a file beside the config, or Redis. */
export interface PinBackend {
  /** Where, for messages. */
  readonly where: string;
  /** A store that cannot be read at start is asked again (Redis: an outage passes) rather than fatal (a file:
   * what is wrong with it needs a person). */
  readonly retried: boolean;
  /** Replicas share it (Redis): a record may be about what another replica's upstream presents. */
  readonly shared: boolean;
  /** Everything stored; a store that cannot be read or trusted throws (the gateway then refuses to start). */
  load(): Promise<PinData>;
  /** Writes these upstream entries and records; a record someone else updated later than ours is kept. */
  save(changes: PinData): Promise<void>;
  /** Whether someone else (`switchboard pins approve`, another replica) wrote since this process last did. */
  changed(): Promise<boolean>;
  close(): Promise<void>;
}

/** Merges `changes` into `into` (a record updated later wins; ties go to the change). */
export function mergePins(into: PinData, changes: PinData): PinData {
  for (const [upstream, entry] of changes) {
    let target = into.get(upstream);
    if (!target) into.set(upstream, (target = { firstSeen: entry.firstSeen, tools: new Map() }));
    for (const [tool, record] of entry.tools) {
      const current = target.tools.get(tool);
      if (!current || current.updated <= record.updated) target.tools.set(tool, record);
    }
  }
  return into;
}

/** The file's JSON shape (version 1). */
export function pinsToJson(data: PinData): string {
  const upstreams = Object.fromEntries(
    [...data].map(([name, entry]) => [
      name,
      { firstSeen: entry.firstSeen, tools: Object.fromEntries(entry.tools) },
    ]),
  );
  return `${JSON.stringify({ switchboardPins: 1, upstreams }, null, 2)}\n`;
}

/** Parses the file's JSON; a wrong shape throws with what is wrong. */
export function pinsFromJson(text: string): PinData {
  const raw = JSON.parse(text) as { switchboardPins?: unknown; upstreams?: unknown };
  if (!raw || typeof raw !== 'object' || raw.switchboardPins !== 1 || !isObject(raw.upstreams))
    throw new Error('not a pins file (expected {"switchboardPins": 1, "upstreams": {...}})');
  const data: PinData = new Map();
  for (const [name, entry] of Object.entries(raw.upstreams)) {
    if (!isObject(entry) || typeof entry.firstSeen !== 'string' || !isObject(entry.tools))
      throw new Error(`upstreams.${name}: expected { firstSeen, tools }`);
    const tools = new Map<string, PinRecord>();
    for (const [tool, record] of Object.entries(entry.tools)) {
      if (!validRecord(record)) throw new Error(`upstreams.${name}.tools.${tool}: not a pin record`);
      tools.set(tool, record);
    }
    data.set(name, { firstSeen: entry.firstSeen, tools });
  }
  return data;
}

export function validRecord(record: unknown): record is PinRecord {
  if (!isObject(record)) return false;
  const { state, hash, updated, firstSeen } = record;
  return (
    (state === 'pinned' || state === 'quarantined') &&
    typeof hash === 'string' &&
    /^[0-9a-f]{64}$/.test(hash) &&
    isObject(record.definition) &&
    typeof updated === 'string' &&
    typeof firstSeen === 'string'
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}
