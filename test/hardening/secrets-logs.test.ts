// Issue 8 point 8: no secret in logs. Tokens planted in upstream URLs (userinfo and query), in headers an
// HTTP upstream echoes back in its error body, and in a stdio upstream's stderr never appear in any log line
// or in /readyz; session ids appear only hashed.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/gateway/config.js';
import { createLogger, hashSessionId } from '../../src/gateway/logger.js';
import { buildGateway } from '../../src/gateway/server.js';
import { redactText } from '../../src/redact.js';
import { basicStdio, INIT, rawPost, ROOT, waitFor } from '../helpers/gateway.js';

const USER_TOKEN = 'Uq7wPLANTEDuserinfo91';
const QUERY_TOKEN = 'Qx4rPLANTEDquery5523';
const KEY_TOKEN = 'Kp2mPLANTEDapikey7781';
const BEARER_TOKEN = 'Bz9tPLANTEDbearer3310';
const HEADER_TOKEN = 'Hn5sPLANTEDheader6642';
const ENV_TOKEN = 'Ev3cPLANTEDenv0417';
const COOKIE_TOKEN = 'Ck8dPLANTEDcookie2290';
const ALL = [USER_TOKEN, QUERY_TOKEN, KEY_TOKEN, BEARER_TOKEN, HEADER_TOKEN, ENV_TOKEN, COOKIE_TOKEN];

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** An HTTP "MCP server" that refuses every request with 401 and echoes what it was sent, as some do. */
async function echoingUpstream(): Promise<number> {
  const server: Server = createServer((request, response) => {
    response.writeHead(401, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ error: 'unauthorized', url: request.url, echo: request.headers }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as AddressInfo).port;
}

/** A real gateway whose every log line is captured. */
async function capturedGateway(raw: Record<string, unknown>) {
  const lines: string[] = [];
  const log = createLogger('debug', { destination: { write: (line: string) => void lines.push(line) } });
  const app = await buildGateway(parseConfig(raw, { baseDir: ROOT }), { log });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  cleanups.push(() => app.close());
  return { app, url: `${address}/mcp`, base: address, lines };
}

function leaks(text: string): string[] {
  return ALL.filter((token) => text.includes(token));
}

describe('no secret in logs or /readyz', () => {
  it('redacts URL userinfo, query tokens and echoed headers of an HTTP upstream, and stdio stderr', async () => {
    const port = await echoingUpstream();
    const url = `http://bot:${USER_TOKEN}@127.0.0.1:${port}/mcp?token=${QUERY_TOKEN}&api_key=${KEY_TOKEN}`;
    const stderrScript = [
      `console.error('Authorization: Bearer ' + process.env.API_TOKEN);`,
      `console.error('connecting to https://svc:' + process.env.API_TOKEN + '@db.internal/x');`,
      `console.error('raw value ' + process.env.API_TOKEN);`,
      `console.error('{"password":"hunter2-not-in-config","ok":1}');`,
      `setTimeout(() => process.exit(2), 50);`,
    ].join('\n');
    const gw = await capturedGateway({
      upstreams: {
        pinned: {
          url,
          type: 'streamable-http',
          headers: {
            Authorization: `Bearer ${BEARER_TOKEN}`,
            'X-Api-Key': HEADER_TOKEN,
            Cookie: `sid=${COOKIE_TOKEN}`,
          },
        },
        fallback: {
          url,
          headers: {
            Authorization: `Bearer ${BEARER_TOKEN}`,
            'X-Api-Key': HEADER_TOKEN,
            Cookie: `sid=${COOKIE_TOKEN}`,
          },
        },
        noisy: { command: process.execPath, args: ['-e', stderrScript], env: { API_TOKEN: ENV_TOKEN } },
      },
    });
    const ready = await fetch(`${gw.base}/readyz`);
    const body = await ready.text();
    const state = JSON.parse(body);
    // The failures are reported (so the test looks where the secrets would be) ...
    expect(state.upstreams.pinned).toMatchObject({ state: 'down', error: expect.stringContaining('401') });
    expect(state.upstreams.pinned.error).toContain('[redacted]');
    expect(state.upstreams.noisy.state).toBe('down');
    await waitFor(() => gw.lines.some((line) => line.includes('"raw value [redacted]"')));
    const all = gw.lines.join('');
    expect(all).toContain('upstream down');
    expect(all).toContain('upstream stderr');
    expect(all).toContain('Authorization: [redacted]');
    expect(all).toContain('\\"password\\":\\"[redacted]\\"');
    // ... and no token is in any of it.
    expect(leaks(body)).toEqual([]);
    expect(gw.lines.filter((line) => leaks(line).length)).toEqual([]);
    expect(all).not.toContain('hunter2-not-in-config');
  });

  it('logs session ids only as a short hash', async () => {
    const gw = await capturedGateway({
      upstreams: { a: { ...basicStdio('a'), scope: 'session' } },
    });
    const init = await rawPost(gw.url, INIT);
    const sid = init.headers.get('mcp-session-id')!;
    const call = (id: number, name: string) =>
      rawPost(gw.url, JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name } }), {
        'mcp-session-id': sid,
      });
    expect((await call(2, 'a__whoami')).json.result.content[0].text).toBe('a');
    await call(3, 'a__crash'); // the session's own process exits: a line with its session id is logged
    await waitFor(() => gw.lines.some((line) => line.includes('per-session upstream connection closed')));
    const all = gw.lines.join('');
    expect(all).not.toContain(sid);
    expect(all).toContain(hashSessionId(sid));
    expect(hashSessionId(sid)).toMatch(/^sha256:[0-9a-f]{12}$/);
  });

  it('redacts structured credential fields and messages logged by any unit', () => {
    const lines: string[] = [];
    const log = createLogger('info', {
      destination: { write: (line: string) => void lines.push(line) },
      secrets: [ENV_TOKEN],
    });
    const child = log.child({ upstream: 'x', sessionId: 'child-session-id-1' });
    child.info({ headers: { authorization: `Bearer ${BEARER_TOKEN}`, cookie: `sid=${KEY_TOKEN}` } }, 'sent');
    child.warn({ error: `failed at https://u:${USER_TOKEN}@h/?access_token=${QUERY_TOKEN}` }, 'boom');
    child.error(new Error(`upstream said: ${ENV_TOKEN}`), `and again ${ENV_TOKEN}`);
    child.info({ nested: { deeper: { apiKey: HEADER_TOKEN, list: [`token=${KEY_TOKEN}`] } } }, 'nested');
    expect(lines).toHaveLength(4);
    expect(lines.filter((line) => leaks(line).length)).toEqual([]);
    expect(lines.join('')).not.toContain('child-session-id-1');
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
  });
});

