// Decisions as events: every deny of the `policy:` rules, and every answer to an approval request, becomes one
// structured log line at info (who, method, item, rule, effect, outcome, reason), for operators and later the
// audit log; the client sees only the ordinary answer.
import type { Visibility } from './compose.js';
import type { CallLog, Principal, Target } from './types.js';

/** The message of every decision line: what the gateway's decision sinks (audit, metrics) pick up. */
export const DECISION_MESSAGE = 'policy decision';

/** What `decide` tells about a deny (structurally: rules.ts imports this file, not the other way round). */
interface Denied {
  readonly rule?: string;
  readonly effect: string;
  readonly reason: string;
  /** How an effect that asks someone ended (approval: approved, declined, cancelled, timeout, ...). */
  readonly outcome?: string;
  /** The kinds of credential a secrets decision was about (never the credential itself). */
  readonly secrets?: readonly string[];
}

/** What resolution can tell of the method from the kind of item it resolves (a tool only ever by tools/call). */
const METHOD_OF_KIND: Partial<Record<Target['kind'], string>> = { tool: 'tools/call' };

export interface DecisionEvent {
  readonly subject: string;
  readonly via: string;
  readonly method?: string;
  readonly kind: Target['kind'];
  readonly item: string;
  readonly upstream: string;
  readonly rule?: string;
  readonly effect: string;
  readonly outcome?: string;
  readonly secrets?: readonly string[];
  readonly reason: string;
}

export function decisionEvent(
  principal: Principal,
  method: string | undefined,
  target: Target,
  decision: Denied,
): DecisionEvent {
  return {
    subject: principal.subject,
    via: principal.via,
    ...(method ? { method } : {}),
    kind: target.kind,
    item: target.name,
    upstream: target.upstream,
    ...(decision.rule ? { rule: decision.rule } : {}),
    effect: decision.effect,
    ...(decision.outcome ? { outcome: decision.outcome } : {}),
    ...(decision.secrets ? { secrets: decision.secrets } : {}),
    reason: decision.reason,
  };
}

/** A decision no principal asked for, made on the catalogue itself (a tool quarantined): the gateway's own. */
export function catalogueDecision(target: Target, effect: string, reason: string): DecisionEvent {
  return {
    subject: 'switchboard',
    via: 'catalogue',
    kind: target.kind,
    item: target.name,
    upstream: target.upstream,
    effect,
    reason,
  };
}

/**
 * The visibility that resolution asks, with a decision event for each item the rules deny there (an item that
 * does not exist is never asked about, so it leaves no line; lists and notifications use the plain predicate).
 */
export function logDenials(
  visibility: Visibility,
  rules: { decide(principal: Principal, target: Target): Denied & { allowed: boolean } },
  log: CallLog,
  /** Also told of each deny, with the whole principal (the gateway's decision sinks). */
  onDeny?: (event: DecisionEvent, principal: Principal) => void,
): Visibility {
  return {
    viewKey: visibility.viewKey,
    visible(principal, target) {
      if (visibility.visible(principal, target)) return true;
      if (target.kind !== 'upstream') {
        const decision = rules.decide(principal, target);
        if (!decision.allowed) {
          const event = decisionEvent(principal, METHOD_OF_KIND[target.kind], target, decision);
          log.info({ decision: event }, DECISION_MESSAGE);
          onDeny?.(event, principal);
        }
      }
      return false;
    },
  };
}
