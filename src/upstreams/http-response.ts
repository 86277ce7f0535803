// Reads one upstream HTTP response through undici's dispatch handler: no Readable stream, promise or async
// resource per request (undici's request() spends those). The body is read as JSON pieces, SSE events or the
// start of an error text, capped as it arrives; past the cap the exchange is aborted, never buffered whole.
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import { SseParser, type SseEvent, type SseRawData } from './sse-parser.js';

/** How to read a body: whole as JSON pieces, as SSE events, only its start as text, or not at all. */
export type BodyMode = 'json' | 'sse' | 'text' | 'discard';

export interface ResponseCallbacks {
  /** Status and headers arrived; the answer says how to read the body. */
  head(status: number, headers: IncomingHttpHeaders): BodyMode;
  /** `json`: the whole body (pieces as they arrived); `text`: its first 4 KB. */
  body?(pieces: Buffer[], length: number): void;
  /** `sse`: one event; `raw` holds the bytes of its only data line. */
  event?(event: SseEvent, raw?: SseRawData): void;
  /** A JSON body or one SSE event passed the limit: the exchange is aborted and nothing more arrives. */
  tooLarge?(): void;
  /** The response ended in full (after `body`). */
  end?(): void;
  /** The request failed, or the response broke off while read; never after `tooLarge` or an abort of ours. */
  error(error: Error): void;
}

/** The most of a `text` body kept: the start of an error body, all a message shows. */
const TEXT_BYTES = 4096;

/** A sentinel reason for aborts of our own, so they are not reported as the upstream's failure. */
const OURS = new Error('aborted by the gateway');

export class ResponseReader implements Dispatcher.DispatchHandler {
  private controller?: Dispatcher.DispatchController;
  private mode: BodyMode = 'discard';
  private pieces: Buffer[] = [];
  private length = 0;
  private parser?: SseParser;
  private done = false;

  constructor(
    private readonly callbacks: ResponseCallbacks,
    /** The most bytes of a JSON body or an SSE event. */
    private readonly limit: number,
  ) {}

  /** Stops the exchange (a GET stream at close); no callback follows. */
  abort(): void {
    this.done = true;
    this.controller?.abort(OURS);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.done) controller.abort(OURS);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    status: number,
    headers: IncomingHttpHeaders,
  ): void {
    // 1xx informational answers come before the real one and carry no body of their own.
    if (status < 200 || this.done) return;
    this.mode = this.callbacks.head(status, headers);
    if (this.mode === 'sse') {
      this.parser = new SseParser(
        (event, raw) => this.callbacks.event?.(event, raw),
        this.limit,
        () => this.overflow(),
      );
    }
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.done) return;
    switch (this.mode) {
      case 'sse':
        return this.parser!.push(chunk);
      case 'json':
        this.length += chunk.length;
        if (this.length > this.limit) return this.overflow();
        this.pieces.push(chunk);
        return;
      case 'text': {
        const room = TEXT_BYTES - this.length;
        this.pieces.push(room >= chunk.length ? chunk : chunk.subarray(0, room));
        this.length += Math.min(room, chunk.length);
        // Enough to show: the rest is not read, and the connection is dropped rather than drained.
        if (this.length >= TEXT_BYTES) this.finish(true);
        return;
      }
    }
  }

  onResponseEnd(): void {
    if (!this.done) this.finish(false);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.done || error === OURS) return;
    this.done = true;
    this.callbacks.error(error);
  }

  private finish(stop: boolean): void {
    this.done = true;
    if (this.mode === 'json' || this.mode === 'text') this.callbacks.body?.(this.pieces, this.length);
    this.callbacks.end?.();
    if (stop) this.controller?.abort(OURS);
  }

  private overflow(): void {
    this.done = true;
    this.pieces = [];
    this.controller?.abort(OURS);
    this.callbacks.tooLarge?.();
  }
}
