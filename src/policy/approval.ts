// Human approval as a policy: the `approve:` effect of the `policy:` rules. Before a tool call an approve rule
// names (about the principal, its `when:` true), the calling client's user is asked through a form-mode
// elicitation; only an explicit yes lets the call go on, and every answer is a decision event.
import { approvalMessage, approvalSchema, APPROVE_FIELD } from './approval-message.js';
import { DECISION_MESSAGE, decisionEvent } from './decisions.js';
import { globList } from './glob.js';
import { formatDuration } from './limits-keys.js';
import { callContext, compileRules, evaluateWhen, type CompiledRule } from './rules-match.js';
import type { RuleOptions } from './rules-schema.js';
import type { Call, Next, Policy, Result, Target } from './types.js';

/** How long the user has to answer when the rule names no `timeout`: long enough to read, short enough that a
 * forgotten question does not hold a call (and its client's request) open for good. */
export const APPROVAL_TIMEOUT_MS = 120_000;

/**
 * How an approval request ended: the user's answer (approved, declined, or cancelled: dismissed without a
 * choice), no answer in time (timeout), a client that cannot be asked (unsupported), the call itself cancelled
 * or its session ended while waiting (withdrawn), or an answer that was an error or malformed (failed).
 */
export type ApprovalOutcome =
  'approved' | 'declined' | 'cancelled' | 'timeout' | 'unsupported' | 'withdrawn' | 'failed';

interface Answer {
  readonly outcome: ApprovalOutcome;
  /** What the refusal adds to say why (a client's error, a form without the box ticked). */
  readonly detail?: string;
}

interface ApproveRule {
  readonly rule: CompiledRule;
  readonly tools: RegExp;
  readonly timeoutMs: number;
}

/** The longest client error message quoted back in a refusal. */
const MAX_DETAIL_CHARS = 200;

/**
 * Undefined when no rule approves anything: no stage at all. Meant to run last, just before forward, so the user
 * is asked only about a call every other stage has let through.
 */
export function createApprovalPolicy(rules: readonly RuleOptions[]): Policy | undefined {
  const compiled = compileRules(rules);
  const approving: ApproveRule[] = [];
  const globs: string[] = [];
  rules.forEach((rule, i) => {
    if (!rule.approve) return;
    globs.push(...rule.approve.tools);
    approving.push({
      rule: compiled[i],
      tools: globList(rule.approve.tools)!,
      timeoutMs: rule.approve.timeout ?? APPROVAL_TIMEOUT_MS,
    });
  });
  if (approving.length === 0) return undefined;
  /** Every approve glob at once: a call no rule names passes with one test. */
  const named = globList(globs)!;

  /** The first rule (in config order) that asks about this call: about the principal, naming it, `when` true. */
  function applying(call: Call): ApproveRule | undefined {
    const { principal, target } = call;
    let context: Parameters<typeof evaluateWhen>[1] | undefined;
    for (const entry of approving) {
      const { rule } = entry;
      if (rule.principals && !rule.principals(principal)) continue;
      if (!entry.tools.test(target.name)) continue;
      if (rule.when) {
        context ??= callContext(call);
        // A condition that fails to evaluate asks anyway: when the policy cannot decide, a human does.
        if (evaluateWhen(rule.when, context) === false) continue;
      }
      return entry;
    }
    return undefined;
  }

  return {
    name: 'approval',
    methods: ['tools/call'],
    // Not async: a call no approve rule names passes on with no promise of this stage's own.
    around<T extends Target>(call: Call<T>, next: Next<T>): Promise<Result> {
      if (call.target.kind !== 'tool' || !named.test(call.target.name)) return next(call);
      const entry = applying(call);
      if (!entry) return next(call);
      return approved(call, next, entry);
    },
  };

  /** Asks, records the answer, and goes on only on an explicit yes. */
  async function approved<T extends Target>(
    call: Call<T>,
    next: Next<T>,
    entry: ApproveRule,
  ): Promise<Result> {
    call.signal.throwIfAborted();
    const { outcome, detail } = await ask(call, entry);
    const reason = reasonOf(call.target.name, entry, outcome, detail);
    call.log.info(
      {
        decision: decisionEvent(call.principal, call.method, call.target, {
          rule: entry.rule.name,
          effect: 'approve',
          outcome,
          reason,
        }),
      },
      DECISION_MESSAGE,
    );
    if (outcome === 'approved') return next(call);
    // Nobody is waiting for an answer any more: end the call the way any cancelled call ends.
    if (outcome === 'withdrawn') throw call.signal.reason;
    // A refusal is a result the model reads (it learns that a person said no, and why), not a protocol fault:
    // the request was well-formed and the tool exists. The upstream is never called.
    return { value: { content: [{ type: 'text', text: `Not run: ${reason}.` }], isError: true } };
  }
}

