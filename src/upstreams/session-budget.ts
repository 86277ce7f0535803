// Caps on live per-session upstream connections (`scope: session`: for stdio, a process each), in total and
// per source (client address, or principal once auth lands), so one client cannot start processes without end.
import { GatewayError } from '../errors.js';

export interface SessionBudgetOptions {
  /** Live per-session connections across every upstream. */
  maxTotal: number;
  /** Live per-session connections one source may hold across every upstream. */
  maxPerSource: number;
}

export class SessionBudget {
  private total = 0;
  private readonly bySource = new Map<string, number>();

  constructor(readonly options: SessionBudgetOptions) {}

  get live(): number {
    return this.total;
  }

  /**
   * Takes a slot for a new connection to `upstream`, or throws an error naming the limit and its config key.
   * Returns the function that gives the slot back (safe to call more than once).
   */
  take(upstream: string, source: string | undefined): () => void {
    const { maxTotal, maxPerSource } = this.options;
    const held = source === undefined ? 0 : (this.bySource.get(source) ?? 0);
    if (source !== undefined && held >= maxPerSource) {
      throw new GatewayError(
        'rate_limited',
        `upstream "${upstream}" (scope: session) cannot start another connection for ${source}: it already holds ${held}, the most one source may (sessions.maxUpstreamConnectionsPerSource); close other sessions first`,
        { data: { limit: 'sessions.maxUpstreamConnectionsPerSource' } },
      );
    }
    if (this.total >= maxTotal) {
      throw new GatewayError(
        'overloaded',
        `upstream "${upstream}" (scope: session) cannot start another connection: the gateway already holds ${this.total}, its limit (sessions.maxUpstreamConnections)`,
        { data: { limit: 'sessions.maxUpstreamConnections' } },
      );
    }
    this.total++;
    if (source !== undefined) this.bySource.set(source, held + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      if (source === undefined) return;
      const left = (this.bySource.get(source) ?? 1) - 1;
      if (left > 0) this.bySource.set(source, left);
      else this.bySource.delete(source);
    };
  }
}
