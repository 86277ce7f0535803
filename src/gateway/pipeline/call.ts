// The Call the gateway builds for a routed request: the policy-facing fields, plus the exchange the terminal
// stage forwards on. Every field is an own property, so a stage that passes a changed call on as
// `next({ ...call, params })` keeps all of them, the exchange included.
import type { Call, CallLog } from '../../policy/types.js';
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
    askClient: (question) => askClient(session, related, question.method, question.params, controller.signal),
  };
}
