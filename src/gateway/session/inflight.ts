// Client requests in flight per upstream connection: how a server-to-client request or notification from a
// shared connection finds the one client session it belongs to.
import type { Connection } from '../../upstreams/pool.js';
import type { Exchange } from './sessions.js';
import { Slots } from './slots.js';

export class Inflight {
  /** A connection's entry lives as long as the connection (weakly held: a per-session connection, once closed,
   * must not be kept); its requests come and go in slots (slots.ts). */
  private readonly byConnection = new WeakMap<Connection, Slots<Exchange>>();

  /** Returns the slot `delete` takes. */
  add(connection: Connection, exchange: Exchange): number {
    let slots = this.byConnection.get(connection);
    if (!slots) this.byConnection.set(connection, (slots = new Slots()));
    return slots.add(exchange);
  }

  delete(connection: Connection, slot: number): void {
    this.byConnection.get(connection)?.delete(slot);
  }

  on(connection: Connection): Iterable<Exchange> | undefined {
    return this.byConnection.get(connection);
  }
}
