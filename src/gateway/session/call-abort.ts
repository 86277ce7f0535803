// A request's cancellation without a Node AbortSignal per request. Node 20 builds each AbortSignal with
// Object.setPrototypeOf, and one made per request kept requests alive through young GCs (a minimal fastify server
// making one per request copies and promotes ~600 KB per scavenge, ~2 KB without; bare echo at C=10: median
// scavenge time 11.8 -> ~5.7 ms per 1,000 calls). A real AbortSignal is made only when needed (`nodeSignal`).
import type { AbortLike } from '../../policy/types.js';

export class CallAbort implements AbortLike {
  aborted = false;
  reason: unknown = undefined;
  private listeners: (() => void)[] | undefined;
  private node: AbortController | undefined;

  /** Its own signal, as an AbortController's `signal`: what the stages, the SDK's request and the front read. */
  get signal(): CallAbort {
    return this;
  }

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }

  /** As on an AbortSignal: 'abort' only, each listener once however often it is added, none after the abort. */
  addEventListener(type: 'abort', listener: () => void, _options?: { once?: boolean }): void {
    if (type !== 'abort' || this.aborted) return;
    const listeners = (this.listeners ??= []);
    if (!listeners.includes(listener)) listeners.push(listener);
  }

  removeEventListener(type: 'abort', listener: () => void): void {
    const listeners = this.listeners;
    const at = type === 'abort' && listeners ? listeners.indexOf(listener) : -1;
    if (at !== -1) listeners!.splice(at, 1);
  }

  /** Aborts once: the listeners run in the order they were added, then a real signal made for Node APIs. */
  abort(reason: unknown = new DOMException('This operation was aborted', 'AbortError')): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    if (listeners)
      for (const listener of listeners) {
        try {
          listener.call(this);
        } catch (error) {
          // As an EventTarget does: a throwing listener neither stops the others nor the abort.
          process.nextTick(() => {
            throw error;
          });
        }
      }
    this.node?.abort(reason);
  }

  /** A real AbortSignal that follows this one, for what needs one (AbortSignal.any, Node APIs); made once. */
  nodeSignal(): AbortSignal {
    if (!this.node) {
      this.node = new AbortController();
      if (this.aborted) this.node.abort(this.reason);
    }
    return this.node.signal;
  }
}
