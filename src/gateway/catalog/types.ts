// The catalogue's shapes: a target resolved to the upstream that serves it, an upstream as the router sees
// it (prefix, catalogue filters, tool curation), and a published list item with its target.
import type { Target } from '../../policy/types.js';
import type { CatalogItem } from '../../upstreams/catalog.js';
import type { Upstream } from '../../upstreams/pool.js';
import type { ToolsCuration } from '../config-curation.js';

/** A resolved target, with the upstream that serves it. */
export interface RoutedTarget extends Target {
  readonly server: Upstream;
  /** A tool whose config hides or fixes arguments: what its calls' arguments go through. */
  readonly args?: ArgsCuration;
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
  /** Its `tools:` block (rename, describe, hideArgs, fixArgs by the upstream's own names), if any. */
  curation?: ToolsCuration;
}

/** A published list item and the target it stands for: what views filter. */
export interface ListedItem {
  readonly target: RoutedTarget;
  readonly item: CatalogItem;
}

/** What a call's arguments go through: keys dropped (hidden or fixed), then the fixed values set. */
export interface ArgsCuration {
  readonly drop: ReadonlySet<string>;
  readonly fixed: readonly (readonly [string, unknown])[];
}
