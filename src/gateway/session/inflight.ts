// Client requests in flight per upstream connection: how a server-to-client request or notification from a
// shared connection finds the one client session it belongs to.
import type { Connection } from '../../upstreams/pool.js';
import type { Exchange } from './sessions.js';

export class Inflight {
  private readonly byConnection = new Map<Connection, Set<Exchange>>();

  add(connection: Connection, exchange: Exchange): void {
    let set = this.byConnection.get(connection);
    if (!set) this.byConnection.set(connection, (set = new Set()));
    set.add(exchange);
  }

  delete(connection: Connection, exchange: Exchange): void {
    this.byConnection.get(connection)?.delete(exchange);
  }

  on(connection: Connection): ReadonlySet<Exchange> | undefined {
    return this.byConnection.get(connection);
  }
}
