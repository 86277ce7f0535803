// How a configured upstream is reached: the transport spec (stdio command, HTTP URL with the credentials the
// gateway obtains for it, or a built-in server created in-process with its options parsed and the published
// names of its tools, renames included).
import { builtinServers, type BuiltinName } from '../builtin-servers/index.js';
import { upstreamCredentials } from '../upstreams/credentials.js';
import type { UpstreamSpec } from '../upstreams/transports.js';
import {
  builtinOptions,
  upstreamKind,
  type BuiltinUpstreamConfig,
  type HttpUpstreamConfig,
  type StdioUpstreamConfig,
  type UpstreamConfig,
} from './config.js';

export function specFor(
  upstream: UpstreamConfig,
  baseDir: string,
  published: (tool: string) => string,
): UpstreamSpec {
  switch (upstreamKind(upstream)) {
    case 'stdio': {
      const { command, args, env, cwd } = upstream as StdioUpstreamConfig;
      return { kind: 'stdio', command, args, env, cwd: cwd ?? baseDir };
    }
    case 'http': {
      const { url, headers, type, auth } = upstream as HttpUpstreamConfig;
      // `type: http` (VS Code's word) still falls back to SSE; `streamable-http` and `sse` pin one protocol.
      const transport = type === 'sse' ? 'sse' : type === 'streamable-http' ? 'streamable-http' : undefined;
      const credentials = auth && upstreamCredentials(auth);
      return { kind: 'http', url, headers, transport, ...(credentials && { credentials }) };
    }
    case 'builtin': {
      const entry = upstream as BuiltinUpstreamConfig;
      const definition = builtinServers[entry.builtin as BuiltinName];
      const options = (definition.optionsSchema as { parse(v: unknown): unknown }).parse(
        builtinOptions(entry),
      );
      // Built-ins name their own tools in prompts and instructions: they must use the published names, renames
      // included (a Map: a tool called `constructor` must not find Object's).
      const renames = new Map(Object.entries(entry.tools?.rename ?? {}));
      const publicName = (tool: string) => published(renames.get(tool) ?? tool);
      return {
        kind: 'memory',
        create: () => (definition.create as (o: unknown, c: object) => any)(options, { baseDir, publicName }),
      };
    }
  }
}
