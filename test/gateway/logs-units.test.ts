// The pieces behind "no secret in logs" and "a chatty upstream cannot fill the disk", one by one: the stderr
// rate cap (a token bucket on a fake clock), the line bound, the private-key block filter, the root logger's
// field rules (`logging.redact` included) and the config's `${VAR}` values as secrets.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/gateway/config.js';
import { addLogSecrets, createLogger, hashSessionId } from '../../src/gateway/logger.js';
import { configSecrets } from '../../src/gateway/redact.js';
import {
  GARBAGE_MESSAGE,
  KeyBlockFilter,
  STDERR_MAX_CHARS,
  STDERR_MESSAGE,
  STDERR_SUPPRESSED_EVERY_MS,
  StderrLog,
  SUPPRESSED_MESSAGE,
} from '../../src/upstreams/stderr-log.js';

afterEach(() => {
  vi.useRealTimers();
});

function captured(level = 'info', options: { secrets?: string[]; fields?: string[] } = {}) {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const log = createLogger(level, {
    ...options,
    destination: {
      write: (line: string) => {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  });
  return { log, lines, raw };
}

describe('StderrLog', () => {
  it('logs a burst, then the rate, and one line counting what it dropped per interval', () => {
    vi.useFakeTimers();
    let now = 0;
    const { log, lines } = captured();
    const stderr = new StderrLog(log, { linesPerSecond: 10, burst: 5, now: () => now });
    for (let i = 0; i < 100; i++) stderr.line(`line ${i}`);
    expect(lines.map((l) => l.stderr)).toEqual(['line 0', 'line 1', 'line 2', 'line 3', 'line 4']);
    now += 300; // 0.3 s later: three more lines may go
    for (let i = 100; i < 200; i++) stderr.line(`line ${i}`);
    expect(lines.filter((l) => l.msg === STDERR_MESSAGE)).toHaveLength(8);
    expect(lines.at(-1)!.stderr).toBe('line 102');
    now += 60_000; // however long it waits, the bucket holds at most the burst
    for (let i = 200; i < 300; i++) stderr.line(`line ${i}`);
    expect(lines.filter((l) => l.msg === STDERR_MESSAGE)).toHaveLength(13);
    expect(lines.some((l) => l.msg === SUPPRESSED_MESSAGE)).toBe(false);
    vi.advanceTimersByTime(STDERR_SUPPRESSED_EVERY_MS);
    expect(lines.at(-1)).toMatchObject({ msg: SUPPRESSED_MESSAGE, suppressed: 287, linesPerSecond: 10 });
    // Nothing dropped since: no further summary.
    vi.advanceTimersByTime(STDERR_SUPPRESSED_EVERY_MS * 3);
    expect(lines.filter((l) => l.msg === SUPPRESSED_MESSAGE)).toHaveLength(1);
  });

  it('never credits a full bucket for time it sat idle', () => {
    let now = 0;
    const { log, lines } = captured();
    const stderr = new StderrLog(log, { linesPerSecond: 10, burst: 5, now: () => now });
    now += 60_000;
    for (let i = 0; i < 100; i++) stderr.line(`line ${i}`);
    expect(lines).toHaveLength(5);
  });

  it('redacts a line whole, then cuts it to a bounded length', () => {
    const { log, lines } = captured();
    const secret = 'Zt5uPLANTEDstraddling8841';
    const long = 'x'.repeat(STDERR_MAX_CHARS - 5) + ` ${secret} ` + 'y'.repeat(5000);
    new StderrLog(log, { redact: (text) => text.split(secret).join('[redacted]') }).line(long);
    const [line] = lines;
    expect((line.stderr as string).length).toBe(STDERR_MAX_CHARS);
    expect(line.chars).toBe(long.length - secret.length + '[redacted]'.length);
    expect(line.stderr).not.toContain(secret.slice(0, 4));
  });

  it('logs stdout lines that are not JSON-RPC under the same cap, redacted before they are cut', () => {
    let now = 0;
    const { log, lines } = captured();
    const stderr = new StderrLog(log, { linesPerSecond: 1, burst: 2, now: () => now });
    stderr.garbage(`${'g'.repeat(190)} token=Gb7aPLANTEDgarbage3391`);
    stderr.line('one stderr line');
    stderr.garbage('dropped');
    expect(lines.map((l) => l.msg)).toEqual([GARBAGE_MESSAGE, STDERR_MESSAGE]);
    expect(lines[0].line).toMatch(/^g{190} token=\[re/);
    expect(JSON.stringify(lines[0])).not.toContain('Gb7a');
    now += 1000;
    stderr.garbage('admitted again');
    expect(lines.at(-1)).toMatchObject({ msg: GARBAGE_MESSAGE, line: 'admitted again' });
  });
});

describe('KeyBlockFilter', () => {
  const body = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7';
  const shown = (lines: string[]) => {
    const filter = new KeyBlockFilter();
    return lines.filter((line) => filter.shows(line));
  };

  it.each([
    [
      'a bare PEM key',
      ['before', '-----BEGIN PRIVATE KEY-----', body, body, '-----END PRIVATE KEY-----', 'after'],
    ],
    [
      'an encrypted key with header lines',
      [
        'before',
        '-----BEGIN RSA PRIVATE KEY-----',
        'Proc-Type: 4,ENCRYPTED',
        'DEK-Info: AES-128-CBC,3F17F5316E2BAC89',
        body,
        '-----END RSA PRIVATE KEY-----',
        'after',
      ],
    ],
    [
      'a key behind a logger prefix',
      [
        'before',
        '[srv] -----BEGIN OPENSSH PRIVATE KEY-----',
        `[srv] ${body}`,
        '[srv] -----END OPENSSH PRIVATE KEY-----',
        'after',
      ],
    ],
  ])('hides the body and END line of %s', (_name, lines) => {
    expect(shown(lines)).toEqual(['before', lines[1], 'after']);
  });

  it('ends a block at a line that cannot belong to a key (a truncated key)', () => {
    expect(shown(['-----BEGIN PRIVATE KEY-----', body, 'server listening on port 8080', 'next'])).toEqual([
      '-----BEGIN PRIVATE KEY-----',
      'server listening on port 8080',
      'next',
    ]);
  });

  it('leaves a key on one line (redactText takes it) and public keys alone', () => {
    const oneLine = `-----BEGIN PRIVATE KEY-----${body}-----END PRIVATE KEY-----`;
    const pub = ['-----BEGIN PUBLIC KEY-----', body, '-----END PUBLIC KEY-----'];
    expect(shown([oneLine, 'next'])).toEqual([oneLine, 'next']);
    expect(shown(pub)).toEqual(pub);
  });
});

describe('the root logger', () => {
  it('redacts credential-named fields and headers at any depth, and hashes session ids', () => {
    const { log, raw, lines } = captured();
    const sid = 'f6a0c1d2-session-id-of-a-client';
    log.info(
      {
        request: {
          headers: {
            'x-goog-api-key': 'AIzaPLANTEDgoogleKey123',
            'x-auth-token': 'PLANTEDauthToken456',
            'set-cookie': 'sid=PLANTEDsetCookie789',
            'mcp-session-id': sid,
          },
        },
        upstream: { clientSecret: 'PLANTEDclientSecret' },
      },
      'sent',
    );
    expect(raw.join('')).not.toContain('PLANTED');
    expect(raw.join('')).not.toContain(sid);
    const headers = (lines[0].request as { headers: Record<string, string> }).headers;
    expect(headers['mcp-session-id']).toBe(hashSessionId(sid));
    expect(headers['x-auth-token']).toBe('[redacted]');
  });

  it('removes the fields logging.redact names, whole, at any depth and in any case', () => {
    const { log, raw, lines } = captured('info', { fields: ['ssn'] });
    const child = log.child({ upstream: 'crm' });
    addLogSecrets(child, [], ['Customer-Ref']);
    child.info({ deep: { a: { SSN: '078-05-1120' }, 'customer-ref': { id: 'CR-PLANTED' } }, ok: 1 }, 'x');
    expect(raw.join('')).not.toContain('078-05-1120');
    expect(raw.join('')).not.toContain('CR-PLANTED');
    expect(lines[0]).toMatchObject({
      deep: { a: { SSN: '[redacted]' }, 'customer-ref': '[redacted]' },
      ok: 1,
    });
  });
});

describe('config secrets for logs', () => {
  it('treats every ${VAR} the config expanded as a secret, except plain places like HOME', () => {
    const config = parseConfig(
      {
        logging: { redact: ['ssn'] },
        upstreams: {
          a: {
            command: 'node',
            args: ['--label', '${SB_LABEL}', '--home', '${HOME}'],
            env: { GH: '${SB_GH}' },
          },
        },
      },
      { env: { SB_LABEL: 'label-from-env', SB_GH: 'gh-value-from-env', HOME: '/home/someone' } },
    );
    const secrets = configSecrets(config);
    expect(secrets).toEqual(expect.arrayContaining(['label-from-env', 'gh-value-from-env']));
    expect(secrets).not.toContain('/home/someone');
    expect(config.logging.redact).toEqual(['ssn']);
  });

  it('rejects an empty field name in logging.redact', () => {
    expect(() => parseConfig({ logging: { redact: [''] } })).toThrow(/logging\.redact\.0/);
  });
});
