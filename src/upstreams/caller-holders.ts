// Which client sessions use each per-caller upstream connection (token exchange: one connection per identity,
// shared by that identity's sessions), so the connection ends with the last of them and not before.
export class CallerHolders {
  private readonly sessionsOf = new Map<string, Set<string>>();
  private readonly keyOfSession = new Map<string, string>();

  /** The connection key a session uses, if it has one. */
  keyOf(sessionKey: string): string | undefined {
    return this.keyOfSession.get(sessionKey);
  }

  hold(sessionKey: string, key: string): void {
    if (this.keyOfSession.get(sessionKey) === key) return;
    this.keyOfSession.set(sessionKey, key);
    let sessions = this.sessionsOf.get(key);
    if (!sessions) this.sessionsOf.set(key, (sessions = new Set()));
    sessions.add(sessionKey);
  }

  /**
   * Lets go of a session's hold. Returns the connection key when that session was the last to hold it (the
   * connection should end now); undefined when others still hold it or the session held none.
   */
  release(sessionKey: string): string | undefined {
    const key = this.keyOfSession.get(sessionKey);
    if (key === undefined) return undefined;
    this.keyOfSession.delete(sessionKey);
    const sessions = this.sessionsOf.get(key);
    sessions?.delete(sessionKey);
    if (sessions?.size) return undefined;
    this.sessionsOf.delete(key);
    return key;
  }

  /** The connection is gone: its sessions hold nothing and open a new one on their next call. */
  forget(key: string): void {
    for (const sessionKey of this.sessionsOf.get(key) ?? []) this.keyOfSession.delete(sessionKey);
    this.sessionsOf.delete(key);
  }
}
