// `switchboard pins list|diff|approve`: reads and writes the pin store the config names (the file beside it, or
// Redis) without starting any upstream: the store keeps each definition, and the config maps upstream names to
// public names (prefix, separator, rename). A running gateway picks an approval up within seconds.
import { loadConfig, type GatewayConfig } from './config.js';
import { publicName, safeName } from './catalog/names.js';
import { createLogger } from './logger.js';
import { canonicalJson, PINNED_FIELDS, type PinData, type PinRecord } from './stores/pins-definition.js';
import { pinBackend } from './stores/pins-config.js';
import { SharedRedis } from './stores/redis.js';

interface Pin {
  upstream: string;
  tool: string;
  name: string;
  record: PinRecord;
}

export interface PinsRequest {
  /** list | diff | approve */
  readonly command: string;
  /** A public tool name (diff, approve). */
  readonly name?: string;
  readonly upstream?: string;
  readonly all?: boolean;
}

/** Runs one pins command; returns the exit code (0 done, 1 nothing matched or an error, 2 bad usage). */
export async function pinsCommand(configFile: string, request: PinsRequest): Promise<number> {
  const config = loadConfig(configFile, process.env, { fromCommand: true });
  const redis = config.redis && new SharedRedis(config.redis, createLogger('silent'));
  const backend = pinBackend(config, redis);
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const fail = (message: string) => (process.stderr.write(`switchboard pins: ${message}\n`), 1);
  try {
    if (!backend) return fail('no pin store: this config has no file, pins.file or redis');
    let data: PinData;
    try {
      data = await backend.load();
    } catch (error) {
      return fail((error as Error).message);
    }
    const pins = listed(config, data);
    if (request.command === 'list') {
      if (!pins.length) return (out(`no pins in ${backend.where}`), 0);
      table(pins, out);
      return 0;
    }
    const chosen = choose(pins, request);
    if (typeof chosen === 'string') return fail(chosen);
    if (request.command === 'diff') {
      const shown = request.name ? chosen : chosen.filter((p) => p.record.state === 'quarantined');
      if (!shown.length) return (out('nothing is quarantined'), 0);
      for (const pin of shown) out(diff(pin));
      return 0;
    }
    const waiting = chosen.filter((p) => p.record.state === 'quarantined');
    if (!waiting.length)
      return fail(
        request.name
          ? `${request.name} is pinned, not quarantined: nothing to approve`
          : `no quarantined tool of upstream ${request.upstream}`,
      );
    const now = new Date().toISOString();
    const changes: PinData = new Map();
    for (const pin of waiting) {
      const entry = changes.get(pin.upstream) ?? { firstSeen: now, tools: new Map() };
      changes.set(pin.upstream, entry);
      entry.tools.set(pin.tool, approval(pin.record, now));
    }
    await backend.save(changes);
    for (const pin of waiting)
      out(`approved ${pin.name} (${pin.upstream}: ${pin.tool}, was ${pin.record.reason})`);
    return 0;
  } finally {
    await backend?.close();
    await redis?.close();
  }
}

/** The approved record: what is presented now becomes the pin, and its poisoning findings are not raised again. */
function approval(record: PinRecord, now: string): PinRecord {
  const { pending, reason: _reason, findings: _findings, ...rest } = record;
  const hash = pending?.hash ?? record.hash;
  return {
    ...rest,
    state: 'pinned',
    hash,
    definition: pending?.definition ?? record.definition,
    approved: hash,
    updated: now,
  };
}

/** Every pin with its public name, as the config publishes it today. */
function listed(config: GatewayConfig, data: PinData): Pin[] {
  const pins: Pin[] = [];
  for (const [upstream, entry] of data) {
    const upstreamConfig = Object.hasOwn(config.upstreams, upstream) ? config.upstreams[upstream] : undefined;
    for (const [tool, record] of entry.tools) {
      const renamed = upstreamConfig?.tools?.rename?.[tool];
      const own = renamed ?? safeName(tool);
      const name =
        upstreamConfig && own !== undefined
          ? publicName(upstreamConfig.prefix ?? upstream, config.namespace.separator, own)
          : (record.publicName ?? `${upstream}:${tool}`);
      pins.push({ upstream, tool, name, record });
    }
  }
  return pins.sort((a, b) => a.name.localeCompare(b.name));
}

/** The pins a diff or an approval is about, or why none is. */
function choose(pins: Pin[], request: PinsRequest): Pin[] | string {
  if (request.name !== undefined) {
    const found = pins.filter((p) => p.name === request.name);
    return found.length ? found : `no pinned tool is published as ${request.name}`;
  }
  if (request.upstream !== undefined) {
    const found = pins.filter((p) => p.upstream === request.upstream);
    return found.length ? found : `no pins of upstream ${request.upstream}`;
  }
  return pins;
}

function table(pins: Pin[], out: (line: string) => void): void {
  const rows = pins.map((p) => [
    p.upstream,
    p.tool,
    p.name,
    p.record.state,
    p.record.reason ?? '-',
    p.record.hash.slice(0, 12),
    p.record.firstSeen.slice(0, 19).replace('T', ' '),
  ]);
  const header = ['UPSTREAM', 'TOOL', 'PUBLIC NAME', 'STATE', 'REASON', 'HASH', 'FIRST SEEN'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const row of [header, ...rows])
    out(
      row
        .map((cell, i) => cell.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    );
}

/** Field by field (schemas down to each leaf): `-` the pinned definition, `+` the one presented now. */
function diff({ upstream, tool, name, record }: Pin): string {
  const lines = [
    `${name} (${upstream}: ${tool}) ${record.state}${record.reason ? `: ${record.reason}` : ''}`,
  ];
  const before = record.reason === 'new' ? {} : record.definition;
  const after = record.pending?.definition ?? record.definition;
  const old = leaves(before);
  const now = leaves(after);
  for (const field of PINNED_FIELDS) {
    for (const key of [...new Set([...old.keys(), ...now.keys()])].filter(
      (k) => k.split(/[.[]/)[0] === field,
    )) {
      if (old.get(key) === now.get(key)) continue;
      if (old.has(key)) lines.push(`  - ${key}: ${old.get(key)}`);
      if (now.has(key)) lines.push(`  + ${key}: ${now.get(key)}`);
    }
  }
  for (const finding of record.findings ?? [])
    lines.push(`  ! ${finding.kind} in ${finding.field}: ${finding.excerpt}`);
  if (lines.length === 1) lines.push('  (no difference)');
  return lines.join('\n');
}

/** path -> canonical JSON of each leaf (objects by key, arrays by index). */
function leaves(value: unknown, at = '', into = new Map<string, string>()): Map<string, string> {
  if (value && typeof value === 'object' && Object.keys(value).length) {
    for (const [key, item] of Object.entries(value))
      leaves(item, Array.isArray(value) ? `${at}[${key}]` : at ? `${at}.${key}` : key, into);
  } else if (at) into.set(at, canonicalJson(value));
  return into;
}
