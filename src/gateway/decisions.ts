// Where the policy stages' decisions go besides the log: a decision is the info line whose message is
// DECISION_MESSAGE and whose `decision` field is a DecisionEvent (policy/decisions.ts). The audit log and the
// metrics subscribe here; the CallLog a call's stages get hands each decision to them with who and which session.
// With no subscriber, the stages get the plain logger and nothing is added to a call.
import { DECISION_MESSAGE, type DecisionEvent } from '../policy/decisions.js';
import type { CallLog, Principal } from '../policy/types.js';

/** What is known of a decision beyond the event: the whole principal, the session, the request. */
export interface DecisionContext {
  readonly principal?: Principal;
  readonly sessionId?: string;
  /** The JSON-RPC method of the request the decision was made in (the event may leave it out). */
  readonly method?: string;
  /** The request's exchange (an opaque key: tracing finds the request's span by it). */
  readonly exchange?: object;
}

export type DecisionListener = (event: DecisionEvent, context: DecisionContext) => void;

export class DecisionSinks {
  private readonly listeners: DecisionListener[] = [];

  /** Whether anyone listens: without a listener the pipeline passes the plain logger. */
  get active(): boolean {
    return this.listeners.length > 0;
  }

  subscribe(listener: DecisionListener): void {
    this.listeners.push(listener);
  }

  /** The request whose synchronous start runs now (handle.ts sets it): decisions made while resolving its
   * name (a denied item) have no exchange in hand, but are that request's. */
  starting?: object;

  emit(event: DecisionEvent, context: DecisionContext): void {
    const where = context.exchange || !this.starting ? context : { ...context, exchange: this.starting };
    for (const listener of this.listeners) listener(event, where);
  }

  /** The log a call's stages write to: `log` itself, and each decision line also goes to the listeners. */
  callLog(log: CallLog, context: DecisionContext): CallLog {
    if (!this.active) return log;
    return {
      debug: (fields, message) => log.debug(fields, message),
      warn: (fields, message) => log.warn(fields, message),
      error: (fields, message) => log.error(fields, message),
      info: (fields, message) => {
        log.info(fields, message);
        const event = message === DECISION_MESSAGE && (fields as { decision?: DecisionEvent }).decision;
        if (event) this.emit(event, context);
      },
    };
  }
}
