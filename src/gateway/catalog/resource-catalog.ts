// The merged resource catalogue: every upstream's resources and URI templates through its filter, URIs
// that two upstreams list rewritten reversibly (switchboard://<upstream>/<encoded original>) so both stay
// readable, and each item paired with its target.
import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';
import type { Upstream } from '../../upstreams/pool.js';
import type { ListedItem, RoutedTarget, RouterUpstream } from './types.js';

export const COLLIDED_SCHEME = 'switchboard://';

export function passes(entry: RouterUpstream, uri: string): boolean {
  return !entry.filter.resources || entry.filter.resources(uri);
}

export function publishedUri(collided: Map<Upstream, Set<string>>, upstream: Upstream, uri: string): string {
  return collided.get(upstream)?.has(uri)
    ? `${COLLIDED_SCHEME}${upstream.name}/${encodeURIComponent(uri)}`
    : uri;
}

export function resourceTarget(upstream: Upstream, published: string, original: string): RoutedTarget {
  return { kind: 'resource', upstream: upstream.name, name: published, original, server: upstream };
}

/** A malformed percent-encoding names nothing (decodeURIComponent would throw). */
export function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

/** Logs a catalogue problem once (the router remembers what it already said). */
type WarnOnce = (key: string, log: () => void) => void;

export function buildResourceCatalog(entries: readonly RouterUpstream[], warnOnce: WarnOnce) {
  const owners = new Map<string, Upstream[]>();
  for (const entry of entries) {
    const { upstream } = entry;
    for (const item of upstream.catalog.resources) {
      const uri = item.uri;
      if (typeof uri !== 'string') {
        const shown = String(JSON.stringify(uri)).slice(0, 100);
        warnOnce(`${upstream.name}\0resources\0${shown}`, () =>
          upstream.log.warn({ uri: shown }, 'resource without a string uri left out'),
        );
        continue;
      }
      if (!passes(entry, uri)) continue;
      const list = owners.get(uri);
      if (!list) owners.set(uri, [upstream]);
      else if (!list.includes(upstream)) list.push(upstream);
    }
  }
  const collided = new Map<Upstream, Set<string>>();
  for (const [uri, list] of owners) {
    if (list.length < 2) continue;
    for (const upstream of list) {
      let set = collided.get(upstream);
      if (!set) collided.set(upstream, (set = new Set()));
      set.add(uri);
    }
  }
  const resources: ListedItem[] = [];
  const byUri = new Map<string, RoutedTarget>();
  for (const entry of entries) {
    const { upstream } = entry;
    for (const item of upstream.catalog.resources) {
      const uri = item.uri;
      if (typeof uri !== 'string' || !passes(entry, uri)) continue;
      const published = publishedUri(collided, upstream, uri);
      const target = resourceTarget(upstream, published, uri);
      byUri.set(published, target);
      resources.push({ target, item: published === uri ? item : { ...item, uri: published } });
    }
  }
  const resourceTemplates: ListedItem[] = [];
  const templates: { template: UriTemplate; target: RoutedTarget }[] = [];
  const denied: { template: UriTemplate; upstream: Upstream }[] = [];
  for (const entry of entries) {
    const { upstream } = entry;
    for (const item of upstream.catalog.resourceTemplates) {
      const text = String(item.uriTemplate);
      try {
        const template = new UriTemplate(text);
        if (!passes(entry, text)) {
          // Filtered out: a URI it would expand to is not looked for on this upstream either.
          denied.push({ template, upstream });
          continue;
        }
        const target: RoutedTarget = {
          kind: 'template',
          upstream: upstream.name,
          name: text,
          original: text,
          server: upstream,
        };
        templates.push({ template, target });
        resourceTemplates.push({ target, item });
      } catch (error) {
        upstream.log.warn(
          { uriTemplate: item.uriTemplate, error: String(error) },
          'bad URI template left out',
        );
      }
    }
  }
  return { resources, resourceTemplates, byUri, templates, denied, collided };
}
