// What the bench's secured targets add to the bare gateway's config: a `policy:` block of N rules (with CEL
// `when:`s for the secured path), API-key or JWT auth, and the credential the load client presents.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export type SecuredTargetName =
  'switchboard-policy' | 'switchboard-apikey' | 'switchboard-jwt' | 'switchboard-g8' | 'switchboard-secured';

export interface SecuredSetup {
  /** Merged into the generated gateway config (`auth:`, `policy:`). */
  config: Record<string, unknown>;
  /** The `Authorization` header value of the next session; absent: the target needs none. */
  authorization?: () => string;
  stop(): Promise<void>;
}

/** The subject and group every bench client has, so the rules about "them" are the ones that match. */
const SUBJECT = 'bench-client';
const GROUP = 'bench';
/** Distinct JWTs handed to sessions in turn: each pays for its signature once, then hits the cache. */
const TOKEN_POOL = 64;

/**
 * `count` rules in the mix a real policy has: the few that let the bench client see and call everything it
 * uses (all 1,000 list tools stay visible), rules about other teams and users, and denies on tools that do not
 * exist. With `cel`, every fifth rule has a `when:` (9 of 50): 4 read `args` of `*__echo`, so every echo call
 * evaluates CEL (the costly case of the secured path), the rest read only the principal and the upstream.
 */
export function benchPolicy(count: number, cel: boolean): Record<string, unknown> {
  const rules: Record<string, unknown>[] = [
    { name: 'bench-calls', allow: { tools: ['*__echo', '*__payload'] } },
    { name: 'bench-list', allow: { tools: ['*__tool_*'], prompts: ['*'], resources: ['bench://*'] } },
  ];
  for (let i = rules.length; i < count; i++) {
    const name = `rule-${i}`;
    if (cel && i % 5 === 0) {
      // Alternately an args rule on the hot tool (evaluated per call) and a principal/upstream one (per view).
      rules.push(
        i % 10 === 0
          ? {
              name,
              deny: { tools: ['*__echo'] },
              when: `has(args.text) && size(args.text) > ${10_000 + i}`,
            }
          : {
              name,
              principals: { groups: [GROUP, `team-${i}`] },
              deny: { tools: ['*'] },
              when: `upstream == 'crm-${i}' && !('admins' in principal.groups)`,
            },
      );
      continue;
    }
    switch (i % 4) {
      case 0:
        rules.push({ name, principals: { groups: [`team-${i}`] }, allow: { tools: [`team${i}__*`] } });
        break;
      case 1:
        rules.push({ name, deny: { tools: [`*__admin_${i}_*`, `*__drop_${i}`] } });
        break;
      case 2:
        rules.push({ name, principals: { subjects: [`user-${i}`], via: ['jwt'] }, allow: { tools: ['*'] } });
        break;
      default:
        rules.push({ name, principals: { via: ['introspection'] }, deny: { prompts: [`*secret_${i}*`] } });
    }
  }
  return { default: 'deny', rules };
}

/**
 * What G8 adds on top of the rules: a rule limiting the bench client's calls (a window and a bulkhead) and the
 * HTTP edge limit, each far above anything a run reaches, so the bench measures what counting costs, never a
 * refusal.
 */
export function benchLimits(policy: Record<string, unknown>): {
  policy: Record<string, unknown>;
  http?: Record<string, unknown>;
} {
  const rules = policy.rules as Record<string, unknown>[];
  const quota = {
    name: 'bench-quota',
    principals: { groups: [GROUP] },
    allow: { tools: ['*__echo', '*__payload'] },
    limits: { calls: 1_000_000_000, per: '1h', concurrent: 10_000 },
  };
  return {
    policy: { ...policy, rules: [...rules, quota] },
    http: { rateLimit: { max: 1_000_000_000, per: '1m' } },
  };
}

/**
 * The tool-safety stages on the hot tool: a rule guarding echo's argument (a length cap and an RE2 pattern, as
 * a real policy would) and an approval rule on tools the bench never calls, so every echo call passes through
 * the guard and approval stages without a person being asked. Secret scanning of results is on by default.
 */
export function benchSafety(policy: Record<string, unknown>): Record<string, unknown> {
  const rules = policy.rules as Record<string, unknown>[];
  const guard = {
    name: 'bench-guard',
    principals: { groups: [GROUP] },
    guards: { '*__echo': { text: { maxLength: 100_000, pattern: '^[^\\x00]*$' } } },
  };
  const approval = { name: 'bench-approve', approve: { tools: ['*__delete_*'] } };
  return { ...policy, rules: [...rules, guard, approval] };
}

function apiKey(): { auth: Record<string, unknown>; header: string } {
  const key = randomBytes(32).toString('hex');
  // Stored as the config documents it: the SHA-256, never the key itself.
  const sha256 = `sha256:${createHash('sha256').update(key).digest('hex')}`;
  return { auth: { apiKeys: [{ subject: SUBJECT, groups: [GROUP], sha256 }] }, header: `Bearer ${key}` };
}

/**
 * The real audit log (`durability: flush`, the default) in a temporary folder of its own, removed when the
 * target stops: every call's answer waits for its record's write, as G8 asks. BENCH_DURABILITY sets another
 * durability for an A/B of what the wait costs (`buffered`: the same records, no answer waits).
 */
