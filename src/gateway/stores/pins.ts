// Tool-definition pinning and quarantine. Each rebuild of the catalogue hands the tools it would publish to
// `held`, which compares each with its pin (by upstream and the upstream's own name) and the poisoning
// heuristics, records what is new, and returns the tools to keep out: a quarantined tool is left out of the
// catalogue, so it is unknown on every path exactly like a tool that does not exist. Everything is decided on
// the in-memory book, synchronously; the store (file or Redis) is written behind it and polled for approvals.
// Only tools are pinned: prompts and resources carry no schema a model acts on through the gateway's calls.
import type { Logger } from 'pino';
import { GatewayError } from '../../errors.js';
import { findPoisoning, toolNames, type PoisoningFinding } from '../../policy/poisoning.js';
import { catalogueDecision, DECISION_MESSAGE, type DecisionEvent } from '../../policy/decisions.js';
import type { CatalogItem } from '../../upstreams/catalog.js';
import { pinnedForm, type PinBackend, type PinData, type PinRecord } from './pins-definition.js';
import type { UpstreamPinning } from './pins-config.js';

/** How often the store is asked whether someone approved something: "within seconds". */
const POLL_MS = 2000;

/** A tool the catalogue would publish. */
export interface ToolCandidate {
  readonly upstream: string;
  readonly item: CatalogItem;
  readonly publicName: string;
}

/** A quarantined or flagged tool, as `switchboard check` prints it. */
export interface Notice {
  readonly publicName: string;
  readonly upstream: string;
  readonly reason?: string;
  readonly findings: readonly PoisoningFinding[];
}

export class PinBook {
  private data: PinData = new Map();
  /** Upstream entries and records changed here and not yet written. */
  private dirty: PinData = new Map();
  private loaded = false;
  private saving?: Promise<void>;
  private timer?: NodeJS.Timeout;
  /** Poisoning warnings already logged (upstream, tool, hash): once each, not on every rebuild. */
  private warned = new Set<string>();
  private storeDown = false;
  /** What `switchboard check` shows: quarantines and poisoning findings of this process's last rebuild. */
  private readonly noted = new Map<string, Notice>();
  /** Poisoning findings per catalogue item, for the catalogue names in `namesKey`. */
  private scanned = new WeakMap<CatalogItem, PoisoningFinding[]>();
  private namesKey = '';
  /** Tools (upstream, own name) whose `changed` quarantine this process raised: in a shared store, only the
   * replica that saw the change may lift it when its upstream goes back to the pin. */
  private raised = new Set<string>();
  /** `check` and `policy explain` look at the pins but never write them. */
  readOnly = false;
  /** Told of each quarantine decision besides the log line (the gateway's decision sinks: audit, metrics). */
  onDecision?: (event: DecisionEvent) => void;

  constructor(
    private readonly settings: ReadonlyMap<string, UpstreamPinning>,
    private readonly backend: PinBackend | undefined,
    private readonly log: Logger,
    /** Called when the store changed under us (an approval): the catalogue is rebuilt. */
    private readonly onChanged: () => void,
  ) {
    for (const [name, setting] of settings)
      if (setting.poisoning === 'quarantine' && setting.newTools === undefined)
        throw new GatewayError(
          'config',
          `upstreams.${name}: poisoning: quarantine needs pinning (an approval is recorded as a pin); ` +
            'remove pinning: off or use poisoning: warn',
        );
  }

  /** Whether anything is pinned at all (no store is opened otherwise). */
  get active(): boolean {
    return [...this.settings.values()].some((s) => s.newTools !== undefined);
  }

  /** Loads the store (a store that cannot be read stops start-up) and starts polling it for approvals. */
  async open(): Promise<void> {
    if (!this.backend || !this.active) return void (this.loaded = true);
    try {
      this.data = await this.backend.load();
      this.loaded = true;
    } catch (error) {
      if (!this.backend.retried) throw error;
      // Fail closed without stopping everyone: the pinned upstreams' tools stay out until the store answers.
      this.log.error(
        { store: this.backend.where, err: (error as Error).message },
        'pins store unreachable: tools of pinned upstreams stay hidden until it answers',
      );
      this.storeDown = true;
    }
    if (!this.readOnly) this.timer = setInterval(() => void this.poll(), POLL_MS);
    this.timer?.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush().catch(() => {});
    await this.backend?.close();
  }

