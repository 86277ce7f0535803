// Fixed windows counted in this process, synchronously: the per-call limits count without a promise. The same
// semantics as rate-limiter-flexible's memory limiter: a key's window starts at its first point and lasts
// `durationMs`; past its end the next point starts a new window.

/** A window's count for one key after taking a point. */
export interface WindowUse {
  /** Points taken in the current window, this one included (past the limit, the call is refused). */
  readonly consumed: number;
  /** ms until the window ends and its points are free again (at least 1). */
  readonly msBeforeNext: number;
}

interface Window {
  count: number;
  readonly endsAt: number;
}

export class MemoryWindows {
  /**
   * Key -> its current window, in the order the windows started. Every window lasts the same time, so that is
   * also the order they end in: expired entries are the ones at the front, and a sweep stops at the first live
   * one (a key starting a new window is deleted and set again to move to the back).
   */
  private readonly windows = new Map<string, Window>();
  /** When the front entry ends: takes sweep only from then on, so a take usually costs one comparison here. */
  private sweepAt = Infinity;
  /** Frees what ended while no take came (an idle gateway after a burst); one per counter, only while it holds
   * entries, and never keeps the process alive. */
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly durationMs: number) {
    if (!(durationMs > 0)) throw new RangeError(`a window lasts more than 0 ms, not ${durationMs}`);
  }

  /** Takes one point for `key`. */
  take(key: string): WindowUse {
    const now = Date.now();
    if (now >= this.sweepAt) this.sweep(now);
    const window = this.windows.get(key);
    if (window !== undefined && window.endsAt > now) {
      window.count++;
      return { consumed: window.count, msBeforeNext: window.endsAt - now };
    }
    // An ended window the sweep has not reached yet (the clock stepped back) goes too, to keep the order.
    if (window !== undefined) this.windows.delete(key);
    const endsAt = now + this.durationMs;
    this.windows.set(key, { count: 1, endsAt });
    if (this.windows.size === 1) {
      this.sweepAt = endsAt;
      this.timer ??= setInterval(() => this.sweep(Date.now()), this.durationMs).unref();
    }
    return { consumed: 1, msBeforeNext: this.durationMs };
  }

  /** Keys with a window held in memory (ended ones included until a sweep reaches them). */
  get size(): number {
    return this.windows.size;
  }

  /** Drops the windows that ended by `now`, from the front up to the first live one. */
  private sweep(now: number): void {
    for (const [key, window] of this.windows) {
      if (window.endsAt > now) {
        this.sweepAt = window.endsAt;
        return;
      }
      this.windows.delete(key);
    }
    this.sweepAt = Infinity;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
