// Graceful drain for `serve`: on the first SIGTERM/SIGINT the gateway stops taking new sessions (/readyz 503,
// initialize refused), lets the calls in flight finish (at most shutdown.drainTimeout), then closes (GET streams
// end cleanly, upstreams stop) and exits 0. A second signal cuts what is left of the drain short.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { ERROR_KINDS } from '../errors.js';
import type { SessionRegistry } from './session/sessions.js';

/** How often the drain looks at the calls in flight: a poll only while draining, nothing on the request path. */
const POLL_MS = 50;
/** How long cut calls get to have their error answers written before the connections close. */
const CUT_GRACE_MS = 2_000;
/** How long closing (sessions, upstreams, audit, pins) may take before the process exits anyway. */
const CLOSE_LIMIT_MS = 10_000;

/** The client requests being answered right now, over every session. */
export function callsInFlight(sessions: SessionRegistry): number {
  let count = 0;
  for (const session of sessions.all()) count += session.inflight?.size ?? 0;
  return count;
}

/** Fails every call in flight with `message` (the upstream hears a cancellation); returns how many there were. */
export function cutCalls(sessions: SessionRegistry, message: string): number {
  // An McpError, not a GatewayError: the SDK rejects a call aborted with an McpError with that very error (any
  // other reason it reports as a timeout), so the client reads this message with the 503 kind's code.
  const reason = new McpError(ERROR_KINDS.overloaded.code, message);
  let cut = 0;
  for (const session of sessions.all())
    for (const exchange of session.inflight?.values() ?? []) {
      exchange.controller.abort(reason);
      cut++;
    }
  return cut;
}

export class Drain {
  private hurried = false;
  /** Ends the current wait early: a second signal need not wait for the next poll. */
  private wake?: () => void;

  constructor(
    private readonly app: FastifyInstance,
    private readonly timeoutMs: number,
    private readonly log: Logger,
    /** shutdown.readinessDelay: served on (not ready) at least this long, so the balancer notices first. */
    private readonly readinessDelayMs = 0,
  ) {}

  /** The drain, then the close; resolves once the gateway is closed. */
  async run(): Promise<void> {
    const { runtime } = this.app;
    // From here /readyz answers 503 (a load balancer stops sending new work) and initialize is refused.
    runtime.draining = true;
    const waiting = callsInFlight(runtime.sessions);
    this.log.info({ callsInFlight: waiting, drainTimeoutMs: this.timeoutMs }, 'draining: no new sessions');
    const started = Date.now();
    if (this.readinessDelayMs > 0) await this.pause(Math.min(this.readinessDelayMs, this.timeoutMs));
    const left = this.timeoutMs - (Date.now() - started);
    if (!(await this.untilIdle(runtime.sessions, left))) {
      const reason = this.hurried
        ? 'Service Unavailable: the gateway was stopped (a second signal during its drain) before this call ' +
          'finished; retry it'
        : `Service Unavailable: the gateway shut down before this call finished (shutdown.drainTimeout, ` +
          `${this.timeoutMs / 1000}s, passed); retry it`;
      const cut = cutCalls(runtime.sessions, reason);
      this.log.warn({ cut, hurried: this.hurried }, 'drain cut short: calls still in flight were failed');
      // Their error answers go out before the connections close (each is answered as soon as it is aborted).
      await this.untilIdle(runtime.sessions, CUT_GRACE_MS, false);
    } else {
      this.log.info('drained: no call in flight');
    }
    const force = setTimeout(() => {
      this.log.error('closing took too long: exiting anyway');
      process.exit(1);
    }, CLOSE_LIMIT_MS);
    force.unref();
    // Sessions end (GET streams with a clean end of stream, so their clients reconnect elsewhere), then the
    // upstreams stop (server.ts preClose / onClose).
    await this.app.close();
  }

  /** A second signal: stop waiting for the calls in flight. */
  interrupt(): void {
    this.hurried = true;
    this.wake?.();
  }

  get interruptedAlready(): boolean {
    return this.hurried;
  }

  /** Waits `ms` while requests are still served; a second signal ends the wait. */
  private async pause(ms: number): Promise<void> {
    if (this.hurried) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      this.wake = resolve;
    });
    clearTimeout(timer);
    this.wake = undefined;
  }

  /** True once nothing is in flight; false when `limitMs` passed first (or a second signal came, if heeded). */
  private async untilIdle(sessions: SessionRegistry, limitMs: number, heedSignal = true): Promise<boolean> {
    const deadline = Date.now() + limitMs;
    while (callsInFlight(sessions) > 0) {
      if (Date.now() >= deadline || (heedSignal && this.hurried)) return false;
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        timer = setTimeout(resolve, POLL_MS);
        if (heedSignal) this.wake = resolve;
      });
      clearTimeout(timer);
      this.wake = undefined;
    }
    return true;
  }
}

/**
 * `serve`'s signal handling: the first SIGTERM or SIGINT drains and exits 0; a second one during the drain cuts
 * the calls still in flight and closes at once.
 */
export function drainOnSignals(
  app: FastifyInstance,
  timeoutMs: number,
  log: Logger,
  readinessDelayMs = 0,
): void {
  let drain: Drain | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (!drain) {
      process.stderr.write(
        `switchboard: ${signal}, draining (at most ${timeoutMs / 1000}s; send it again to stop at once)\n`,
      );
      drain = new Drain(app, timeoutMs, log, readinessDelayMs);
      drain.run().then(
        () => process.exit(0),
        (error: unknown) => {
          log.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
      return;
    }
    if (drain.interruptedAlready) return;
    process.stderr.write(`switchboard: ${signal} during the drain, stopping now\n`);
    drain.interrupt();
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}
