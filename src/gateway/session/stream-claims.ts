// Which replica holds a shared session's GET stream (`redis:`), as this replica knows it. News of streams opened
// and closed comes over the bus from several replicas in no set order, so each stream carries the claim number
// Redis gave it: older news is ignored, and a stream opened here gives way only to a newer claim.
import type { ClusterBus } from '../stores/cluster-bus.js';
import type { SessionDirectory } from '../stores/session-directory.js';
import type { Outlet, Session } from './sessions.js';

/** The newest stream a replica has heard of for a session: who holds it (null: it was closed) and its claim. */
interface Newest {
  readonly claim: number;
  owner: string | null;
}

export class StreamClaims {
  private readonly newest = new WeakMap<Session, Newest>();
  /** The claim of each stream opened here: a promise until Redis has numbered it (0: Redis could not). */
  private readonly claims = new WeakMap<Outlet, number | Promise<number>>();

  constructor(
    private readonly bus: ClusterBus,
    private readonly directory: SessionDirectory,
    /** The session's stream on another replica (messages go there over the bus). */
    private readonly remote: (id: string, owner: string) => Outlet,
  ) {}

  /** A copy taken up from Redis: the stream its record names. */
  adopt(session: Session, owner: string | undefined, claim: number | undefined): void {
    if (claim) this.newest.set(session, { claim, owner: owner ?? null });
    if (owner && owner !== this.bus.replica) session.outlet = this.remote(session.id, owner);
  }

  /** This replica opened the session's GET stream: numbered in Redis, then announced so the others end theirs. */
  async opened(session: Session, outlet: Outlet): Promise<void> {
    const held = this.directory.holdStream(session.id, this.bus.replica).catch(() => 0);
    this.claims.set(outlet, held);
    const claim = await held;
    this.claims.set(outlet, claim);
    if (!claim) return;
    if (claim > (this.newest.get(session)?.claim ?? 0)) {
      this.newest.set(session, { claim, owner: this.bus.replica });
      void this.bus.broadcast({ t: 'stream', id: session.id, owner: this.bus.replica, claim });
    }
    // A newer stream elsewhere may have been announced while Redis numbered this one: then this one ends.
    if (session.outlet === outlet) this.follow(session);
  }

  /** The GET stream here ended: unless a newer one has taken over meanwhile, nobody holds one now. */
  async closed(session: Session, outlet: Outlet): Promise<void> {
    const claim = await this.claims.get(outlet);
    if (!claim) return;
    const released = await this.directory.releaseStream(session.id, claim).catch(() => 0);
    if (released !== 1) return;
    const newest = this.newest.get(session);
    if (newest?.claim === claim) newest.owner = null;
    void this.bus.broadcast({ t: 'stream', id: session.id, owner: null, claim });
  }

  /** News from another replica: the stream of this claim opened there (owner) or closed (null). */
  heard(session: Session, owner: string | null, claim: number): void {
    const newest = this.newest.get(session);
    // Older news, or the opening of a stream whose closing was heard first, changes nothing.
    if (newest && (claim < newest.claim || (claim === newest.claim && owner !== null))) return;
    this.newest.set(session, { claim, owner });
    this.follow(session);
  }

  /** Points the session's outlet at the newest stream; a stream here that is older is ended. */
  private follow(session: Session): void {
    const newest = this.newest.get(session);
    if (!newest) return;
    const current = session.outlet;
    if (current && !current.remote) {
      const mine = this.claims.get(current);
      // Not numbered yet: decided once it is (opened). Numbered at least as new: it is the session's stream.
      if (typeof mine !== 'number' || mine >= newest.claim) return;
      // Superseded: ending it lets the client's old connection go.
      session.outlet = undefined;
      current.close?.();
    }
    session.outlet =
      newest.owner && newest.owner !== this.bus.replica ? this.remote(session.id, newest.owner) : undefined;
  }
}
