// Secret scanning as a policy: credentials in a call's arguments (tools/call, prompts/get) and in its result
// (tools/call, prompts/get, resources/read, tasks/result) are redacted, blocked or let through, as the upstream's
// `secrets:` and the matching rules' `secrets:` say. A result that travels as the upstream's raw bytes is cleared
// on those bytes by one prefilter pass; only on a hit is its parsed value scanned (and then re-serialised).
import { GatewayError } from '../../errors.js';
import { DECISION_MESSAGE, decisionEvent } from '../decisions.js';
import { callContext, compileRules, evaluateWhen, itemKind, type CompiledRule } from '../rules-match.js';
import type { RuleOptions } from '../rules-schema.js';
import type { Call, Next, Policy, Result, Target } from '../types.js';
import { bytesMayHoldSecret, replaceSecrets } from './detect.js';
import { redactionLabel, redactValue, type Redacted } from './redact-value.js';
import { DEFAULT_MODES, modesOf, type SecretsMode, type SecretsModes, type SecretsOption } from './schema.js';

export interface SecretsOptions {
  /** Upstream config name -> its `secrets:` (undefined: the defaults, as for an upstream not listed). */
  readonly upstreams: ReadonlyMap<string, SecretsOption | undefined>;
  /** The `policy:` rules; those with `secrets:` count. */
  readonly rules: readonly RuleOptions[];
}

/** The methods whose arguments are scanned (a resource is named by its URI alone: it is not an argument). */
const ARG_METHODS = new Set(['tools/call', 'prompts/get']);
/** The methods whose results are scanned; tasks/result carries a task-augmented tools/call's result. */
export const SECRETS_METHODS: readonly string[] = [
  'tools/call',
  'prompts/get',
  'resources/read',
  'tasks/result',
];
/** Results that can say "this failed" themselves (CallToolResult); the others are refused with an error. */
const TOOL_RESULTS = new Set(['tools/call', 'tasks/result']);

const STRICTNESS: Record<SecretsMode, number> = { off: 0, redact: 1, block: 2 };

/** What applies to one call, and the rule that said so for each direction (none: the upstream's setting). */
interface Applied {
  readonly args: SecretsMode;
  readonly results: SecretsMode;
  readonly argsRule?: string;
  readonly resultsRule?: string;
}

interface SecretsRule {
  readonly compiled: CompiledRule;
  /** Without `allow`, the rule is about every item its principals call. */
  readonly everyItem: boolean;
  readonly modes: SecretsModes;
}

/**
 * The stage; undefined when nothing is ever scanned (every upstream `secrets: off` and no rule turns it on).
 * A matching rule's mode overrides the upstream's for its direction; among several matching rules the
 * strictest wins (block, then redact, then off), so rule order never changes the outcome.
 */
export function createSecretsPolicy(options: SecretsOptions): Policy | undefined {
  const byUpstream = new Map<string, Applied>();
  for (const [name, option] of options.upstreams)
    byUpstream.set(name, { ...DEFAULT_MODES, ...(option === undefined ? {} : modesOf(option)) });
  const withSecrets = options.rules.filter((rule) => rule.secrets !== undefined);
  const compiled = compileRules(withSecrets);
  const rules: SecretsRule[] = withSecrets.map((rule, i) => ({
    compiled: compiled[i],
    everyItem: rule.allow === undefined,
    modes: modesOf(rule.secrets!),
  }));
  const scans = (modes: SecretsModes) =>
    (modes.args ?? 'off') !== 'off' || (modes.results ?? 'off') !== 'off';
  // An upstream missing from the map gets the defaults, which scan results: with none listed, all of them do.
  const upstreamsScan = byUpstream.size === 0 || [...byUpstream.values()].some(scans);
  if (!upstreamsScan && !rules.some((rule) => scans(rule.modes))) return undefined;

  function applied(call: Call): Applied {
    const base = byUpstream.get(call.target.upstream) ?? DEFAULT_MODES;
    if (rules.length === 0) return base;
    const kind = itemKind(call.target);
    let args: SecretsMode | undefined;
    let results: SecretsMode | undefined;
    let argsRule: string | undefined;
    let resultsRule: string | undefined;
    for (const { compiled: rule, everyItem, modes } of rules) {
      if (rule.principals && !rule.principals(call.principal)) continue;
      if (!everyItem && !(kind && rule.allow[kind]?.test.test(call.target.name))) continue;
      let undecided = false;
      if (rule.when) {
        const outcome = evaluateWhen(rule.when, callContext(call));
        if (outcome === false) continue;
        // A condition that fails to evaluate may tighten, never loosen: its `off` does not count.
        undecided = outcome !== true;
      }
      const counts = (mode: SecretsMode | undefined, current: SecretsMode | undefined): mode is SecretsMode =>
        mode !== undefined &&
        !(undecided && mode === 'off') &&
        (current === undefined || STRICTNESS[mode] > STRICTNESS[current]);
      if (counts(modes.args, args)) [args, argsRule] = [modes.args, rule.name];
      if (counts(modes.results, results)) [results, resultsRule] = [modes.results, rule.name];
    }
    return {
      args: args ?? base.args,
      results: results ?? base.results,
      ...(argsRule ? { argsRule } : {}),
      ...(resultsRule ? { resultsRule } : {}),
    };
  }

  return {
    name: 'secrets',
    methods: SECRETS_METHODS,
    async around<T extends Target>(call: Call<T>, next: Next<T>): Promise<Result> {
      const modes = applied(call);
      if (modes.args !== 'off' && ARG_METHODS.has(call.method)) {
        const given = call.params.arguments;
        if (typeof given === 'object' && given !== null) {
          const found = redactValue(given);
          if (found.kinds.length) {
            const names = changedNames(
              given as Record<string, unknown>,
              found.value as Record<string, unknown>,
            );
            const where = `the arguments${names.length ? ` (${names.join(', ')})` : ''}`;
            record(call, modes.args, modes.argsRule, where, found.kinds);
            if (modes.args === 'block') return refuseArgs(call, where, found.kinds);
            call = { ...call, params: { ...call.params, arguments: found.value } };
          }
        }
      }
      if (modes.results === 'off') return next(call);
      let result: Result;
      try {
        result = await next(call);
      } catch (error) {
        throw redactedError(call, error, modes.resultsRule);
      }
      // Raw bytes are the fast path: one prefilter pass over them, and the bytes go on untouched when it misses.
      if (result.raw && !bytesMayHoldSecret(result.raw)) return result;
      const found = redactValue(result.value);
      if (found.kinds.length === 0) return result;
      record(call, modes.results, modes.resultsRule, 'the result', found.kinds);
      if (modes.results === 'block') return refuseResult(call, found);
      return { value: found.value };
    },
  };
}

