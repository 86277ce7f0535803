// The exchange's own cancellation (CallAbort): what the stages, the SDK's request and AbortSignal.any rely on
// of an AbortSignal holds for it: listener order and dedup, removal, one abort, its reason, and a real signal
// that follows it whether it is asked for before or after the abort.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CallAbort } from '../../src/gateway/session/call-abort.js';

afterEach(() => vi.restoreAllMocks());

describe('CallAbort', () => {
  it('runs each listener once, in the order added, and none that was removed or added after the abort', () => {
    const abort = new CallAbort();
    const seen: string[] = [];
    const a = () => seen.push('a');
    const b = () => seen.push('b');
    const c = () => seen.push('c');
    abort.addEventListener('abort', b);
    abort.addEventListener('abort', a, { once: true });
    abort.addEventListener('abort', b); // the same listener twice is one listener, as on an EventTarget
    abort.addEventListener('abort', c);
    abort.removeEventListener('abort', c);
    expect(abort.aborted).toBe(false);
    expect(() => abort.throwIfAborted()).not.toThrow();
    const reason = new Error('session closed');
    abort.abort(reason);
    abort.abort(new Error('a second time'));
    abort.addEventListener('abort', c);
    expect(seen).toEqual(['b', 'a']);
    expect(abort.aborted).toBe(true);
    expect(abort.reason).toBe(reason);
    expect(() => abort.throwIfAborted()).toThrow(reason);
    expect(abort.signal).toBe(abort);
  });

  it('aborts with an AbortError when given no reason, as AbortController does', () => {
    const abort = new CallAbort();
    const controller = new AbortController();
    abort.abort();
    controller.abort();
    expect(abort.reason).toBeInstanceOf(DOMException);
    expect((abort.reason as DOMException).name).toBe(controller.signal.reason.name);
  });

  it('makes one real AbortSignal on demand, which follows it, before or after the abort', () => {
    const before = new CallAbort();
    const signal = before.nodeSignal();
    expect(before.nodeSignal()).toBe(signal);
    const any = AbortSignal.any([signal, new AbortController().signal]);
    expect(any.aborted).toBe(false);
    before.abort('stop');
    expect(signal.aborted).toBe(true);
    expect(any.reason).toBe('stop');

    const after = new CallAbort();
    after.abort('late');
    expect(after.nodeSignal().aborted).toBe(true);
    expect(after.nodeSignal().reason).toBe('late');
  });

  it('runs the other listeners when one throws, and reports the error as an EventTarget does', () => {
    const reported: (() => void)[] = [];
    vi.spyOn(process, 'nextTick').mockImplementation(((callback: () => void) => {
      reported.push(callback);
    }) as typeof process.nextTick);
    const abort = new CallAbort();
    const seen: string[] = [];
    const broken = new Error('listener bug');
    abort.addEventListener('abort', () => {
      throw broken;
    });
    abort.addEventListener('abort', () => seen.push('after'));
    abort.abort('x');
    vi.restoreAllMocks();
    expect(seen).toEqual(['after']);
    expect(reported).toHaveLength(1);
    expect(reported[0]).toThrow(broken);
  });
});
