// Virtual endpoints as a policy kind: a request that came through /mcp/<name> sees only the endpoint's subset
// (globs on public tool and prompt names and on published URIs / URI templates); /mcp itself and stdio see all.
// The gateway's rules still apply on top: visibility is the AND of every policy's predicate.
import { globList } from './glob.js';
import { couldName } from './rules-match.js';
import type { PublishedNames } from './rules.js';
import type { EndpointOptions, EndpointsOptions } from './endpoints-schema.js';
import type { Policy, Principal, Target } from './types.js';

interface CompiledEndpoint {
  readonly tools?: RegExp;
  readonly prompts?: RegExp;
  readonly resources?: RegExp;
  /** Upstream config name -> whether the endpoint can show anything of it (log lines, instructions, probes). */
  readonly upstreams: Map<string, boolean>;
  readonly options: EndpointOptions;
}

export function createEndpointsPolicy(endpoints: EndpointsOptions, names: PublishedNames): Policy {
  const compiled = new Map<string, CompiledEndpoint>();
  for (const [name, options] of Object.entries(endpoints)) {
    compiled.set(name, {
      tools: globList(options.tools),
      prompts: globList(options.prompts),
      resources: globList(options.resources),
      upstreams: new Map(),
      options,
    });
  }

  /** Whether some glob of the endpoint could name an item of this upstream (resources carry no upstream in
   * their URI, so any resource glob counts). Over-approximates, as the rules do for a whole upstream. */
  function upstreamVisible(endpoint: CompiledEndpoint, upstream: string): boolean {
    let known = endpoint.upstreams.get(upstream);
    if (known !== undefined) return known;
    const prefix = names.prefixes.get(upstream);
    const start = prefix === undefined ? undefined : prefix && `${prefix}${names.separator}`;
    const { tools, prompts, resources } = endpoint.options;
    known =
      !!resources?.length || [...(tools ?? []), ...(prompts ?? [])].some((glob) => couldName(glob, start));
    endpoint.upstreams.set(upstream, known);
    return known;
  }

  return {
    name: 'endpoints',
    visible(principal: Principal, target: Target): boolean {
      if (principal.endpoint === undefined) return true;
      // A Map keyed by the configured names: the path segment never reaches an object's prototype.
      const endpoint = compiled.get(principal.endpoint);
      if (!endpoint) return false;
      switch (target.kind) {
        case 'tool':
          return endpoint.tools?.test(target.name) ?? false;
        case 'prompt':
          return endpoint.prompts?.test(target.name) ?? false;
        case 'resource':
        case 'template':
          return endpoint.resources?.test(target.name) ?? false;
        case 'upstream':
          return upstreamVisible(endpoint, target.upstream);
      }
    },
    viewKey: (principal) => (principal.endpoint === undefined ? '' : `endpoint:${principal.endpoint}`),
  };
}
