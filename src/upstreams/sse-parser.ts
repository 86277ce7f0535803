// An incremental parser of text/event-stream: feeds chunks in, calls back once per complete event.
// Only what MCP uses: `event`, `data` (multi-line joined with \n), `id`; comments and `retry` are skipped.
// An event (or an unterminated line) longer than the cap is never held: the parser stops and reports it.

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

export class SseParser {
  private buffer = '';
  /** How much of the buffer is known to hold no newline: a long line arriving in pieces is scanned once. */
  private scanned = 0;
  private data: string[] = [];
  /** Characters held for the event being read: its data lines so far. */
  private dataSize = 0;
  private event = 'message';
  private id?: string;
  private overflowed = false;

  constructor(
    private readonly onEvent: (event: SseEvent) => void,
    /** The most characters one event may hold (its data lines and the line being read). */
    private readonly maxEventSize = Infinity,
    /** Called once when an event passes the cap; nothing more is parsed after it. */
    private readonly onOverflow?: () => void,
  ) {}

  push(chunk: string): void {
    if (this.overflowed) return;
    this.buffer += chunk;
    let start = 0;
    for (
      let end = this.buffer.indexOf('\n', this.scanned);
      end !== -1;
      end = this.buffer.indexOf('\n', start)
    ) {
      let line = this.buffer.slice(start, end);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      start = end + 1;
      this.line(line);
      if (this.overflowed) return;
    }
    this.buffer = this.buffer.slice(start);
    this.scanned = this.buffer.length;
    if (this.dataSize + this.buffer.length > this.maxEventSize) this.overflow();
  }

  private overflow(): void {
    this.overflowed = true;
    this.buffer = '';
    this.data = [];
    this.dataSize = 0;
    this.onOverflow?.();
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length) this.onEvent({ event: this.event, data: this.data.join('\n'), id: this.id });
      this.data = [];
      this.dataSize = 0;
      this.event = 'message';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      this.data.push(value);
      this.dataSize += value.length + 1;
      if (this.dataSize > this.maxEventSize) this.overflow();
    } else if (field === 'event') this.event = value;
    else if (field === 'id') this.id = value;
  }
}
