// Refetching an upstream's lists after list_changed, coalesced: a burst of notices costs at most two fetches per
// list, since notices that arrive while a fetch runs only mark the list dirty and one follow-up fetch sees them all.
import type { CatalogKind } from './catalog.js';

export class CatalogRefresher {
  private readonly running = new Map<CatalogKind, Promise<void>>();
  private readonly dirty = new Set<CatalogKind>();

  /** `fetchOnce` refetches one list; it resolves false when there is nothing to fetch from (stopped, down). */
  constructor(private readonly fetchOnce: (kind: CatalogKind) => Promise<boolean>) {}

  refresh(kind: CatalogKind): void {
    if (this.running.has(kind)) {
      this.dirty.add(kind);
      return;
    }
    const job = (async () => {
      do {
        this.dirty.delete(kind);
        if (!(await this.fetchOnce(kind))) return;
      } while (this.dirty.has(kind));
    })().finally(() => this.running.delete(kind));
    this.running.set(kind, job);
  }
}
