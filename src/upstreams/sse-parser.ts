// An incremental parser of text/event-stream over bytes: feeds chunks in, calls back once per complete event.
// Only what MCP uses: `event`, `data` (multi-line joined with \n), `id`; comments and `retry` are skipped.
// An event (or an unterminated line) longer than the cap is never held: the parser stops and reports it.
import { StringDecoder } from 'node:string_decoder';

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const DATA = Buffer.from('data:');
const EVENT = Buffer.from('event');
const ID = Buffer.from('id');
const MESSAGE = Buffer.from('message');
/** A line split across reads and shorter than this is joined (a small copy); a longer data line is not. */
const JOIN_BELOW = 1024;

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/** The bytes of an event's only data line, as the pieces they arrived in (views, never copies). */
export interface SseRawData {
  pieces: Buffer[];
  length: number;
}

export class SseParser {
  /** The line being read, as the pieces it arrived in; no piece holds a newline. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The data lines of the event being read, each as its pieces. */
  private data: Buffer[][] = [];
  /** Bytes held for the event being read: its data lines so far, each counted with its line end. */
  private dataSize = 0;
  private event = 'message';
  private id?: string;
  private overflowed = false;

  constructor(
    /** `raw` is set when the event has one data line: its bytes, for passing a result on unchanged. */
    private readonly onEvent: (event: SseEvent, raw?: SseRawData) => void,
    /** The most bytes one event may hold (its data lines and the line being read). */
    private readonly maxEventSize = Infinity,
    /** Called once when an event passes the cap; nothing more is parsed after it. */
    private readonly onOverflow?: () => void,
  ) {}

  push(chunk: Buffer | string): void {
    if (this.overflowed) return;
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    // Only the new chunk is searched: what is pending holds no newline, so a long line is scanned once.
    for (let end = bytes.indexOf(LF); end !== -1; end = bytes.indexOf(LF, start)) {
      if (this.pending.length) {
        const pieces = this.pending;
        pieces.push(bytes.subarray(start, end));
        const length = this.pendingBytes + end - start;
        this.pending = [];
        this.pendingBytes = 0;
        this.joinedLine(pieces, length);
      } else this.line(bytes, start, end);
      start = end + 1;
      if (this.overflowed) return;
    }
    if (start < bytes.length) {
      this.pending.push(start ? bytes.subarray(start) : bytes);
      this.pendingBytes += bytes.length - start;
    }
    if (this.dataSize + this.pendingBytes > this.maxEventSize) this.overflow();
  }

  private overflow(): void {
    this.overflowed = true;
    this.pending = [];
    this.pendingBytes = 0;
    this.data = [];
    this.dataSize = 0;
    this.onOverflow?.();
  }

  /** One line, bytes [start, end) of one buffer: the usual case, read without copying or joining. */
  private line(buf: Buffer, start: number, end: number): void {
    if (end > start && buf[end - 1] === CR) end--;
    if (end === start) return this.dispatch();
    if (buf[start] === COLON) return;
    if (same(buf, start, Math.min(end, start + DATA.length), DATA)) {
      let value = start + DATA.length;
      if (value < end && buf[value] === SPACE) value++;
      return this.dataLine([buf.subarray(value, end)], end - value);
    }
    let colon = buf.indexOf(COLON, start);
    if (colon === -1 || colon > end) colon = end;
    let value = Math.min(colon + 1, end);
    if (value < end && buf[value] === SPACE) value++;
    // Fields are told apart by their bytes: most events say `event: message`, which needs no new string.
    if (same(buf, start, colon, EVENT)) {
      this.event = same(buf, value, end, MESSAGE) ? 'message' : buf.toString('utf8', value, end);
    } else if (same(buf, start, colon, ID)) this.id = buf.toString('utf8', value, end);
  }

  /** A line that arrived in pieces: joined when short; a long data line keeps its pieces for the raw path. */
  private joinedLine(pieces: Buffer[], length: number): void {
    if (length < JOIN_BELOW || !startsWith(pieces, DATA)) {
      return this.line(Buffer.concat(pieces, length), 0, length);
    }
    let end = length;
    if (byteAt(pieces, end - 1) === CR) end--;
    let value = DATA.length;
    if (byteAt(pieces, value) === SPACE) value++;
    this.dataLine(slice(pieces, value, end), end - value);
  }

  private dataLine(pieces: Buffer[], length: number): void {
    this.data.push(pieces);
    this.dataSize += length + 1;
    if (this.dataSize > this.maxEventSize) this.overflow();
  }

  private dispatch(): void {
    const lines = this.data;
    if (!lines.length) return void (this.event = 'message');
    const event = this.event;
    const size = this.dataSize;
    this.data = [];
    this.dataSize = 0;
    this.event = 'message';
    if (lines.length === 1) {
      this.onEvent({ event, data: decode(lines[0]), id: this.id }, { pieces: lines[0], length: size - 1 });
    } else this.onEvent({ event, data: lines.map(decode).join('\n'), id: this.id });
  }
}

/** UTF-8 text of the pieces; a character split between two pieces is joined by the decoder. */
export function decode(pieces: Buffer[]): string {
  if (pieces.length === 1) return pieces[0].toString('utf8');
  const decoder = new StringDecoder('utf8');
  let text = '';
  for (const piece of pieces) text += decoder.write(piece);
  return text + decoder.end();
}

/** Whether bytes [start, end) of `buf` are `bytes`; a loop, as Buffer#compare with offsets costs far more. */
function same(buf: Buffer, start: number, end: number, bytes: Buffer): boolean {
  if (end - start !== bytes.length) return false;
  for (let i = 0; i < bytes.length; i++) if (buf[start + i] !== bytes[i]) return false;
  return true;
}

function byteAt(pieces: Buffer[], index: number): number {
  for (const piece of pieces) {
    if (index < piece.length) return piece[index];
    index -= piece.length;
  }
  return -1;
}

function startsWith(pieces: Buffer[], prefix: Buffer): boolean {
  for (let i = 0; i < prefix.length; i++) if (byteAt(pieces, i) !== prefix[i]) return false;
  return true;
}

/** Bytes [from, to) of the pieces, as views into them. */
function slice(pieces: Buffer[], from: number, to: number): Buffer[] {
  const out: Buffer[] = [];
  let offset = 0;
  for (const piece of pieces) {
    const start = Math.max(from - offset, 0);
    const end = Math.min(to - offset, piece.length);
    if (start < end) out.push(start === 0 && end === piece.length ? piece : piece.subarray(start, end));
    offset += piece.length;
    if (offset >= to) break;
  }
  return out;
}
