// The stdio front has no bearer: its one session's principal is the configured subject (or the OS user), via
// 'stdio', and that is the principal policies see on every call.
import { userInfo } from 'node:os';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/gateway/config.js';
import { createLogger } from '../../src/gateway/logger.js';
import { Runtime } from '../../src/gateway/runtime.js';
import { serveStdio } from '../../src/gateway/front/stdio.js';
import { stdioPrincipal } from '../../src/gateway/front/auth.js';
import type { Policy, Principal } from '../../src/policy/types.js';
import { basicStdio, INIT, ROOT, waitFor } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';

const h = useHarness();

describe('stdio principal', () => {
  it('is the configured subject and groups, via stdio', () => {
    const config = parseConfig(
      { upstreams: {}, stdio: { principal: { subject: 'desk-user', groups: ['analysts'] } } },
      { baseDir: ROOT },
    );
    expect(stdioPrincipal(config.stdio.principal)).toEqual({
      subject: 'desk-user',
      groups: ['analysts'],
      scopes: [],
      via: 'stdio',
    });
  });

  it('is the OS user when no subject is configured', () => {
    const config = parseConfig({ upstreams: {} }, { baseDir: ROOT });
    expect(stdioPrincipal(config.stdio.principal)).toMatchObject({
      subject: userInfo().username,
      via: 'stdio',
    });
  });

  it('is what policies see for a call over the stdio front', async () => {
    const seen: Principal[] = [];
    const recorder: Policy = {
      name: 'recorder',
      visible(principal) {
        seen.push(principal);
        return true;
      },
      viewKey: (principal) => principal.subject,
    };
    const runtime = new Runtime(
      parseConfig({ upstreams: { basic: basicStdio('basic') } }, { baseDir: ROOT }),
      createLogger('silent'),
      [recorder],
    );
    await runtime.start();
    const input = new PassThrough();
    const output = new PassThrough();
    let written = '';
    output.setEncoding('utf8').on('data', (chunk: string) => (written += chunk));
    const served = serveStdio(
      runtime,
      input,
      output,
      stdioPrincipal({ subject: 'desk-user', groups: ['ops'] }),
    );
    h.defer(async () => {
      input.end();
      await served;
      await runtime.stop();
    });
    input.write(`${INIT}\n${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' })}\n`);
    await waitFor(() => written.includes('"id":2'));
    expect(seen.length).toBeGreaterThan(0);
    for (const principal of seen)
      expect(principal).toMatchObject({ subject: 'desk-user', groups: ['ops'], via: 'stdio' });
  });
});
