// Rewrites resource URIs inside an upstream's result to their published form, so that links and embedded
// resources read back through the gateway. Costs nothing unless this upstream has colliding URIs.
import type { Upstream } from '../../upstreams/pool.js';
import type { Router } from './router.js';

export function rewriteUris(router: Router, upstream: Upstream, result: unknown): unknown {
  const collided = router.collidedUris(upstream);
  if (!collided?.size || !result || typeof result !== 'object') return result;
  const swap = (uri: unknown) =>
    typeof uri === 'string' && collided.has(uri) ? router.publishedUri(upstream, uri) : uri;
  const fixItem = (item: any): any => {
    if (!item || typeof item !== 'object') return item;
    if (item.type === 'resource_link') return { ...item, uri: swap(item.uri) };
    if (item.type === 'resource' && item.resource)
      return { ...item, resource: { ...item.resource, uri: swap(item.resource.uri) } };
    return item;
  };
  const out: any = { ...result };
  if (Array.isArray(out.content)) out.content = out.content.map(fixItem);
  if (Array.isArray(out.contents)) out.contents = out.contents.map((c: any) => ({ ...c, uri: swap(c.uri) }));
  if (Array.isArray(out.messages))
    out.messages = out.messages.map((m: any) => ({ ...m, content: fixItem(m.content) }));
  return out;
}
