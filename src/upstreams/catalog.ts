// The cached catalogue of one upstream (tools, prompts, resources, resource templates), fetched to the last
// page and refreshed per kind when the upstream sends list_changed.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { z } from 'zod';

export type CatalogKind = 'tools' | 'prompts' | 'resources' | 'resourceTemplates';
export type CatalogItem = Record<string, unknown> & { name: string };

export interface Catalog {
  tools: CatalogItem[];
  prompts: CatalogItem[];
  resources: CatalogItem[];
  resourceTemplates: CatalogItem[];
}

export const emptyCatalog = (): Catalog => ({ tools: [], prompts: [], resources: [], resourceTemplates: [] });

/** Results the gateway only passes on are not validated again (see docs/performance.md). */
export const passthroughResult = z.any();

const LIST_METHOD: Record<CatalogKind, string> = {
  tools: 'tools/list',
  prompts: 'prompts/list',
  resources: 'resources/list',
  resourceTemplates: 'resources/templates/list',
};

/** Keyed by an upstream's method name, so a Map: `constructor` or `__proto__` must find nothing. */
export const LIST_CHANGED_KINDS: ReadonlyMap<unknown, readonly CatalogKind[]> = new Map<
  unknown,
  readonly CatalogKind[]
>([
  ['notifications/tools/list_changed', ['tools']],
  ['notifications/prompts/list_changed', ['prompts']],
  ['notifications/resources/list_changed', ['resources', 'resourceTemplates']],
]);

/** A guard against upstreams that hand out cursors forever. */
const MAX_PAGES = 1000;

export function supportedKinds(client: Client): CatalogKind[] {
  const caps = client.getServerCapabilities() ?? {};
  const kinds: CatalogKind[] = [];
  if (caps.tools) kinds.push('tools');
  if (caps.prompts) kinds.push('prompts');
  if (caps.resources) kinds.push('resources', 'resourceTemplates');
  return kinds;
}

export async function fetchKind(
  client: Client,
  kind: CatalogKind,
  timeoutMs: number,
): Promise<CatalogItem[]> {
  const items: CatalogItem[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const result = await client.request(
      { method: LIST_METHOD[kind], params: cursor === undefined ? {} : { cursor } },
      passthroughResult,
      { timeout: timeoutMs },
    );
    const list = (result as Record<string, unknown>)?.[kind];
    if (!Array.isArray(list)) throw new Error(`${LIST_METHOD[kind]} answered without a "${kind}" array`);
    for (const item of list) if (item && typeof item === 'object') items.push(item as CatalogItem);
    const next = (result as { nextCursor?: unknown }).nextCursor;
    if (typeof next !== 'string' || next === '' || seen.has(next)) return items;
    seen.add(next);
    cursor = next;
  }
  return items;
}

export async function fetchCatalog(client: Client, timeoutMs: number): Promise<Catalog> {
  const catalog = emptyCatalog();
  await Promise.all(
    supportedKinds(client).map(async (kind) => {
      catalog[kind] = await fetchKind(client, kind, timeoutMs).catch((error) => {
        // Servers that declare resources often lack templates; that is an empty list, not an outage.
        if (kind === 'resourceTemplates' && (error as { code?: number }).code === -32601) return [];
        throw error;
      });
    }),
  );
  return catalog;
}
