// An incremental parser of text/event-stream: feeds chunks in, calls back once per complete event.
// Only what MCP uses: `event`, `data` (multi-line joined with \n), `id`; comments and `retry` are skipped.

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
  private event = 'message';
  private id?: string;

  constructor(private readonly onEvent: (event: SseEvent) => void) {}

  push(chunk: string): void {
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
    }
    this.buffer = this.buffer.slice(start);
    this.scanned = this.buffer.length;
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length) this.onEvent({ event: this.event, data: this.data.join('\n'), id: this.id });
      this.data = [];
      this.event = 'message';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.event = value;
    else if (field === 'id') this.id = value;
  }
}
