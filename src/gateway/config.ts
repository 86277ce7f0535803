// The gateway's config: one zod schema, and loadConfig (YAML/JSON -> ${ENV} -> validate -> freeze).
// A bad file is fatal at start with a message naming the path of the bad key.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import { builtinServers } from '../builtin-servers/index.js';

const UPSTREAM_NAME = /^[A-Za-z0-9_-]+$/;

/** "60s", "500ms", "2m" or a number of milliseconds. */
const duration = z.union([
  z.number().int().nonnegative(),
  z
    .string()
    .regex(
      /^\d+(\.\d+)?(ms|s|m|h)$/,
      'expected a duration such as 500ms, 30s, 5m or a number of milliseconds',
    )
    .transform((text) => {
      const [, amount, unit] = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text)!;
      const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'];
      return Math.round(Number(amount) * scale);
    }),
]);

const common = {
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9_-]*$/, 'letters, digits, - and _ only')
    .optional(),
  scope: z.enum(['shared', 'session']).optional(),
  timeout: duration.optional(),
  enabled: z.boolean().default(true),
  tools: z
    .strictObject({ allow: z.array(z.string()).optional(), deny: z.array(z.string()).optional() })
    .optional(),
  /** Claude Desktop / VS Code entries carry a `type`; it is accepted and checked against the shape. */
  type: z.enum(['stdio', 'http', 'streamable-http', 'sse']).optional(),
};

export const stdioUpstreamSchema = z.strictObject({
  ...common,
  command: z.string().min(1),
  args: z.array(z.string()).default([]),
  env: z.record(z.string(), z.string()).default({}),
  cwd: z.string().optional(),
});

export const httpUpstreamSchema = z.strictObject({
  ...common,
  url: z.url({ protocol: /^https?$/ }),
  headers: z.record(z.string(), z.string()).default({}),
});

const builtinNames = Object.keys(builtinServers) as [string, ...string[]];
/** Options of a built-in server sit beside `builtin:`; its own schema checks them. */
export const builtinUpstreamSchema = z.looseObject({ ...common, builtin: z.enum(builtinNames) });

const KNOWN_UPSTREAM_KEYS = new Set([
  ...Object.keys(stdioUpstreamSchema.shape),
  ...Object.keys(httpUpstreamSchema.shape),
  'builtin',
]);

const upstreamSchema = z.union([stdioUpstreamSchema, httpUpstreamSchema, builtinUpstreamSchema]);

export const configSchema = z.strictObject({
  listen: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65535).default(8080),
    })
    .prefault({}),
  namespace: z.strictObject({ separator: z.string().min(1).max(8).default('__') }).prefault({}),
  http: z
    .strictObject({
      /** Host header values accepted (DNS-rebinding guard); hostnames, port optional. */
      allowedHosts: z.array(z.string()).default(['localhost', '127.0.0.1', '[::1]']),
      /** Origin header values accepted when a browser sends one; defaults to the allowed hosts on http(s). */
      allowedOrigins: z.array(z.string()).optional(),
      bodyLimit: z
        .number()
        .int()
        .positive()
        .default(4 * 1024 * 1024),
      requestTimeout: duration.default(120_000),
    })
    .prefault({}),
  sessions: z
    .strictObject({
      idleTimeout: duration.default(30 * 60_000),
      max: z.number().int().positive().default(100_000),
    })
    .prefault({}),
  defaults: z.strictObject({ timeout: duration.default(60_000) }).prefault({}),
  logging: z
    .strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info') })
    .prefault({}),
  upstreams: z.record(
    z.string().regex(UPSTREAM_NAME, 'upstream names use letters, digits, - and _'),
    upstreamSchema,
  ),
});

export type GatewayConfig = z.output<typeof configSchema>;
export type UpstreamConfig = GatewayConfig['upstreams'][string];
export type StdioUpstreamConfig = z.output<typeof stdioUpstreamSchema>;
export type HttpUpstreamConfig = z.output<typeof httpUpstreamSchema>;
export type BuiltinUpstreamConfig = z.output<typeof builtinUpstreamSchema>;

export function upstreamKind(upstream: UpstreamConfig): 'stdio' | 'http' | 'builtin' {
  // `builtin` first: a built-in server's own options may include a `url` (sql does).
  if ('builtin' in upstream) return 'builtin';
  if ('command' in upstream) return 'stdio';
  return 'http';
}