  /** The tools of one rebuild to keep out of the catalogue; `ready` names the upstreams that listed. */
  held(candidates: readonly ToolCandidate[], ready: readonly string[]): Set<CatalogItem> {
    const held = new Set<CatalogItem>();
    if (!this.loaded) {
      // Fail closed: until the pins are known, no pinned upstream's tool is published.
      for (const c of candidates) if (this.settings.get(c.upstream)?.newTools !== undefined) held.add(c.item);
      return held;
    }
    const now = new Date().toISOString();
    this.noted.clear();
    // Seen for the first time (no entry in the store): every tool it lists now is pinned on sight.
    const fresh = new Set<string>();
    for (const upstream of ready) {
      if (this.settings.get(upstream)?.newTools === undefined || this.data.has(upstream)) continue;
      fresh.add(upstream);
      this.entry(upstream, now);
    }
    const named = candidates.map((c) => ({
      publicName: c.publicName,
      ownName: c.item.name,
      upstream: c.upstream,
    }));
    // Findings depend on the definition and on the other tools' names: kept per item while the names stay.
    const namesKey = named.map((n) => `${n.upstream}\0${n.publicName}\0${n.ownName}`).join('\n');
    if (namesKey !== this.namesKey) this.scanned = new WeakMap();
    this.namesKey = namesKey;
    const names = toolNames(named);
    for (const candidate of candidates) {
      const setting = this.settings.get(candidate.upstream);
      if (!setting || this.admit(candidate, setting, fresh.has(candidate.upstream), names, now)) continue;
      held.add(candidate.item);
      const record = this.data.get(candidate.upstream)?.tools.get(candidate.item.name);
      const { publicName, upstream } = candidate;
      this.noted.set(publicName, {
        publicName,
        upstream,
        reason: record?.reason,
        findings: record?.findings ?? [],
      });
    }
    if (this.dirty.size) void this.flush().catch(() => {});
    return held;
  }

  /** Writes what changed here (and what changes while it writes); a failure is logged once and retried at the
   * next poll. */
  flush(): Promise<void> {
    if (!this.backend || this.readOnly) return Promise.resolve();
    this.saving ??= this.writeAll().finally(() => (this.saving = undefined));
    return this.saving;
  }

  private async writeAll(): Promise<void> {
    const backend = this.backend!;
    while (this.dirty.size) {
      const changes = this.dirty;
      this.dirty = new Map();
      try {
        await backend.save(changes);
      } catch (error) {
        // Kept for the next attempt, unless this process changed the same record again since.
        for (const [upstream, entry] of changes) {
          const dirty = this.markUpstream(upstream, entry.firstSeen);
          for (const [tool, record] of entry.tools) if (!dirty.tools.has(tool)) dirty.tools.set(tool, record);
        }
        if (!this.storeDown)
          this.log.error(
            { store: backend.where, err: (error as Error).message },
            'pins could not be written: quarantines hold in this process, and are retried',
          );
        this.storeDown = true;
        throw error;
      }
      if (this.storeDown) this.log.info({ store: backend.where }, 'pins written again');
      this.storeDown = false;
    }
  }

  private async poll(): Promise<void> {
    try {
      if (!this.loaded) {
        this.data = await this.backend!.load();
        this.loaded = true;
        this.storeDown = false;
        this.log.info(
          { store: this.backend!.where },
          'pins store reachable: pinned tools checked and published',
        );
        return this.onChanged();
      }
      await this.flush();
      if (!(await this.backend!.changed())) return;
      const stored = await this.backend!.load();
      // What this process changed and has not written yet stays on top of what the store says.
      for (const [upstream, entry] of this.dirty) {
        const target = stored.get(upstream) ?? { firstSeen: entry.firstSeen, tools: new Map() };
        for (const [tool, record] of entry.tools) target.tools.set(tool, record);
        stored.set(upstream, target);
      }
      this.data = stored;
      this.onChanged();
    } catch (error) {
      if (!this.storeDown)
        this.log.warn(
          { store: this.backend!.where, err: (error as Error).message },
          'pins store unreachable',
        );
      this.storeDown = true;
    }
  }

