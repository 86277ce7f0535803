// The four lists as one principal sees them: with no visibility predicate, the router's own bytes (today's
// path, nothing added); otherwise the items the predicate lets through, serialised once per view and kept in
// an LRU cache keyed by the view key, until the catalogue's next rebuild.
import { LRUCache } from 'lru-cache';
import type { Visibility } from '../../policy/compose.js';
import type { Principal } from '../../policy/types.js';
import type { CatalogKind } from '../../upstreams/catalog.js';
import { LIST_KEYS, type Router } from './router.js';

/** Distinct views kept at once (each is four lists at most); the least recently used is rebuilt on demand. */
const MAX_VIEWS = 1000;

export class Views {
  private readonly cache = new LRUCache<string, Buffer>({ max: MAX_VIEWS * 4 });
  /** The views of the generation before: what list_changed compares against. */
  private previous = new Map<string, Buffer>();
  private generation = -1;

  constructor(
    private readonly router: Router,
    private readonly visibility: Visibility | undefined,
  ) {}

  /** The pre-serialised `result` of a list request for this principal. */
  listJson(kind: CatalogKind, principal: Principal): Buffer {
    const { visibility, router } = this;
    if (!visibility) return router.listJson(kind);
    if (this.generation !== router.generation) {
      this.previous = new Map(this.cache.entries());
      this.cache.clear();
      this.generation = router.generation;
    }
    const key = `${kind}\0${visibility.viewKey(principal)}`;
    let bytes = this.cache.get(key);
    if (bytes === undefined) {
      const items = [];
      for (const { target, item } of router.listed(kind))
        if (visibility.visible(principal, target)) items.push(item);
      bytes = Buffer.from(JSON.stringify({ [LIST_KEYS[kind]]: items }));
      this.cache.set(key, bytes);
    }
    return bytes;
  }

  /** Whether a rebuild changed this principal's view of a list (true when there is no earlier view to
   * compare with): list_changed goes only to sessions whose list did change, so it reveals nothing else. */
  changedFor(kind: CatalogKind, principal: Principal): boolean {
    if (!this.visibility) return true;
    const now = this.listJson(kind, principal);
    const before = this.previous.get(`${kind}\0${this.visibility.viewKey(principal)}`);
    return before === undefined || !before.equals(now);
  }
}
