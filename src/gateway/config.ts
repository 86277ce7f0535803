// The gateway's config: one zod schema, and loadConfig (YAML/JSON -> ${ENV} -> validate -> freeze).
// A bad file is fatal at start with a message naming the path of the bad key.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import { policySchema } from '../policy/rules-schema.js';
import { builtinServers } from '../builtin-servers/index.js';
import { principalEnvProblem } from '../upstreams/principal-env.js';
import { endpointsSchema } from '../policy/endpoints-schema.js';
import { authSchema, stdioAuthSchema } from './config-auth.js';
import { auditSchema } from './config-audit.js';
import { telemetrySchema } from './config-telemetry.js';
import { describeIssues, formatIssue } from './config-issues.js';
import { duration } from '../duration.js';
import {
  normalizeHostShape,
  readEnvFile,
  stripJsonComments,
  upstreamsKeyOf,
  workspaceFolder,
} from './host-shapes.js';
import {
  builtinUpstreamSchema,
  common,
  httpUpstreamSchema,
  KNOWN_UPSTREAM_KEYS,
  stdioUpstreamSchema,
  UPSTREAM_NAME,
  upstreamSchema,
} from './config-upstream.js';

export { builtinUpstreamSchema, httpUpstreamSchema, stdioUpstreamSchema };

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
      /** Bytes a client may leave unread on one stream (GET or a POST's SSE answer) before it is disconnected. */
      maxStreamBuffer: z
        .number()
        .int()
        .positive()
        .default(8 * 1024 * 1024),
      /** How long a finished answer may wait for a client that does not read it before it is disconnected. */
      drainTimeout: duration.default(30_000),
      /** A coarse limit of HTTP requests per principal (429 with Retry-After past it); absent: none. */
      rateLimit: z
        .strictObject({
          max: z.number().int().positive(),
          // Counters keep whole seconds (Redis expiries): a finer window would be silently rounded.
          per: duration
            .refine(
              (ms) => ms >= 1000 && ms % 1000 === 0,
              'per counts whole seconds, 1s at least: 30s, 1m, 1h',
            )
            .default(60_000),
        })
        .optional(),
    })
    .prefault({}),
  sessions: z
    .strictObject({
      idleTimeout: duration.default(30 * 60_000),
      max: z.number().int().positive().default(100_000),
      /** Open sessions per source (client address; IPv6 by /64). */
      maxPerSource: z.number().int().positive().default(10_000),
      /** New sessions per minute per source (a token bucket of this size); 0 turns the rate limit off. */
      ratePerSource: z.number().int().nonnegative().default(6_000),
      /** Live `scope: session` upstream connections (a process each for stdio), in total and per source. */
      maxUpstreamConnections: z.number().int().positive().default(100),
      maxUpstreamConnectionsPerSource: z.number().int().positive().default(10),
    })
    .prefault({}),
  /** `serve` on SIGTERM/SIGINT: how long calls in flight may take to finish before they are cut (drain.ts). */
  shutdown: z
    .strictObject({
      drainTimeout: duration.default(30_000),
      /** How long a draining gateway goes on serving after /readyz turns 503, so a load balancer's health check
       * takes it out of rotation before it stops accepting connections (0: Kubernetes' preStop does this). */
      readinessDelay: duration.default(0),
    })
    .prefault({}),
  defaults: z
    .strictObject({
      timeout: duration.default(60_000),
      maxTimeout: duration.default(10 * 60_000),
      startTimeout: duration.default(60_000),
      maxLineBytes: z
        .number()
        .int()
        .positive()
        .default(32 * 1024 * 1024),
      maxResultBytes: z
        .number()
        .int()
        .positive()
        .default(32 * 1024 * 1024),
    })
    .prefault({}),
  /** The stdio front (`switchboard stdio`): a line longer than this is refused and dropped, never buffered on. */
  stdio: z
    .strictObject({
      /** The principal of the stdio front's one session. */
      principal: stdioAuthSchema,
      maxLineBytes: z
        .number()
        .int()
        .positive()
        .default(32 * 1024 * 1024),
    })
    .prefault({}),
  /** Inbound authentication; absent: anonymous, allowed only when listening on loopback. */
  auth: authSchema.optional(),
  /** Who may see and call what (rules, deny overrides allow); absent: everything is allowed, as without auth. */
  policy: policySchema.optional(),
  /** Virtual endpoints: a curated subset of the catalogue served at /mcp/<name>, with auth and policy on top. */
  endpoints: endpointsSchema.optional(),
  /** Shared state for several replicas (rate-limit counters today); absent: everything stays in process. */
  redis: z
    .strictObject({
      url: z.string().regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL'),
      /** Put in front of every key, so several gateways (or other programs) can share one Redis. */
      keyPrefix: z.string().default('switchboard:'),
    })
    .optional(),
  /** Where tool-definition pins are kept (default: switchboard.pins.json beside the config file; Redis when
   * `redis:` is set). */
  pins: z.strictObject({ file: z.string().min(1).optional() }).optional(),
  /** The tamper-evident audit log; absent: none. */
  audit: auditSchema.optional(),
  /** Traces over OTLP/HTTP (and metrics); absent: no telemetry, and none of its code loaded. */
  telemetry: telemetrySchema.optional(),
  logging: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'silent']).default('info'),
      /** Field names (any depth, any case) whose values never reach a log line, beside the built-in ones. */
      redact: z.array(z.string().min(1)).default([]),
    })
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