function benchAudit(): { audit: Record<string, unknown>; stop(): Promise<void> } {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchboard-bench-audit-'));
  return {
    audit: { file: path.join(dir, 'audit.jsonl'), durability: process.env.BENCH_DURABILITY ?? 'flush' },
    stop: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Tracing at sampling 0.1 (`telemetry.otlp`; BENCH_SAMPLING sets another ratio), exported to a stand-in collector in this process that reads each
 * OTLP/HTTP batch and answers 200: the gateway pays for spans, batching and export as it would in production.
 */
async function benchTracing(): Promise<{ telemetry: Record<string, unknown>; stop(): Promise<void> }> {
  const sink = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const { port } = sink.address() as AddressInfo;
  return {
    telemetry: {
      otlp: { endpoint: `http://127.0.0.1:${port}` },
      sampling: benchSampling(),
    },
    stop: () => {
      sink.closeAllConnections();
      return new Promise<void>((resolve) => sink.close(() => resolve()));
    },
  };
}

/** The parts of switchboard-secured an A/B may leave out with BENCH_OFF (comma-separated). */
export const SECURED_PARTS = [
  'auth',
  'policy',
  'cel',
  'safety',
  'limits',
  'edge',
  'audit',
  'tracing',
  'metrics',
];

/** The parts BENCH_OFF leaves out of switchboard-secured; an unknown name stops the run. */
export function securedParts(): Set<string> {
  const named = (process.env.BENCH_OFF ?? '').split(',').filter(Boolean);
  const unknown = named.filter((part) => !SECURED_PARTS.includes(part));
  if (unknown.length)
    throw new Error(`BENCH_OFF: unknown ${unknown.join(', ')} (one of ${SECURED_PARTS.join(', ')})`);
  return new Set(named);
}

/** The secured target's trace sampling ratio: 0.1, or BENCH_SAMPLING's (a number from 0 to 1). */
export function benchSampling(): number {
  const ratio = Number(process.env.BENCH_SAMPLING ?? 0.1);
  if (!(ratio >= 0 && ratio <= 1)) throw new Error('BENCH_SAMPLING: a ratio from 0 to 1');
  return ratio;
}

/** What target `name` adds to a gateway whose /mcp is `resource`. */
export async function securedSetup(name: SecuredTargetName, resource: string): Promise<SecuredSetup> {
  switch (name) {
    case 'switchboard-policy': {
      const { audit, stop } = benchAudit();
      return { config: { policy: benchPolicy(20, false), audit }, stop };
    }
    case 'switchboard-apikey': {
      const { auth, header } = apiKey();
      return {
        config: { auth: { resource, ...auth } },
        authorization: () => header,
        stop: async () => {},
      };
    }
    case 'switchboard-g8': {
      // G8 as PERFORMANCE.md defines the secured path, and nothing more: an API key, 50 rules with CEL, the audit
      // log (`flush`) and metrics. switchboard-secured adds limits, guards, the edge limit and tracing.
      const { auth, header } = apiKey();
      const { audit, stop } = benchAudit();
      return {
        config: {
          auth: { resource, ...auth },
          policy: benchPolicy(50, true),
          audit,
          telemetry: { metrics: true },
        },
        authorization: () => header,
        stop,
      };
    }
    case 'switchboard-secured': {
      const { auth, header } = apiKey();
      const { audit, stop } = benchAudit();
      const tracing = await benchTracing();
      // BENCH_OFF=audit,tracing,... leaves parts out, for an A/B of what each costs (see bench/README.md).
      const off = securedParts();
      let policy = benchPolicy(50, !off.has('cel'));
      if (!off.has('safety')) policy = benchSafety(policy);
      const limited = off.has('limits') ? { policy } : benchLimits(policy);
      if (off.has('edge')) delete limited.http;
      return {
        config: {
          ...(off.has('auth') ? {} : { auth: { resource, ...auth } }),
          ...(off.has('policy') ? {} : limited),
          ...(off.has('audit') ? {} : { audit }),
          // Metrics on /metrics behind the same API key (the bench does not scrape), spans at sampling 0.1.
          telemetry: { ...(off.has('tracing') ? {} : tracing.telemetry), metrics: !off.has('metrics') },
        },
        authorization: () => header,
        stop: async () => {
          await stop();
          await tracing.stop();
        },
      };
    }
    case 'switchboard-jwt': {
      // The tests' real OpenID provider (oidc-provider, RSA keys) in this process: the gateway finds its JWKS by
      // discovery, as it would at a real provider. Loaded only here, so other runs never pay for it.
      const { startOidcProvider } = await import('../../test/fixtures/oidc/provider.js');
      const idp = await startOidcProvider({ ttl: 3600 });
      const tokens = await Promise.all(
        Array.from({ length: TOKEN_POOL }, () =>
          idp.mint({ sub: SUBJECT, aud: resource, scope: 'mcp:tools', groups: [GROUP] }, { expiresIn: 3600 }),
        ),
      );
      let next = 0;
      return {
        config: { auth: { resource, requiredScopes: ['mcp:tools'], jwt: { issuer: idp.issuer } } },
        authorization: () => `Bearer ${tokens[next++ % tokens.length]}`,
        stop: () => idp.close(),
      };
    }
  }
}
