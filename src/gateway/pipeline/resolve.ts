// resolve: a method's name or URI -> the target it routes to, asking the one visibility predicate on the way.
// Whatever the principal may not see resolves exactly as a name that does not exist: same error, same text.
import { GatewayError } from '../../errors.js';
import type { Visibility } from '../../policy/compose.js';
import type { Principal } from '../../policy/types.js';
import type { Router } from '../catalog/router.js';
import type { RoutedTarget } from '../catalog/types.js';
import { upstreamTarget } from '../session/lifecycle.js';
import { bounded } from '../wire/jsonrpc.js';

export function unknownTool(name: string): GatewayError {
  return new GatewayError('not_found', `Unknown tool: ${bounded(name)}`);
}

export function unknownPrompt(name: string): GatewayError {
  return new GatewayError('not_found', `Unknown prompt: ${bounded(name)}`);
}

export function unknownResource(uri: string): GatewayError {
  return new GatewayError('not_found', `Resource not found: ${bounded(uri)}`, { data: { uri } });
}

export class Resolver {
  constructor(
    private readonly router: Router,
    private readonly visibility: Visibility | undefined,
  ) {}

  sees(principal: Principal, target: RoutedTarget): boolean {
    return !this.visibility || this.visibility.visible(principal, target);
  }

  tool(name: string, principal: Principal): RoutedTarget {
    const target = this.router.tool(name) ?? this.down('tools', name, principal);
    if (target && this.sees(principal, target)) return target;
    throw unknownTool(name);
  }

  prompt(name: string, principal: Principal): RoutedTarget {
    const target = this.router.prompt(name) ?? this.down('prompts', name, principal);
    if (target && this.sees(principal, target)) return target;
    throw unknownPrompt(name);
  }

  /** A listed URI, a rewritten collision or a template match the principal may see; undefined otherwise (the
   * caller then looks for it as an unlisted URI, as it would for one that does not exist). */
  resource(uri: string, principal: Principal): RoutedTarget | undefined {
    const found = this.router.resource(uri);
    if (!found || !this.sees(principal, found.target)) return undefined;
    if (found.template && !this.sees(principal, found.template)) return undefined;
    return found.target;
  }

  /**
   * Where an unlisted URI (or one the principal may not see) is looked for: each resource upstream whose
   * filters let it through and that the principal may see, as a whole, for that URI, and through whichever of
   * its templates the URI matches. So a hidden URI is probed exactly like an absent one, minus the upstream
   * that hides it.
   */
  probeTargets(uri: string, principal: Principal): RoutedTarget[] {
    const targets: RoutedTarget[] = [];
    const { visibility } = this;
    for (const server of this.router.resourceUpstreams(uri)) {
      const target: RoutedTarget = {
        kind: 'resource',
        upstream: server.name,
        name: uri,
        original: uri,
        server,
      };
      if (visibility) {
        if (!visibility.visible(principal, upstreamTarget(server.name))) continue;
        if (!visibility.visible(principal, target)) continue;
        const template = this.router.templateOn(server, uri);
        if (template && !visibility.visible(principal, template)) continue;
      }
      targets.push(target);
    }
    return targets;
  }

  /** The target of a URI template the principal may see (completion of its arguments). */
  template(uriTemplate: string, principal: Principal): RoutedTarget | undefined {
    const target = this.router.template(uriTemplate);
    return target && this.sees(principal, target) ? target : undefined;
  }

  /**
   * Off the hot path: a name whose upstream is down and restarting is told so, but only to a principal who may
   * see it (to anyone else it is unknown, like every hidden name).
   */
  private down(kind: 'tools' | 'prompts', name: string, principal: Principal): undefined {
    const target = this.router.down(kind, name);
    if (!target || !this.sees(principal, target)) return undefined;
    const { state, lastError } = target.server;
    const what = state === 'down' ? 'is down and restarting' : `is ${state}`;
    throw new GatewayError(
      'upstream_unavailable',
      `Upstream unavailable: "${target.upstream}", which serves ${name}, ${what}${lastError ? ` (last error: ${lastError})` : ''}; try again once it is back`,
      { data: { upstream: target.upstream, state } },
    );
  }
}