/**
 * Reads, expands and validates a config file; every failure is a GatewayError of kind `config`. `fromCommand`:
 * loaded by the switchboard command (serve, stdio, check, policy, pins), so the file is where pins live by
 * default (stores/pins-config.ts); a program that loads a config (tests, embedding) pins only where asked.
 */
export function loadConfig(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
  options: { fromCommand?: boolean } = {},
): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new GatewayError('config', `${file}: cannot read the config file (${(error as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = file.endsWith('.json') ? JSON.parse(stripJsonComments(text)) : parseYaml(text);
  } catch (error) {
    throw new GatewayError(
      'config',
      `${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`,
    );
  }
  const baseDir = path.dirname(path.resolve(file));
  return parseConfig(raw, { env, baseDir, source: file, ...(options.fromCommand && { file }) });
}

export function parseConfig(
  raw: unknown,
  options: { env?: NodeJS.ProcessEnv; baseDir?: string; source?: string; file?: string } = {},
): GatewayConfig {
  const source = options.source ?? 'config';
  // Messages name the upstreams' key as the file spells it (`servers.github...` in a VS Code file).
  let upstreamsKey = 'upstreams';
  const fail = (message: string) =>
    new GatewayError(
      'config',
      `${source}: ${upstreamsKey === 'upstreams' ? message : message.replace(/(^|; )upstreams(?=[.:])/g, `$1${upstreamsKey}`)}`,
    );
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw fail('the top level must be a mapping');
  const top = { ...(raw as Record<string, unknown>) };
  upstreamsKey = upstreamsKeyOf(top, fail);
  normalizeHostShape(top, upstreamsKey, fail);
  top.upstreams ??= {};
  const baseDir = options.baseDir ?? process.cwd();
  const variables = { env: options.env ?? process.env, workspace: workspaceFolder(baseDir), used: {} };
  const expanded = expandEnv(top, variables, [], fail);
  const result = configSchema.safeParse(expanded);
  if (!result.success) throw fail(describeIssues(result.error.issues, expanded, KNOWN_UPSTREAM_KEYS));
  const config = result.data;
  for (const [name, upstream] of Object.entries(config.upstreams)) {
    if (name.includes(config.namespace.separator)) {
      throw fail(`upstreams.${name}: the name contains the separator "${config.namespace.separator}"`);
    }
    const kind = upstreamKind(upstream);
    checkDeclaredType(name, kind, upstream.type, fail);
    if (kind === 'stdio' && (upstream as StdioUpstreamConfig).cwd) {
      (upstream as StdioUpstreamConfig).cwd = path.resolve(baseDir, (upstream as StdioUpstreamConfig).cwd!);
    }
    if (kind === 'stdio' && (upstream as StdioUpstreamConfig).envFile) {
      const stdio = upstream as StdioUpstreamConfig;
      const file = path.resolve(baseDir, stdio.envFile!);
      stdio.env = { ...readEnvFile(file, `upstreams.${name}.envFile`, fail), ...stdio.env };
    }
    if (kind === 'builtin') validateBuiltinOptions(name, upstream as BuiltinUpstreamConfig, fail);
    const credentialsProblem = upstreamAuthProblem(kind, upstream);
    if (credentialsProblem) throw fail(`upstreams.${name}.${credentialsProblem}`);
  }
  Object.defineProperty(config, 'baseDir', { value: baseDir, enumerable: false });
  Object.defineProperty(config, 'expandedEnv', { value: variables.used, enumerable: false });
  if (options.file)
    Object.defineProperty(config, 'file', { value: path.resolve(options.file), enumerable: false });
  return deepFreeze(config);
}

/** The folder relative paths in the config resolve against (the config file's folder). */
export function configBaseDir(config: GatewayConfig): string {
  return (config as GatewayConfig & { baseDir?: string }).baseDir ?? process.cwd();
}

/** Each `${NAME}` the config expanded, with its value (logs treat them as secrets: gateway/redact.ts). */
export function configExpandedEnv(config: GatewayConfig): Readonly<Record<string, string>> {
  return (config as GatewayConfig & { expandedEnv?: Record<string, string> }).expandedEnv ?? {};
}

/** The config file a switchboard command read this config from; undefined otherwise (see loadConfig). */
export function configFile(config: GatewayConfig): string | undefined {
  return (config as GatewayConfig & { file?: string }).file;
}

/** What is legal but almost certainly not meant; logged as warnings at start (the gateway still starts). */
export function configWarnings(config: GatewayConfig): string[] {
  const upstreams = Object.values(config.upstreams);
  if (upstreams.length === 0) {
    return [
      'no upstreams configured: the gateway starts but serves no tools, prompts or resources ' +
        '(add entries under upstreams:, mcpServers: or servers:)',
    ];
  }
  if (upstreams.every((upstream) => !upstream.enabled)) {
    return ['every upstream is disabled (enabled: false): the gateway starts but serves nothing'];
  }
  return [];
}

/** Options beside `builtin:` with the keys every upstream shares taken out. */
export function builtinOptions(upstream: BuiltinUpstreamConfig): Record<string, unknown> {
  const options: Record<string, unknown> = { ...upstream };
  for (const key of [...Object.keys(common), 'builtin']) delete options[key];
  return options;
}

function validateBuiltinOptions(name: string, upstream: BuiltinUpstreamConfig, fail: (m: string) => Error) {
  const definition = builtinServers[upstream.builtin as keyof typeof builtinServers];
  const options = builtinOptions(upstream);
  const parsed = (definition.optionsSchema as z.ZodType).safeParse(options);
  if (!parsed.success) {
    const root = { upstreams: { [name]: options } };
    throw fail(
      parsed.error.issues
        .map((issue) =>
          formatIssue(['upstreams', name, ...issue.path.map(String)], issue as z.core.$ZodIssue, root),
        )
        .join('; '),
    );
  }
}

/** `auth:` is for HTTP upstreams (a process gets its secrets through env); `${principal.*}` in env needs a
 * process per session. Returns `key: message` under the upstream, or undefined. */
function upstreamAuthProblem(kind: string, upstream: UpstreamConfig): string | undefined {
  if (upstream.auth && kind !== 'http')
    return `auth: credentials are obtained for HTTP upstreams only; give a ${kind} upstream its secrets through env`;
  if (kind !== 'stdio') return undefined;
  const env = principalEnvProblem((upstream as StdioUpstreamConfig).env, upstream.scope);
  return env && `env.${env}`;
}

function checkDeclaredType(name: string, kind: string, type: string | undefined, fail: (m: string) => Error) {
  if (type === undefined) return;
  const fits = kind === 'stdio' ? type === 'stdio' : kind === 'http' ? type !== 'stdio' : false;
  if (!fits) throw fail(`upstreams.${name}.type: "${type}" does not fit a ${kind} upstream`);
}

/** `$${` (a literal `${`), `${NAME}`, `${env:NAME}` (VS Code / Cursor / Windsurf) or `${input:ID}` (VS Code). */
const VARIABLE_REF = /\$\$\{|\$\{(?:([A-Za-z_][A-Za-z0-9_]*)|env:([A-Za-z_][A-Za-z0-9_]*)|input:([^}]*))\}/g;

interface Variables {
  env: NodeJS.ProcessEnv;
  /** What `${workspaceFolder}` means (see workspaceFolder in host-shapes.ts). */
  workspace: string;
  /** Filled in: each environment variable expanded, with its value. */
  used: Record<string, string>;
}

/**
 * Replaces ${NAME} and ${env:NAME} in every string with the environment variable, ${workspaceFolder} and
 * ${userHome} as VS Code and Cursor do; `$${` stays a literal `${`. A missing variable is an error, and so
 * is VS Code's ${input:ID}: nobody is there to answer a prompt when the gateway starts.
 */
function expandEnv(value: unknown, vars: Variables, at: string[], fail: (m: string) => Error): unknown {
  if (typeof value === 'string') {
    return value.replace(VARIABLE_REF, (match, plain?: string, prefixed?: string, input?: string) => {
      if (input !== undefined) {
        throw fail(
          `${at.join('.')}: \${input:${input}} (a VS Code prompted input) is not supported; ` +
            'put the secret in an environment variable and write ${NAME}, or set it in env',
        );
      }
      if (plain === 'workspaceFolder') return vars.workspace;
      if (plain === 'userHome') return vars.env.HOME ?? homedir();
      const name = plain ?? prefixed;
      if (name === undefined) return '${';
      const found = vars.env[name];
      if (found === undefined) throw fail(`${at.join('.')}: environment variable ${name} is not set`);
      vars.used[name] = found;
      return found;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => expandEnv(item, vars, [...at, String(i)], fail));
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, expandEnv(item, vars, [...at, key], fail)]),
    );
  }
  return value;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
