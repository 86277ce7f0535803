// Public name <-> (upstream, original name): builds the merged catalogue from every upstream's cache,
// pre-serialises each list once per rebuild, and resolves names and URIs for dispatch.
import { createHash } from 'node:crypto';
import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';
import type { CatalogItem, CatalogKind } from '../upstreams/catalog.js';
import type { Upstream } from '../upstreams/pool.js';
import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';

export interface Target {
  upstream: Upstream;
  name: string;
}

export interface RouterUpstream {
  upstream: Upstream;
  prefix: string;
  allow?: RegExp;
  deny?: RegExp;
}

const MAX_NAME = 64;
/** Colliding resource URIs are published as switchboard://<upstream>/<encoded original>, so both stay readable. */
const COLLIDED_SCHEME = 'switchboard://';

export const LIST_KEYS: Record<CatalogKind, string> = {
  tools: 'tools',
  prompts: 'prompts',
  resources: 'resources',
  resourceTemplates: 'resourceTemplates',
};

/** The characters the MCP spec allows in a tool name (1-128 of A-Z a-z 0-9 _ - .). */
const SPEC_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
const OUTSIDE_SPEC = /[^A-Za-z0-9_.-]|\.{2,}/g;
/** How many distinct bad names are remembered so each is logged once (then the memory starts over). */
const MAX_WARNED = 1000;

/**
 * An upstream's tool or prompt name made fit to publish. A name within the spec's characters is kept as is;
 * otherwise each character outside them (spaces, control and zero-width characters, `/`) and each run of dots
 * becomes `_`, and a short hash of the original is appended, so two bad names never merge into one and the
 * result is the same on every run. Not a string, or empty: undefined (the item is left out).
 */
export function safeName(name: unknown): string | undefined {
  if (typeof name !== 'string' || name === '') return undefined;
  if (SPEC_NAME.test(name) && !name.includes('..')) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 6);
  return `${name.slice(0, 100).replace(OUTSIDE_SPEC, '_')}_${hash}`;
}

/** A public tool or prompt name: prefixed, and shortened with a stable hash past 64 characters. */
export function publicName(prefix: string, separator: string, name: string): string {
  const full = prefix ? `${prefix}${separator}${name}` : name;
  if (full.length <= MAX_NAME) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8);
  return `${full.slice(0, MAX_NAME - hash.length - 1)}_${hash}`;
}

/** Compiles allow/deny lists of names with `*` wildcards into one regular expression. */
export function globList(patterns: readonly string[] | undefined): RegExp | undefined {
  if (!patterns) return undefined;
  const parts = patterns.map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*'));
  return new RegExp(`^(?:${parts.join('|') || '(?!)'})$`);
}

export class Router {
  private tools = new Map<string, Target>();
  private prompts = new Map<string, Target>();
  /**
   * Names an upstream published before it went down, kept while it restarts: out of the lists (they cannot be
   * called), but a call to one is told the upstream is unavailable, not that the name is unknown. Only names
   * that were published (so never one hidden by tools.allow/deny); dropped once the upstream is back.
   */
  private unavailable: Record<'tools' | 'prompts', Map<string, Upstream>> = {
    tools: new Map(),
    prompts: new Map(),
  };
  private resources = new Map<string, Target>();
  private templates: { template: UriTemplate; upstream: Upstream }[] = [];
  private collided = new Map<Upstream, Set<string>>();
  /** Bad upstream names already logged, so a refresh does not repeat the line. */
  private warned = new Set<string>();
  /** Each list's result, serialised once per rebuild and kept as bytes: a list request only copies them. */
  private lists: Record<CatalogKind, Buffer> = {
    tools: Buffer.from('{"tools":[]}'),
    prompts: Buffer.from('{"prompts":[]}'),
    resources: Buffer.from('{"resources":[]}'),
    resourceTemplates: Buffer.from('{"resourceTemplates":[]}'),
  };

  constructor(
    private readonly entries: readonly RouterUpstream[],
    private readonly separator: string,
    private readonly log: Logger,
  ) {}

  /** Name collisions among unprefixed upstreams right now, as messages (fatal at start-up). */
  collisions(): string[] {
    const owners = new Map<string, string>();
    const found: string[] = [];
    for (const entry of this.entries) {
      for (const kind of ['tools', 'prompts'] as const) {
        for (const item of this.visible(entry, kind)) {
          const name = this.publishedName(entry, kind, item);
          if (name === undefined) continue;
          const key = `${kind}:${name}`;
          const other = owners.get(key);
          if (other !== undefined && other !== entry.upstream.name) {
            found.push(
              `${kind === 'tools' ? 'tool' : 'prompt'} "${name}" is published by both "${other}" and "${entry.upstream.name}"`,
            );
          } else owners.set(key, entry.upstream.name);
        }
      }
    }
    return found;
  }