  /** Whether one tool may be published; records a first pin or a quarantine on the way. */
  private admit(
    candidate: ToolCandidate,
    setting: UpstreamPinning,
    fresh: boolean,
    names: ReturnType<typeof toolNames>,
    now: string,
  ): boolean {
    const { upstream, item, publicName } = candidate;
    const { definition, hash } = pinnedForm(item);
    const scan = () => {
      let findings = this.scanned.get(item);
      if (!findings) this.scanned.set(item, (findings = findPoisoning(definition, { names, upstream })));
      return findings;
    };
    if (setting.newTools === undefined) {
      // Pinning off: nothing recorded; poisoning can only be warned about (config refuses `quarantine` here).
      this.warnPoisoning(candidate, hash, scan());
      return true;
    }
    const entry = this.entry(upstream, now);
    const record = entry.tools.get(item.name);
    const save = (next: PinRecord) => this.mark(upstream, entry.firstSeen, item.name, next);
    if (!record) {
      const quarantineNew = !fresh && setting.newTools === 'quarantine';
      const findings = scan();
      const poisoned = findings.length > 0 && setting.poisoning === 'quarantine';
      const base = { hash, definition, publicName, firstSeen: now, updated: now };
      if (quarantineNew || poisoned) {
        const reason = quarantineNew ? 'new' : 'poisoning';
        save({ ...base, state: 'quarantined', reason, ...(findings.length && { findings }) });
        this.quarantined(candidate, reason, findings);
        return false;
      }
      save({ ...base, state: 'pinned' });
      this.warnPoisoning(candidate, hash, findings);
      return true;
    }
    if (hash !== record.hash && record.reason === 'new') {
      // Never published: the newcomer waits for approval in whatever form it has now.
      save({ ...record, hash, definition, publicName, updated: now });
      return false;
    }
    const key = `${upstream}\0${item.name}`;
    if (hash !== record.hash) {
      this.raised.add(key);
      if (record.pending?.hash === hash) return false;
      save({
        ...record,
        state: 'quarantined',
        reason: 'changed',
        pending: { hash, definition },
        publicName,
        updated: now,
      });
      this.quarantined(candidate, 'changed', []);
      return false;
    }
    if (record.state === 'quarantined') {
      if (record.reason !== 'changed') return false;
      // This upstream presents the pinned definition, so the tool is published here. The quarantine is lifted
      // only where the change was seen: in a shared store another replica's upstream may still present it, and
      // lifting it here would have the two replicas flip the record at every poll.
      if (!this.backend?.shared || this.raised.has(key)) {
        this.raised.delete(key);
        const { pending: _pending, reason: _reason, ...pinned } = record;
        save({ ...pinned, state: 'pinned', updated: now });
        this.log.info({ upstream, tool: publicName }, 'tool definition back to its pin: published again');
      }
    } else this.raised.delete(key); // settled (approved, or lifted elsewhere): a later quarantine is news again
    if (record.approved === hash) return true;
    const findings = scan();
    if (findings.length && setting.poisoning === 'quarantine') {
      save({ ...record, state: 'quarantined', reason: 'poisoning', findings, publicName, updated: now });
      this.quarantined(candidate, 'poisoning', findings);
      return false;
    }
    this.warnPoisoning(candidate, hash, findings);
    return true;
  }

  /** Tools held back or flagged, as of the last rebuild. */
  notices(): Notice[] {
    return [...this.noted.values()];
  }

  private quarantined(candidate: ToolCandidate, reason: string, findings: readonly PoisoningFinding[]) {
    const { upstream, item, publicName } = candidate;
    const why =
      reason === 'changed'
        ? 'its definition changed since it was pinned'
        : reason === 'new'
          ? 'a new tool (pinning.newTools: quarantine)'
          : `poisoning heuristics: ${findings.map((f) => f.kind).join(', ')}`;
    this.log.warn(
      { upstream, tool: publicName, own: item.name, reason, ...(findings.length && { findings }) },
      `tool quarantined: ${why}; \`switchboard pins diff ${publicName}\` shows it, ` +
        `\`switchboard pins approve ${publicName}\` publishes it`,
    );
    const target = { kind: 'tool', upstream, name: publicName, original: item.name } as const;
    const decision = catalogueDecision(target, 'quarantine', why);
    this.log.info({ decision }, DECISION_MESSAGE);
    this.onDecision?.(decision);
  }

  private warnPoisoning(candidate: ToolCandidate, hash: string, findings: readonly PoisoningFinding[]) {
    if (!findings.length) return;
    const { publicName, upstream } = candidate;
    this.noted.set(publicName, { publicName, upstream, findings });
    const key = `${candidate.upstream}\0${candidate.item.name}\0${hash}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.log.warn(
      { upstream: candidate.upstream, tool: candidate.publicName, findings },
      `tool definition looks poisoned (${findings.map((f) => f.kind).join(', ')}): published (poisoning: warn)`,
    );
  }

  private entry(upstream: string, now: string) {
    let entry = this.data.get(upstream);
    if (!entry) {
      this.data.set(upstream, (entry = { firstSeen: now, tools: new Map() }));
      this.markUpstream(upstream, now);
    }
    return entry;
  }

  private markUpstream(upstream: string, firstSeen: string) {
    let dirty = this.dirty.get(upstream);
    if (!dirty) this.dirty.set(upstream, (dirty = { firstSeen, tools: new Map() }));
    return dirty;
  }

  private mark(upstream: string, firstSeen: string, tool: string, record: PinRecord): void {
    this.data.get(upstream)?.tools.set(tool, record);
    this.markUpstream(upstream, firstSeen).tools.set(tool, record);
  }
}
