// The Call the gateway builds for a routed request: the policy-facing fields, plus the exchange the terminal
// stage forwards on. Every field is an own property, so a stage that passes a changed call on as
// `next({ ...call, params })` keeps all of them, the exchange included.
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { GatewayError } from '../../errors.js';
import type { Call, CallLog, ClientQuestion } from '../../policy/types.js';
import type { RoutedTarget } from '../catalog/types.js';
import { askClient } from '../session/ask-client.js';
import type { Exchange } from '../session/sessions.js';

export interface GatewayCall extends Call<RoutedTarget> {
  readonly exchange: Exchange;
  readonly params: Record<string, any>;
}

export function makeCall(
  exchange: Exchange,
  method: string,
  params: Record<string, any>,
  target: RoutedTarget,
  log: CallLog,
): GatewayCall {
  const { session, related, controller, principal } = exchange;
  return {
    exchange,
    method,
    params,
    target,
    principal,
    session,
    signal: controller.signal,
    log,
    askClient: (question) => {
      const missing = missingCapability(session.clientCapabilities, question);
      if (missing) return Promise.reject(new GatewayError('capability_missing', missing));
      const signal = question.signal
        ? AbortSignal.any([controller.nodeSignal(), question.signal])
        : controller.signal;
      return askClient(session, related, question.method, question.params, signal);
    },
  };
}

/** Why the client cannot be asked this (a capability it did not declare), or undefined. An `elicitation: {}`
 * declared before modes existed means form mode. */
function missingCapability(declared: ClientCapabilities, question: ClientQuestion): string | undefined {
  if (question.method === 'sampling/createMessage' && !declared.sampling)
    return 'the client did not declare the sampling capability';
  if (question.method !== 'elicitation/create') return undefined;
  const elicitation = declared.elicitation as { form?: object; url?: object } | undefined;
  if (!elicitation) return 'the client did not declare the elicitation capability';
  const mode = (question.params as { mode?: unknown } | undefined)?.mode ?? 'form';
  if (mode === 'form' && !elicitation.form && elicitation.url)
    return 'the client does not support form elicitation';
  if (mode === 'url' && !elicitation.url) return 'the client does not support URL elicitation';
  return undefined;
}