describe('redactText', () => {
  it.each([
    ['https://user:pa55word-x@host/p', 'https://[redacted]@host/p'],
    ['postgres://app:s3cr3t-pw@db:5432/x', 'postgres://[redacted]@db:5432/x'],
    ['GET /mcp?token=abc123xyz&x=1', 'GET /mcp?token=[redacted]&x=1'],
    ['/v1?api_key=abc123xyz', '/v1?api_key=[redacted]'],
    ['Authorization: Bearer abcdef123456', 'Authorization: [redacted]'],
    ['{"authorization":"Basic dXNlcjpwYXNz"}', '{"authorization":"[redacted]"}'],
    ['x-api-key: k-123456789', 'x-api-key: [redacted]'],
    ['Cookie: sid=abcdef0123', 'Cookie: [redacted]'],
    ['sent Bearer abcdef123456 to it', 'sent Bearer [redacted] to it'],
    ['key ghp_abcdefghijklmnopqrstuvwxyz0123', 'key [redacted]'],
    ['PASSWORD=hunter2hunter2 next', 'PASSWORD=[redacted] next'],
  ])('redacts %j', (input, expected) => {
    expect(redactText(input)).toBe(expected);
  });

  it('removes known secrets in plain and URL-encoded form, and leaves ordinary text alone', () => {
    expect(redactText('got a+b/c=d?e back', ['a+b/c=d?e'])).toBe('got [redacted] back');
    expect(redactText('got a%2Bb%2Fc%3Dd%3Fe back', ['a+b/c=d?e'])).toBe('got [redacted] back');
    const plain =
      'upstream "a" exited with code 1; stderr: cannot find module ./server.js (author: Jane, at secrets.ts:12:3)';
    expect(redactText(plain, ['short'])).toBe(plain);
  });
});