  /** Rebuilds every map and list from the upstreams' caches; returns the kinds whose list changed. */
  rebuild(): CatalogKind[] {
    const changed: CatalogKind[] = [];
    const next = {
      tools: this.buildNamed('tools', this.tools),
      prompts: this.buildNamed('prompts', this.prompts),
      ...this.buildResources(),
    };
    this.unavailable.tools = this.stillUnavailable('tools', this.tools, next.tools.map);
    this.unavailable.prompts = this.stillUnavailable('prompts', this.prompts, next.prompts.map);
    this.tools = next.tools.map;
    this.prompts = next.prompts.map;
    const lists = {
      tools: next.tools.list,
      prompts: next.prompts.list,
      resources: next.resources,
      resourceTemplates: next.resourceTemplates,
    };
    for (const kind of Object.keys(lists) as CatalogKind[]) {
      const json = Buffer.from(JSON.stringify({ [LIST_KEYS[kind]]: lists[kind] }));
      if (!json.equals(this.lists[kind])) changed.push(kind);
      this.lists[kind] = json;
    }
    return changed;
  }

  /** The pre-serialised `result` of a list request. */
  listJson(kind: CatalogKind): Buffer {
    return this.lists[kind];
  }

  /** The target of a public tool name; undefined when unknown; throws when its upstream is down. */
  tool(name: string): Target | undefined {
    return this.tools.get(name) ?? this.missing('tools', name);
  }

  prompt(name: string): Target | undefined {
    return this.prompts.get(name) ?? this.missing('prompts', name);
  }

  /** Off the hot path (a name the maps lack): a name of a down upstream gets upstream_unavailable. */
  private missing(kind: 'tools' | 'prompts', name: string): undefined {
    const upstream = this.unavailable[kind].get(name);
    if (upstream === undefined) return undefined;
    const { state, lastError } = upstream;
    const what = state === 'down' ? 'is down and restarting' : `is ${state}`;
    throw new GatewayError(
      'upstream_unavailable',
      `Upstream unavailable: "${upstream.name}", which serves ${name}, ${what}${lastError ? ` (last error: ${lastError})` : ''}; try again once it is back`,
      { data: { upstream: upstream.name, state } },
    );
  }

  /** The upstream a URI reads from: listed URIs, rewritten collisions, then templates; undefined if unknown. */
  resource(uri: string): Target | undefined {
    const listed = this.resources.get(uri);
    if (listed) return listed;
    if (uri.startsWith(COLLIDED_SCHEME)) {
      const rest = uri.slice(COLLIDED_SCHEME.length);
      const slash = rest.indexOf('/');
      const entry = this.entries.find((e) => e.upstream.name === rest.slice(0, slash));
      if (entry && slash > 0)
        return { upstream: entry.upstream, name: decodeURIComponent(rest.slice(slash + 1)) };
    }
    for (const { template, upstream } of this.templates) {
      if (template.match(uri)) return { upstream, name: uri };
    }
    return undefined;
  }

  /** The upstream that lists this exact URI template (completion of template arguments). */
  templateOwner(uriTemplate: string): Upstream | undefined {
    return this.templates.find((t) => t.template.toString() === uriTemplate)?.upstream;
  }

  /** Upstreams that serve resources, in config order: where an unlisted URI is looked for. */
  resourceUpstreams(): Upstream[] {
    return this.entries
      .map((e) => e.upstream)
      .filter(
        (u) => u.state === 'ready' && u.catalog.resources.length + u.catalog.resourceTemplates.length > 0,
      );
  }

  /** Original URIs of this upstream that are published rewritten (empty for almost every upstream). */
  collidedUris(upstream: Upstream): ReadonlySet<string> | undefined {
    return this.collided.get(upstream);
  }

  publishedUri(upstream: Upstream, uri: string): string {
    return this.collided.get(upstream)?.has(uri)
      ? `${COLLIDED_SCHEME}${upstream.name}/${encodeURIComponent(uri)}`
      : uri;
  }

  /** Names the last catalogue had that the next lacks because their upstream is not ready, plus earlier such
   * names whose upstream is still not ready. A ready upstream that no longer lists a name makes it unknown. */
  private stillUnavailable(
    kind: 'tools' | 'prompts',
    previous: Map<string, Target>,
    next: Map<string, Target>,
  ): Map<string, Upstream> {
    const kept = new Map<string, Upstream>();
    for (const [name, upstream] of this.unavailable[kind])
      if (upstream.state !== 'ready' && !next.has(name)) kept.set(name, upstream);
    for (const [name, { upstream }] of previous)
      if (upstream.state !== 'ready' && !next.has(name)) kept.set(name, upstream);
    return kept;
  }

