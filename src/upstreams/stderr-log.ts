// An upstream's stderr as log lines a chatty or careless server cannot abuse: each line redacted, then cut to
// a bounded length, rate-capped per upstream (a token bucket; what it drops is counted in one line per
// interval), and the body of a private key printed over several lines never logged (KeyBlockFilter). Stdout
// lines that are not JSON-RPC share the cap.
import type { Logger } from 'pino';
import { redactText } from '../redact.js';

/** Lines per second an upstream's stderr may log, after a burst of this many: about 40 KB/s at most. */
export const STDERR_LINES_PER_SECOND = 20;
export const STDERR_BURST = 200;
/** Characters of one line that are logged; the rest is counted, not kept. */
export const STDERR_MAX_CHARS = 2048;
/** How often a line says how many lines the cap dropped (only when it dropped some). */
export const STDERR_SUPPRESSED_EVERY_MS = 5_000;

/** Characters of a stdout line that is not JSON-RPC that are logged. */
const GARBAGE_MAX_CHARS = 200;

export const STDERR_MESSAGE = 'upstream stderr';
export const GARBAGE_MESSAGE = 'upstream wrote a line that is not JSON-RPC';
export const SUPPRESSED_MESSAGE = 'upstream lines suppressed (rate cap)';

export interface StderrLogOptions {
  /** Takes credentials out of a line before it is cut (the config's own secrets too); redactText by default. */
  redact?: (text: string) => string;
  linesPerSecond?: number;
  burst?: number;
  now?: () => number;
}

/** One per upstream, shared by all its processes (per-session ones too), so the cap is per upstream. */
export class StderrLog {
  private readonly rate: number;
  private readonly burst: number;
  private readonly redact: (text: string) => string;
  private readonly now: () => number;
  private tokens: number;
  private refilledAt: number;
  private suppressed = 0;
  private summary?: NodeJS.Timeout;

  constructor(
    private readonly log: Logger,
    options: StderrLogOptions = {},
  ) {
    this.rate = options.linesPerSecond ?? STDERR_LINES_PER_SECOND;
    this.burst = options.burst ?? STDERR_BURST;
    this.redact = options.redact ?? ((text) => redactText(text));
    this.now = options.now ?? Date.now;
    this.tokens = this.burst;
    this.refilledAt = this.now();
  }

  /** Logs one stderr line, or counts it as suppressed when the upstream is over its rate. */
  readonly line = (line: string): void => {
    if (!this.admit()) return;
    // Redacted whole, then cut: a cut through a credential would leave a prefix no pattern recognises.
    const text = this.redact(line);
    if (text.length <= STDERR_MAX_CHARS) this.log.info({ stderr: text }, STDERR_MESSAGE);
    else this.log.info({ stderr: text.slice(0, STDERR_MAX_CHARS), chars: text.length }, STDERR_MESSAGE);
  };

  /** A stdout line that is not JSON-RPC (dropped): the same cap, since a server can flood that way too. */
  readonly garbage = (line: string): void => {
    if (this.admit()) this.log.warn({ line: this.redact(line).slice(0, GARBAGE_MAX_CHARS) }, GARBAGE_MESSAGE);
  };

  private admit(): boolean {
    if (this.take()) return true;
    this.suppressed++;
    this.summary ??= setTimeout(this.reportSuppressed, STDERR_SUPPRESSED_EVERY_MS).unref();
    return false;
  }

  /** A token bucket, refilled on every line: refilled lazily, it would count a full bucket's idle time too. */
  private take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) * this.rate) / 1000);
    this.refilledAt = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  private readonly reportSuppressed = (): void => {
    this.summary = undefined;
    if (this.suppressed === 0) return;
    const suppressed = this.suppressed;
    this.suppressed = 0;
    this.log.warn({ suppressed, linesPerSecond: this.rate, burst: this.burst }, SUPPRESSED_MESSAGE);
  };
}

const KEY_BEGIN = /-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/;
const KEY_END = /-----END [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----/;
/** A line of a key's body: one run of base64 (alone or after a logger's prefix), or a PEM/PGP header line. */
const KEY_BODY_LINE =
  /^(?:\s*[A-Za-z0-9+/=]*\s*|.*?\s[A-Za-z0-9+/=]{16,}\s*|(?:Proc-Type|DEK-Info|Comment|Version|Hash|Charset): .*)$/;
/** A block longer than this is no key, nor is a line this long: the filter lets lines through again. */
const MAX_KEY_LINES = 400;
const MAX_KEY_LINE_CHARS = 4096;

/**
 * Per stream: a private key printed over several lines is redacted in its BEGIN line by redactText, but its
 * body lines, logged one by one, look like nothing in particular. This remembers that a block is open and
 * hides its lines up to and including the END line; a line that cannot belong to a key ends the block.
 */
export class KeyBlockFilter {
  private lines = -1;

  /** Whether `line` may be shown (false: it is part of a private key block). */
  shows(line: string): boolean {
    if (this.lines >= 0) {
      if (KEY_END.test(line)) {
        this.lines = -1;
        return false;
      }
      const body = line.length <= MAX_KEY_LINE_CHARS && KEY_BODY_LINE.test(line);
      if (++this.lines <= MAX_KEY_LINES && body) return false;
      this.lines = -1;
    }
    // The BEGIN line itself is shown: redactText takes the key out of it (and a whole block on one line).
    if (line.includes('PRIVATE KEY')) {
      const begin = KEY_BEGIN.exec(line);
      if (begin && !KEY_END.test(line.slice(begin.index))) this.lines = 0;
    }
    return true;
  }
}