/** Reads, expands and validates a config file; every failure is a GatewayError of kind `config`. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new GatewayError('config', `${file}: cannot read the config file (${(error as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new GatewayError(
      'config',
      `${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`,
    );
  }
  return parseConfig(raw, { env, baseDir: path.dirname(path.resolve(file)), source: file });
}

export function parseConfig(
  raw: unknown,
  options: { env?: NodeJS.ProcessEnv; baseDir?: string; source?: string } = {},
): GatewayConfig {
  const source = options.source ?? 'config';
  const fail = (message: string) => new GatewayError('config', `${source}: ${message}`);
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw fail('the top level must be a mapping');
  const top = { ...(raw as Record<string, unknown>) };
  if ('mcpServers' in top) {
    if ('upstreams' in top) throw fail('mcpServers: give either upstreams or mcpServers, not both');
    top.upstreams = top.mcpServers;
    delete top.mcpServers;
  }
  top.upstreams ??= {};
  const expanded = expandEnv(top, options.env ?? process.env, [], fail);
  const result = configSchema.safeParse(expanded);
  if (!result.success) throw fail(describeIssues(result.error.issues, expanded));
  const config = result.data;
  const baseDir = options.baseDir ?? process.cwd();
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    if (name.includes(config.namespace.separator)) {
      throw fail(`upstreams.${name}: the name contains the separator "${config.namespace.separator}"`);
    }
    const kind = upstreamKind(upstream);
    checkDeclaredType(name, kind, upstream.type, fail);
    if (kind === 'stdio' && (upstream as StdioUpstreamConfig).cwd) {
      (upstream as StdioUpstreamConfig).cwd = path.resolve(baseDir, (upstream as StdioUpstreamConfig).cwd!);
    }
    if (kind === 'builtin') validateBuiltinOptions(name, upstream as BuiltinUpstreamConfig, fail);
  }
  Object.defineProperty(config, 'baseDir', { value: baseDir, enumerable: false });
  return deepFreeze(config);
}

/** The folder relative paths in the config resolve against (the config file's folder). */
export function configBaseDir(config: GatewayConfig): string {
  return (config as GatewayConfig & { baseDir?: string }).baseDir ?? process.cwd();
}

/** Options beside `builtin:` with the keys every upstream shares taken out. */
export function builtinOptions(upstream: BuiltinUpstreamConfig): Record<string, unknown> {
  const options: Record<string, unknown> = { ...upstream };
  for (const key of [...Object.keys(common), 'builtin']) delete options[key];
  return options;
}

function validateBuiltinOptions(name: string, upstream: BuiltinUpstreamConfig, fail: (m: string) => Error) {
  const definition = builtinServers[upstream.builtin as keyof typeof builtinServers];
  const parsed = (definition.optionsSchema as z.ZodType).safeParse(builtinOptions(upstream));
  if (!parsed.success) {
    throw fail(
      parsed.error.issues
        .map((issue) =>
          formatIssue(['upstreams', name, ...issue.path.map(String)], issue as z.core.$ZodIssue),
        )
        .join('; '),
    );
  }
}

function checkDeclaredType(name: string, kind: string, type: string | undefined, fail: (m: string) => Error) {
  if (type === undefined) return;
  const fits = kind === 'stdio' ? type === 'stdio' : kind === 'http' ? type !== 'stdio' : false;
  if (!fits) throw fail(`upstreams.${name}.type: "${type}" does not fit a ${kind} upstream`);
}

const ENV_REF = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

/** Replaces ${NAME} in every string; `$${` stays a literal `${`. A missing variable is an error. */
function expandEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  at: string[],
  fail: (m: string) => Error,
): unknown {
  if (typeof value === 'string') {
    return value.replace(ENV_REF, (match, name: string | undefined) => {
      if (name === undefined) return '${';
      const found = env[name];
      if (found === undefined) throw fail(`${at.join('.')}: environment variable ${name} is not set`);
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => expandEnv(item, env, [...at, String(i)], fail));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, expandEnv(item, env, [...at, key], fail)]),
    );
  }
  return value;
}

function describeIssues(issues: readonly z.core.$ZodIssue[], input: unknown): string {
  return issues.map((issue) => describeIssue(issue, input)).join('; ');
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const at = issue.path.map(String);
  if (issue.code === 'invalid_union' && at[0] === 'upstreams' && at.length === 2) {
    // Report the branch the entry was meant to be, not zod's list of every alternative.
    const entry = valueAt(input, at) as Record<string, unknown> | undefined;
    const branch =
      entry && typeof entry === 'object' ? ['command', 'url', 'builtin'].findIndex((k) => k in entry) : -1;
    if (branch === -1 || !issue.errors[branch]) {
      const unknown =
        entry && typeof entry === 'object'
          ? Object.keys(entry).filter((k) => !KNOWN_UPSTREAM_KEYS.has(k))
          : [];
      const hint = `${at.join('.')}: an upstream needs one of command (stdio), url (HTTP) or builtin`;
      return [...unknown.map((k) => `${[...at, k].join('.')}: unknown key`), hint].join('; ');
    }
    return issue.errors[branch]
      .map((inner) => formatIssue([...at, ...inner.path.map(String)], inner))
      .join('; ');
  }
  return formatIssue(at, issue);
}

function formatIssue(at: string[], issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${[...at, key].join('.')}: unknown key`).join('; ');
  }
  const where = at.length ? at.join('.') : '(top level)';
  if (issue.code === 'invalid_type' && issue.input === undefined) return `${where}: required`;
  if (issue.code === 'invalid_key') return `${where}: ${issue.issues[0]?.message ?? issue.message}`;
  if (issue.code === 'invalid_union') {
    // The branch whose type matched says what is wrong; a plain type mismatch says least.
    const branch = issue.errors.find(
      (e) => !(e.length === 1 && e[0].code === 'invalid_type' && e[0].path.length === 0),
    );
    if (branch?.length) return formatIssue([...at, ...branch[0].path.map(String)], branch[0]);
  }
  return `${where}: ${issue.message}`;
}

function valueAt(input: unknown, at: string[]): unknown {
  let current = input;
  for (const key of at) current = (current as Record<string, unknown> | undefined)?.[key];
  return current;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