  private visible(entry: RouterUpstream, kind: 'tools' | 'prompts'): CatalogItem[] {
    const items = entry.upstream.catalog[kind];
    if (kind !== 'tools' || (!entry.allow && !entry.deny)) return items;
    // A name that is not a string is left out later; it must not reach RegExp.test, which would coerce it.
    return items.filter(
      (t) =>
        typeof t.name !== 'string' ||
        ((!entry.allow || entry.allow.test(t.name)) && !entry.deny?.test(t.name)),
    );
  }

  /** Logs a problem with an upstream's catalogue once, not again on every rebuild. */
  private warnOnce(key: string, log: () => void): void {
    if (this.warned.has(key)) return;
    if (this.warned.size >= MAX_WARNED) this.warned.clear();
    this.warned.add(key);
    log();
  }

  /** The public name of an upstream's item, or undefined when its name cannot be published (logged once). */
  private publishedName(entry: RouterUpstream, kind: 'tools' | 'prompts', item: CatalogItem) {
    const name = safeName(item.name);
    if (name !== item.name) {
      // Not a string: shown as its JSON text (bounded), so the operator sees what the upstream sent.
      const original =
        typeof item.name === 'string' ? item.name : String(JSON.stringify(item.name)).slice(0, 100);
      const fields = { upstream: entry.upstream.name, kind, name: original };
      this.warnOnce(`${entry.upstream.name}\0${kind}\0${original}`, () =>
        name === undefined
          ? this.log.warn(fields, `${kind} item without a usable name left out`)
          : this.log.warn(
              { ...fields, published: name },
              `${kind} name outside the spec's characters sanitised`,
            ),
      );
    }
    return name === undefined ? undefined : publicName(entry.prefix, this.separator, name);
  }

  private buildNamed(kind: 'tools' | 'prompts', previous: Map<string, Target>) {
    const map = new Map<string, Target>();
    const list: CatalogItem[] = [];
    const claims = new Map<string, { entry: RouterUpstream; item: CatalogItem }[]>();
    for (const entry of this.entries) {
      for (const item of this.visible(entry, kind)) {
        const name = this.publishedName(entry, kind, item);
        if (name === undefined) continue;
        const claim = claims.get(name);
        if (claim) claim.push({ entry, item });
        else claims.set(name, [{ entry, item }]);
      }
    }
    for (const [name, claimants] of claims) {
      // The name's earlier owner keeps it; a newcomer that collides is kept out and reported.
      const owner = claimants.find((c) => previous.get(name)?.upstream === c.entry.upstream) ?? claimants[0];
      if (claimants.length > 1) {
        const others = claimants.filter((c) => c !== owner).map((c) => c.entry.upstream.name);
        this.log.error({ name, kept: owner.entry.upstream.name, keptOut: others }, `${kind} name collision`);
      }
      map.set(name, { upstream: owner.entry.upstream, name: owner.item.name });
      list.push(name === owner.item.name ? owner.item : { ...owner.item, name });
    }
    return { map, list };
  }

  private buildResources() {
    const owners = new Map<string, Upstream[]>();
    for (const { upstream } of this.entries) {
      for (const item of upstream.catalog.resources) {
        const uri = item.uri;
        if (typeof uri !== 'string') {
          const shown = String(JSON.stringify(uri)).slice(0, 100);
          this.warnOnce(`${upstream.name}\0resources\0${shown}`, () =>
            this.log.warn({ upstream: upstream.name, uri: shown }, 'resource without a string uri left out'),
          );
          continue;
        }
        const list = owners.get(uri);
        if (!list) owners.set(uri, [upstream]);
        else if (!list.includes(upstream)) list.push(upstream);
      }
    }
    this.collided = new Map();
    for (const [uri, list] of owners) {
      if (list.length < 2) continue;
      for (const upstream of list) {
        let set = this.collided.get(upstream);
        if (!set) this.collided.set(upstream, (set = new Set()));
        set.add(uri);
      }
    }
    const resources: CatalogItem[] = [];
    this.resources = new Map();
    for (const { upstream } of this.entries) {
      for (const item of upstream.catalog.resources) {
        const uri = item.uri;
        if (typeof uri !== 'string') continue;
        const published = this.publishedUri(upstream, uri);
        this.resources.set(published, { upstream, name: uri });
        resources.push(published === uri ? item : { ...item, uri: published });
      }
    }
    const resourceTemplates: CatalogItem[] = [];
    this.templates = [];
    for (const { upstream } of this.entries) {
      for (const item of upstream.catalog.resourceTemplates) {
        try {
          this.templates.push({ template: new UriTemplate(String(item.uriTemplate)), upstream });
          resourceTemplates.push(item);
        } catch (error) {
          this.log.warn(
            { upstream: upstream.name, uriTemplate: item.uriTemplate, error: String(error) },
            'bad URI template left out',
          );
        }
      }
    }
    return { resources, resourceTemplates };
  }
}
