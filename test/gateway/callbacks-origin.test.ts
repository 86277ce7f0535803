// Where a message from a shared upstream connection goes while the gateway's own request for the same session
// (a log level passed on) is in flight beside the client's call: to the call's stream, never to the gateway's
// own request, whose stream no client reads (cluster-order.test.ts lost a log that way, now and then).
import { describe, expect, it } from 'vitest';
import { UpstreamCallbacks } from '../../src/gateway/session/callbacks.js';
import { Inflight } from '../../src/gateway/session/inflight.js';
import { CallAbort } from '../../src/gateway/session/call-abort.js';
import type { Exchange, Outlet, Session, SessionRegistry } from '../../src/gateway/session/sessions.js';
import type { Connection } from '../../src/upstreams/pool.js';

const session = { id: 's1', principal: { subject: 'a', groups: [], via: 'anonymous' } } as unknown as Session;
/** A client's stream (each a distinct object: the test tells them apart by identity). */
const outlet = (): Outlet => ({ send: () => true });

function exchange(related: Outlet, internal?: boolean): Exchange {
  return {
    session,
    principal: session.principal,
    requestId: 1,
    controller: new CallAbort(),
    related,
    internal,
  };
}

describe('the origin of a message on a shared upstream connection', () => {
  const connection = {} as Connection;
  const callbacks = (inflight: Inflight) =>
    new UpstreamCallbacks(
      inflight,
      { get: () => undefined, all: () => [] } as unknown as SessionRegistry,
      undefined as never,
      undefined as never,
      undefined,
    );

  for (const internalFirst of [true, false]) {
    it(`is the client's call, whichever slot the gateway's own request holds (${internalFirst ? 'before' : 'after'} it)`, () => {
      const inflight = new Inflight();
      const call = outlet();
      const own = outlet();
      const entries = [exchange(own, true), exchange(call)];
      for (const entry of internalFirst ? entries : entries.reverse()) inflight.add(connection, entry);
      const origin = callbacks(inflight).originOf(connection);
      expect(origin?.session).toBe(session);
      expect(origin?.channel).toBe(call);
    });
  }

  it("is unknown on a shared connection when only the gateway's own request is in flight", () => {
    const inflight = new Inflight();
    inflight.add(connection, exchange(outlet(), true));
    expect(callbacks(inflight).originOf(connection)).toBeUndefined();
  });
});