/** Asks the client and waits for the answer, the rule's timeout, or the call's own cancellation, first wins. */
async function ask(call: Call, entry: ApproveRule): Promise<Answer> {
  const { name, upstream } = call.target;
  // Aborted once the wait is over, so a question nobody waits for is withdrawn from the client (where askClient
  // honours a question's signal) instead of staying open there.
  const unanswered = new AbortController();
  const question = {
    method: 'elicitation/create',
    signal: unanswered.signal,
    params: {
      mode: 'form',
      message: approvalMessage(name, upstream, call.params.arguments),
      requestedSchema: approvalSchema(name),
    },
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  let withdraw: (() => void) | undefined;
  const ended = new Promise<Answer>((resolve) => {
    timer = setTimeout(() => resolve({ outcome: 'timeout' }), entry.timeoutMs);
    withdraw = () => resolve({ outcome: 'withdrawn' });
    call.signal.addEventListener('abort', withdraw, { once: true });
  });
  try {
    return await Promise.race([call.askClient(question).then(outcomeOf), ended]);
  } catch (error) {
    if (call.signal.aborted) return { outcome: 'withdrawn' };
    const message = error instanceof Error ? error.message : String(error);
    const detail = message.length > MAX_DETAIL_CHARS ? `${message.slice(0, MAX_DETAIL_CHARS)}...` : message;
    // -32601: the gateway knows the client declared no elicitation, or the client has no handler for it.
    return { outcome: (error as { code?: unknown }).code === -32601 ? 'unsupported' : 'failed', detail };
  } finally {
    unanswered.abort();
    clearTimeout(timer);
    call.signal.removeEventListener('abort', withdraw!);
  }
}

/** The user's answer: only `accept` with the box ticked approves; an accept without it is a no. */
function outcomeOf(answer: unknown): Answer {
  const { action, content } = (answer ?? {}) as { action?: unknown; content?: Record<string, unknown> };
  switch (action) {
    case 'accept':
      return content?.[APPROVE_FIELD] === true
        ? { outcome: 'approved' }
        : { outcome: 'declined', detail: `the form came back without "${APPROVE_FIELD}" ticked` };
    case 'decline':
      return { outcome: 'declined' };
    case 'cancel':
      return { outcome: 'cancelled' };
    default:
      return { outcome: 'failed', detail: 'the client answered without a valid action' };
  }
}

function reasonOf(tool: string, entry: ApproveRule, outcome: ApprovalOutcome, detail?: string): string {
  const rule = `approval required by rule "${entry.rule.name}"`;
  const why = detail ? ` (${detail})` : '';
  switch (outcome) {
    case 'approved':
      return `the user approved the call of ${tool} (${rule})`;
    case 'declined':
      return `the user declined the call of ${tool}${why} (${rule})`;
    case 'cancelled':
      return `the user dismissed the approval request for ${tool} without a choice (${rule})`;
    case 'timeout':
      return `no answer to the approval request for ${tool} within ${formatDuration(entry.timeoutMs)} (${rule})`;
    case 'unsupported':
      return `${tool} needs a user's approval and this client cannot be asked: it does not support form elicitation${why} (${rule})`;
    case 'withdrawn':
      return `the call of ${tool} was cancelled while waiting for the user's approval (${rule})`;
    case 'failed':
      return `asking the user to approve ${tool} failed${why} (${rule})`;
  }
}