/** The top-level argument names whose values were redacted (names come from the tool's schema, not secrets). */
function changedNames(given: Record<string, unknown>, redacted: Record<string, unknown>): string[] {
  if (Array.isArray(given)) return [];
  return Object.keys(given).filter((name) => given[name] !== redacted[name]);
}

const listKinds = (kinds: readonly string[]) => [...new Set(kinds)].join(', ');

/** A decision event naming the kinds and where they were, never the secret. */
function record(
  call: Call,
  mode: SecretsMode,
  rule: string | undefined,
  where: string,
  kinds: readonly string[],
) {
  const count = kinds.length === 1 ? 'a secret' : `${kinds.length} secrets`;
  call.log.info(
    {
      decision: decisionEvent(call.principal, call.method, call.target, {
        ...(rule ? { rule } : {}),
        effect: mode,
        reason: `${mode === 'block' ? 'blocked' : 'redacted'} ${count} in ${where}: ${listKinds(kinds)}`,
        secrets: [...new Set(kinds)],
      }),
    },
    DECISION_MESSAGE,
  );
}

/**
 * Arguments with a secret, blocked: the upstream is not called. A tool gets an isError result, as for any
 * argument the model can correct (it sees why and may call again without the secret); a prompt, which has no
 * error result, gets a `forbidden` error.
 */
function refuseArgs(call: Call, where: string, kinds: readonly string[]): Result {
  const message = `Refused: ${where} of ${call.target.name} carry a credential (${listKinds(kinds)}); the gateway does not pass credentials to it. Call again without it.`;
  if (!TOOL_RESULTS.has(call.method))
    throw new GatewayError('forbidden', message, { data: { secrets: [...new Set(kinds)] } });
  return { value: { content: [{ type: 'text', text: message }], isError: true } };
}

/** A result with a secret, blocked: the client learns the kind, never the secret. */
function refuseResult(call: Call, found: Redacted): Result {
  const message = `Withheld: the result of ${call.target.name} carried a credential (${listKinds(found.kinds)}); the gateway does not pass credentials on from upstream "${call.target.upstream}".`;
  if (!TOOL_RESULTS.has(call.method))
    throw new GatewayError('forbidden', message, { data: { secrets: [...new Set(found.kinds)] } });
  return { value: { content: [{ type: 'text', text: message }], isError: true } };
}

/**
 * An upstream's error answer may quote what it was given or read (a bad token, a connection string): its
 * message and data are redacted like a result, keeping the upstream's code. The gateway's own errors pass.
 */
function redactedError(call: Call, error: unknown, rule: string | undefined): unknown {
  if (error instanceof GatewayError || !(error instanceof Error)) return error;
  const message = replaceSecrets(error.message, redactionLabel);
  const data = (error as { data?: unknown }).data;
  const redactedData = data === undefined ? undefined : redactValue(data);
  const kinds = [...message.kinds, ...(redactedData?.kinds ?? [])];
  if (kinds.length === 0) return error;
  record(call, 'redact', rule, 'the error', kinds);
  const code = (error as { code?: unknown }).code;
  return new GatewayError('internal', message.text.replace(/^MCP error -?\d+: /, ''), {
    ...(typeof code === 'number' && Number.isInteger(code) ? { upstreamCode: code } : {}),
    ...(redactedData ? { data: redactedData.value } : {}),
  });
}
