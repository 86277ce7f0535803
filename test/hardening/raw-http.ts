// Raw HTTP/1.1 over node:net for the hardening tests: request targets and header spellings that fetch and the
// SDK never send, a chosen local address (a second "source"), and clients that stop reading on purpose.
import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends `head` (request line and headers, without the final blank line) and `body`; reads until close. */
export function rawRequest(
  port: number,
  head: string,
  body = '',
  options: { localAddress?: string; timeoutMs?: number } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: options.localAddress });
    const chunks: Buffer[] = [];
    const isHead = head.startsWith('HEAD ');
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer to ${head.split('\r\n')[0]}`));
    }, options.timeoutMs ?? 10_000);
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      const parsed = parse(Buffer.concat(chunks).toString('utf8'), isHead);
      if (parsed) {
        clearTimeout(timer);
        socket.destroy();
        resolve(parsed);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const parsed = parse(Buffer.concat(chunks).toString('utf8'), isHead, true);
      if (parsed) resolve(parsed);
      else reject(new Error(`connection closed without an answer to ${head.split('\r\n')[0]}`));
    });
    const length = Buffer.byteLength(body);
    const withLength = body || /^(POST|PUT|PATCH) /.test(head) ? `\r\ncontent-length: ${length}` : '';
    socket.write(`${head}${withLength}\r\nconnection: close\r\n\r\n${body}`);
  });
}

/** A complete response (by content-length, or, at close, whatever arrived); undefined while incomplete.
 * The answer to HEAD has no body whatever its content-length says. */
function parse(text: string, isHead: boolean, closed = false): RawResponse | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const body = text.slice(end + 4);
  const length = headers['content-length'];
  if (isHead) return { status: Number(statusLine.split(' ')[1]), headers, body: '' };
  if (length !== undefined ? Buffer.byteLength(body) < Number(length) : !closed) return undefined;
  return { status: Number(statusLine.split(' ')[1]), headers, body };
}

export const INIT_BODY = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
});
