// The in-process window counter: where a window starts and ends, what it reports, that ended windows leave memory
// (on the take path, and by one unref'd timer while idle), and that it counts exactly as rate-limiter-flexible's
// memory limiter did for any sequence of keys and time steps.
import fc from 'fast-check';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MemoryWindows } from '../../src/gateway/stores/memory-window.js';

const T0 = Date.UTC(2025, 0, 1);
const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('a window', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => vi.useRealTimers());

  it('starts at its first point and lasts the duration; its end frees the points', () => {
    const windows = new MemoryWindows(2000);
    expect(windows.take('a')).toEqual({ consumed: 1, msBeforeNext: 2000 });
    vi.advanceTimersByTime(400);
    expect(windows.take('a')).toEqual({ consumed: 2, msBeforeNext: 1600 });
    // Another key started later has a window of its own, ending later.
    expect(windows.take('b')).toEqual({ consumed: 1, msBeforeNext: 2000 });
    vi.advanceTimersByTime(1599);
    expect(windows.take('a')).toEqual({ consumed: 3, msBeforeNext: 1 });
    vi.advanceTimersByTime(1);
    // The end is exclusive: at it, the next point starts a new window.
    expect(windows.take('a')).toEqual({ consumed: 1, msBeforeNext: 2000 });
    expect(windows.take('b')).toEqual({ consumed: 2, msBeforeNext: 400 });
  });

  it('refuses nothing itself: past any limit it goes on counting within the window', () => {
    const windows = new MemoryWindows(1000);
    for (let i = 1; i <= 50; i++) expect(windows.take('k').consumed).toBe(i);
  });

  it('a duration of 0 or less is a mistake', () => {
    expect(() => new MemoryWindows(0)).toThrow(RangeError);
    expect(() => new MemoryWindows(Number.NaN)).toThrow(RangeError);
  });
});

describe('memory', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => vi.useRealTimers());

  it('a take drops the windows that ended before it, and keeps the live ones', () => {
    const windows = new MemoryWindows(1000);
    windows.take('a');
    vi.advanceTimersByTime(500);
    windows.take('b');
    vi.advanceTimersByTime(500);
    windows.take('c');
    // 'a' ended at 1000; 'b' ends at 1500 and 'c' at 2000.
    expect(windows.size).toBe(2);
    expect(windows.take('b').consumed).toBe(2);
  });

  it('many keys over a long time: only about the last window of keys is ever held', () => {
    const windows = new MemoryWindows(1000);
    let most = 0;
    for (let i = 0; i < 20_000; i++) {
      windows.take(`key-${i}`);
      most = Math.max(most, windows.size);
      vi.advanceTimersByTime(1); // 20 windows' worth of distinct keys, one new key per ms
    }
    expect(most).toBeLessThanOrEqual(1001);
    expect(windows.size).toBeLessThanOrEqual(1001);
  });

  it('a key that starts a new window moves to the back: the sweep still frees what ended behind it', () => {
    const windows = new MemoryWindows(1000);
    windows.take('a');
    windows.take('b');
    vi.advanceTimersByTime(1000);
    windows.take('a'); // a new window for 'a'; 'b' ended too
    expect(windows.size).toBe(1);
    vi.advanceTimersByTime(999);
    windows.take('c');
    expect(windows.size).toBe(2);
    vi.advanceTimersByTime(1);
    windows.take('c');
    expect(windows.size).toBe(1);
  });

  it('idle after a burst: one timer per counter (never one per key) frees every window within two windows', () => {
    const windows = new MemoryWindows(1000);
    expect(vi.getTimerCount()).toBe(0);
    for (let i = 0; i < 5000; i++) windows.take(`key-${i}`);
    expect(windows.size).toBe(5000);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(2000);
    expect(windows.size).toBe(0);
    // Empty, it holds no timer either; the next key brings one back.
    expect(vi.getTimerCount()).toBe(0);
    windows.take('again');
    expect(vi.getTimerCount()).toBe(1);
  });
});

it('its timer never keeps the process alive', () => {
  const before = timeouts();
  const windows = new MemoryWindows(60_000);
  windows.take('a');
  expect(timeouts()).toBe(before);
  // The same holds for rate-limiter-flexible's timer per key: neither may hold a gateway open on shutdown.
  void new RateLimiterMemory({ points: 1, duration: 60, keyPrefix: '' }).consume('a').catch(() => {});
  expect(timeouts()).toBe(before);
});

describe('against rate-limiter-flexible', () => {
  // Both read Date.now and expire by timers, so fake timers drive them alike and exactly: every step is at a
  // known ms, windows ending on the very ms of a take are covered, and nothing depends on how busy the machine
  // is (two limiters on a real clock would read it at different moments and disagree at window ends).
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(T0);
  });
  afterEach(() => vi.useRealTimers());

  const step = fc.record({
    key: fc.constantFrom('a', 'b', 'c', 'd'),
    // Often nothing or a little, sometimes exactly to a window's end or far past it.
    advance: fc.oneof(
      fc.constant(0),
      fc.integer({ min: 1, max: 300 }),
      fc.constantFrom(1000, 999, 2000, 1001),
      fc.integer({ min: 0, max: 5000 }),
    ),
  });

  it('gives the same (consumed, window end) for any sequence of keys and time steps', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(step, { minLength: 1, maxLength: 80 }),
        async (seconds, points, steps) => {
          vi.clearAllTimers();
          vi.setSystemTime(T0);
          const ours = new MemoryWindows(seconds * 1000);
          const theirs = new RateLimiterMemory({ points, duration: seconds, keyPrefix: '' });
          for (const { key, advance } of steps) {
            vi.advanceTimersByTime(advance);
            const now = Date.now();
            const use = ours.take(key);
            // Past `points` it rejects with the count, as the limiter used in the gateway did.
            const res = await theirs.consume(key).catch((refused: RateLimiterRes) => refused);
            expect(res).toBeInstanceOf(RateLimiterRes);
            expect([use.consumed, now + use.msBeforeNext]).toEqual([
              res.consumedPoints,
              now + res.msBeforeNext,
            ]);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
