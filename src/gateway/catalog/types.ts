// The catalogue's shapes: a target resolved to the upstream that serves it, an upstream as the router sees
// it (prefix and catalogue filters), and a published list item with its target.
import type { Target } from '../../policy/types.js';
import type { CatalogItem } from '../../upstreams/catalog.js';
import type { Upstream } from '../../upstreams/pool.js';

/** A resolved target, with the upstream that serves it. */
export interface RoutedTarget extends Target {
  readonly server: Upstream;
}

/** One upstream as the router sees it; a filter is undefined when the config names no allow/deny list. */
export interface RouterUpstream {
  upstream: Upstream;
  prefix: string;
  filter: {
    tools?: (name: string) => boolean;
    prompts?: (name: string) => boolean;
    /** Resource URIs and URI templates. */
    resources?: (uri: string) => boolean;
  };
}

/** A published list item and the target it stands for: what views filter. */
export interface ListedItem {
  readonly target: RoutedTarget;
  readonly item: CatalogItem;
}
