// Public name <-> target (upstream, original name): builds the merged catalogue from every upstream's cache,
// applies each upstream's catalogue filter (tools/prompts/resources allow/deny) and tool curation (rename,
// describe, hidden and fixed arguments), pre-serialises each list once per rebuild, and resolves names and URIs.
// What a principal may see is the pipeline's business (views.ts).
import type { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';
import type { Logger } from 'pino';
import type { CatalogItem, CatalogKind } from '../../upstreams/catalog.js';
import type { Upstream } from '../../upstreams/pool.js';
import {
  collisionMessage,
  compileCuration,
  curatedItem,
  curationProblems,
  type Claim,
  type ToolCurations,
} from './curation.js';
import { publicName, safeName } from './names.js';
import type { ListedItem, RoutedTarget, RouterUpstream } from './types.js';
import type { ToolCandidate } from '../stores/pins.js';
import {
  buildResourceCatalog,
  COLLIDED_SCHEME,
  passes,
  publishedUri,
  resourceTarget,
  safeDecode,
} from './resource-catalog.js';

export const LIST_KEYS: Record<CatalogKind, string> = {
  tools: 'tools',
  prompts: 'prompts',
  resources: 'resources',
  resourceTemplates: 'resourceTemplates',
};

const ITEM_KIND = { tools: 'tool', prompts: 'prompt' } as const;

/** How many distinct bad names are remembered so each is logged once (then the memory starts over). */
const MAX_WARNED = 1000;

export class Router {
  private tools = new Map<string, RoutedTarget>();
  private prompts = new Map<string, RoutedTarget>();
  /**
   * Names an upstream published before it went down, kept while it restarts: out of the lists (they cannot be
   * called), but a call to one is told the upstream is unavailable, not that the name is unknown. Only names
   * that were published (so never one a filter hides); dropped once the upstream is back.
   */
  private unavailable: Record<'tools' | 'prompts', Map<string, RoutedTarget>> = {
    tools: new Map(),
    prompts: new Map(),
  };
  private resources = new Map<string, RoutedTarget>();
  private templates: { template: UriTemplate; target: RoutedTarget }[] = [];
  /** Templates a catalogue filter left out, with their upstream. */
  private deniedTemplates: { template: UriTemplate; upstream: Upstream }[] = [];
  private collided = new Map<Upstream, Set<string>>();
  private byUpstream!: Map<Upstream, RouterUpstream>;
  /** Each curating upstream's tool curation, compiled once (per reload). */
  private curations = new Map<Upstream, ToolCurations>();
  /** Bad upstream names already logged, so a refresh does not repeat the line. */
  private warned = new Set<string>();
  /** Each list's items with their targets, and its result serialised once per rebuild (a list request only
   * copies the bytes). */
  private items: Record<CatalogKind, ListedItem[]> = {
    tools: [],
    prompts: [],
    resources: [],
    resourceTemplates: [],
  };
  private lists: Record<CatalogKind, Buffer> = {
    tools: Buffer.from('{"tools":[]}'),
    prompts: Buffer.from('{"prompts":[]}'),
    resources: Buffer.from('{"resources":[]}'),
    resourceTemplates: Buffer.from('{"resourceTemplates":[]}'),
  };
  /** Counts rebuilds: caches derived from the lists (per-view bytes) are valid for one generation. */
  generation = 0;

  constructor(
    private entries: readonly RouterUpstream[],
    private readonly separator: string,
    private readonly log: Logger,
    /** Tool-definition pins: the tools of a rebuild it holds back are left out (quarantined = unknown). */
    private readonly pins?: {
      held(candidates: readonly ToolCandidate[], ready: readonly string[]): ReadonlySet<CatalogItem>;
    },
  ) {
    this.replaceEntries(entries);
  }

  /** Swaps the upstreams behind the catalogue (a config reload); the next rebuild publishes the new set. */
  replaceEntries(entries: readonly RouterUpstream[]): void {
    const curations = new Map<Upstream, ToolCurations>();
    for (const entry of entries) {
      const curation = compileCuration(entry.curation);
      if (curation) curations.set(entry.upstream, curation);
    }
    this.entries = entries;
    this.byUpstream = new Map(entries.map((e) => [e.upstream, e]));
    this.curations = curations;
  }

  /** Name collisions right now (among unprefixed upstreams, or made by a rename), as messages (fatal at
   * start-up). */
  collisions(): string[] {
    const owners = new Map<string, Claim>();
    const found: string[] = [];
    for (const entry of this.entries) {
      for (const kind of ['tools', 'prompts'] as const) {
        for (const item of this.filtered(entry, kind)) {
          const name = this.publishedName(entry, kind, item);
          if (name === undefined) continue;
          const key = `${kind}:${name}`;
          const renamed = kind === 'tools' && this.curation(entry, item.name)?.rename !== undefined;
          const claim: Claim = { upstream: entry.upstream.name, own: item.name, renamed };
          const other = owners.get(key);
          if (other === undefined) owners.set(key, claim);
          const message = other && collisionMessage(`${ITEM_KIND[kind]} "${name}"`, other, claim);
          if (message) found.push(message);
        }
      }
    }
    return found;
  }

  /** Rebuilds every map and list from the upstreams' caches; returns the kinds whose list changed. */
  rebuild(): CatalogKind[] {
    const changed: CatalogKind[] = [];
    const tools = this.buildNamed('tools', this.tools);
    const prompts = this.buildNamed('prompts', this.prompts);
    const resources = buildResourceCatalog(this.entries, (key, log) => this.warnOnce(key, log));
    this.checkCurations();
    this.collided = resources.collided;
    this.resources = resources.byUri;
    this.templates = resources.templates;
    this.deniedTemplates = resources.denied;
    this.unavailable.tools = this.stillUnavailable('tools', this.tools, tools.map);
    this.unavailable.prompts = this.stillUnavailable('prompts', this.prompts, prompts.map);
    this.tools = tools.map;
    this.prompts = prompts.map;
    this.items = {
      tools: tools.list,
      prompts: prompts.list,
      resources: resources.resources,
      resourceTemplates: resources.resourceTemplates,
    };
    for (const kind of Object.keys(this.items) as CatalogKind[]) {
      const json = Buffer.from(JSON.stringify({ [LIST_KEYS[kind]]: this.items[kind].map((i) => i.item) }));
      if (!json.equals(this.lists[kind])) changed.push(kind);
      this.lists[kind] = json;
    }
    this.generation++;
    return changed;
  }

  /** What each ready upstream's catalogue contradicts in its tool curation (`switchboard check` prints them). */
  curationWarnings(): string[] {
    return this.entries.flatMap((entry) => curationProblems(entry));
  }

  /** The pre-serialised `result` of a list request (everything published). */
  listJson(kind: CatalogKind): Buffer {
    return this.lists[kind];
  }

  /** The published items of a list with their targets. */
  listed(kind: CatalogKind): readonly ListedItem[] {
    return this.items[kind];
  }

  /** The target of a public tool name; undefined when unknown (or its upstream is down: see `down`). */
  tool(name: string): RoutedTarget | undefined {
    return this.tools.get(name);
  }

  prompt(name: string): RoutedTarget | undefined {
    return this.prompts.get(name);
  }

  /** Off the hot path (a name the maps lack): the target of a name whose upstream is down and restarting. */
  down(kind: 'tools' | 'prompts', name: string): RoutedTarget | undefined {
    return this.unavailable[kind].get(name);
  }

  /**
   * What a URI reads from: a listed URI, a rewritten collision, then the first template that matches (with
   * that template as `template`); undefined if unknown or filtered out.
   */
  resource(uri: string): { target: RoutedTarget; template?: RoutedTarget } | undefined {
    const listed = this.resources.get(uri);
    if (listed) return { target: listed };
    if (uri.startsWith(COLLIDED_SCHEME)) {
      const rest = uri.slice(COLLIDED_SCHEME.length);
      const slash = rest.indexOf('/');
      const entry = this.entries.find((e) => e.upstream.name === rest.slice(0, slash));
      const original = slash > 0 ? safeDecode(rest.slice(slash + 1)) : undefined;
      // Only a URI that really is published rewritten: any other spelling names nothing.
      if (entry && original !== undefined && this.collided.get(entry.upstream)?.has(original))
        return { target: resourceTarget(entry.upstream, uri, original) };
    }
    for (const { template, target } of this.templates) {
      if (template.match(uri) && this.passes(this.byUpstream.get(target.server)!, uri))
        return { target: resourceTarget(target.server, uri, uri), template: target };
    }
    return undefined;
  }

  /** The published template of this upstream that a URI matches (what the probe of an unlisted URI checks). */
  templateOn(upstream: Upstream, uri: string): RoutedTarget | undefined {
    for (const { template, target } of this.templates)
      if (target.server === upstream && template.match(uri)) return target;
    return undefined;
  }

  /** The target of this exact published URI template (completion of template arguments). */
  template(uriTemplate: string): RoutedTarget | undefined {
    return this.templates.find((t) => t.target.name === uriTemplate)?.target;
  }

  /** Upstreams that serve resources and whose filter lets this URI through, in config order: where an
   * unlisted URI is looked for. */
  resourceUpstreams(uri: string): Upstream[] {
    return this.entries
      .filter(
        (e) =>
          e.upstream.state === 'ready' &&
          e.upstream.catalog.resources.length + e.upstream.catalog.resourceTemplates.length > 0 &&
          this.passes(e, uri) &&
          !this.deniedTemplates.some((d) => d.upstream === e.upstream && d.template.match(uri)),
      )
      .map((e) => e.upstream);
  }

  /** Original URIs of this upstream that are published rewritten (empty for almost every upstream). */
  collidedUris(upstream: Upstream): ReadonlySet<string> | undefined {
    return this.collided.get(upstream);
  }

  publishedUri(upstream: Upstream, uri: string): string {
    return publishedUri(this.collided, upstream, uri);
  }

  private passes(entry: RouterUpstream, uri: string): boolean {
    return passes(entry, uri);
  }

  /** Names the last catalogue had that the next lacks because their upstream is not ready, plus earlier such
   * names whose upstream is still not ready. A ready upstream that no longer lists a name makes it unknown. */
  private stillUnavailable(
    kind: 'tools' | 'prompts',
    previous: Map<string, RoutedTarget>,
    next: Map<string, RoutedTarget>,
  ): Map<string, RoutedTarget> {
    const kept = new Map<string, RoutedTarget>();
    for (const [name, target] of this.unavailable[kind])
      if (target.server.state !== 'ready' && !next.has(name)) kept.set(name, target);
    for (const [name, target] of previous)
      if (target.server.state !== 'ready' && !next.has(name)) kept.set(name, target);
    return kept;
  }

  /** The upstream's items that its catalogue filter lets through (by the upstream's own name). */
  private filtered(entry: RouterUpstream, kind: 'tools' | 'prompts'): CatalogItem[] {
    const items = entry.upstream.catalog[kind];
    const filter = entry.filter[kind];
    if (!filter) return items;
    // A name that is not a string is left out later; it must not reach RegExp.test, which would coerce it.
    return items.filter((t) => typeof t.name !== 'string' || filter(t.name));
  }

  /** Logs, once each, what the ready upstreams' tool lists contradict in their curation. */
  private checkCurations(): void {
    for (const entry of this.entries)
      for (const problem of curationProblems(entry))
        this.warnOnce(`curation\0${problem}`, () =>
          this.log.warn({ upstream: entry.upstream.name }, `tool curation: ${problem}`),
        );
  }

  /** The curation of an upstream's tool, by its own name (undefined for names that are not strings). */
  private curation(entry: RouterUpstream, name: unknown) {
    return typeof name === 'string' ? this.curations.get(entry.upstream)?.get(name) : undefined;
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
    // A rename is checked at config load: it needs no sanitising, and makes the upstream's own name harmless.
    const renamed = kind === 'tools' ? this.curation(entry, item.name)?.rename : undefined;
    if (renamed !== undefined) return publicName(entry.prefix, this.separator, renamed);
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

  private buildNamed(kind: 'tools' | 'prompts', previous: Map<string, RoutedTarget>) {
    const map = new Map<string, RoutedTarget>();
    const list: ListedItem[] = [];
    /** The upstream's own item behind each listed one: what pins compare. */
    const owned: CatalogItem[] = [];
    const claims = new Map<string, { entry: RouterUpstream; item: CatalogItem }[]>();
    for (const entry of this.entries) {
      for (const item of this.filtered(entry, kind)) {
        const name = this.publishedName(entry, kind, item);
        if (name === undefined) continue;
        const claim = claims.get(name);
        if (claim) claim.push({ entry, item });
        else claims.set(name, [{ entry, item }]);
      }
    }
    for (const [name, claimants] of claims) {
      // The name's earlier owner (same upstream, same own name: a rename can make two tools of one upstream
      // claim a name) keeps it; a newcomer that collides is kept out and reported.
      const before = previous.get(name);
      const owner =
        claimants.find((c) => before?.server === c.entry.upstream && before.original === c.item.name) ??
        claimants[0];
      if (claimants.length > 1) {
        const others = claimants.filter((c) => c !== owner);
        this.log.error(
          {
            name,
            kept: owner.entry.upstream.name,
            keptOut: others.map((c) => c.entry.upstream.name),
            ownNames: { kept: owner.item.name, keptOut: others.map((c) => c.item.name) },
          },
          `${kind} name collision`,
        );
      }
      const upstream = owner.entry.upstream;
      const curation = kind === 'tools' ? this.curation(owner.entry, owner.item.name) : undefined;
      const target: RoutedTarget = {
        kind: ITEM_KIND[kind],
        upstream: upstream.name,
        name,
        original: owner.item.name as string,
        server: upstream,
        ...(curation?.args && { args: curation.args }),
      };
      map.set(name, target);
      list.push({ target, item: curatedItem(owner.item, name, curation) });
      owned.push(owner.item);
    }
    if (kind === 'tools' && this.pins) return this.withoutHeld(map, list, owned);
    return { map, list };
  }

  /** The tools list and map without the tools the pins hold back (quarantined). */
  private withoutHeld(map: Map<string, RoutedTarget>, list: ListedItem[], owned: CatalogItem[]) {
    const ready = this.entries.filter((e) => e.upstream.state === 'ready').map((e) => e.upstream.name);
    const candidates = list.map(({ target }, i) => ({
      upstream: target.upstream,
      item: owned[i],
      publicName: target.name,
    }));
    const held = this.pins!.held(candidates, ready);
    if (!held.size) return { map, list };
    for (const { target } of list.filter((_, i) => held.has(owned[i]))) map.delete(target.name);
    return { map, list: list.filter((_, i) => !held.has(owned[i])) };
  }
}
