// `${principal.subject}` and `${principal.groups}` in the env of a `scope: session` stdio upstream: each user's
// process is started with that user's identity, and config loading keeps the references for that moment.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/gateway/config.js';
import { ROOT, TSX } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';
import { RESOURCE } from '../auth/helpers.js';
import { clientWithToken, textOf } from './credentials-helpers.js';

const ENV_SERVER = path.join(ROOT, 'test/fixtures/servers/env-server.ts');
const ALICE_KEY = 'alice-key-5d1c9e7a3b2f4a60';
const BOB_KEY = 'bob-key-8e2a4c6b0d9f1e37';

const h = useHarness();

function envUpstream(scope: 'session' | 'shared', env: Record<string, string>) {
  return { command: process.execPath, args: ['--import', TSX, ENV_SERVER], scope, env };
}

describe('${principal.*} in the env of a per-session stdio upstream', () => {
  it("each user's process sees its own subject and groups", async () => {
    const gw = await h.gateway({
      auth: {
        resource: RESOURCE,
        apiKeys: [
          { subject: 'alice', groups: ['analysts', 'ops'], key: ALICE_KEY },
          { subject: 'bob', groups: [], key: BOB_KEY },
        ],
      },
      upstreams: {
        files: envUpstream('session', {
          WHO: '${principal.subject}',
          GROUPS: 'g=${principal.groups}',
          PLAIN: 'unchanged',
        }),
      },
    });
    const alice = await clientWithToken(gw.url, ALICE_KEY);
    h.defer(() => alice.close());
    const bob = await clientWithToken(gw.url, BOB_KEY);
    h.defer(() => bob.close());
    const read = async (client: typeof alice, name: string) =>
      textOf(await client.callTool({ name: 'files__env', arguments: { name } }));

    expect(await read(alice, 'WHO')).toBe('alice');
    expect(await read(bob, 'WHO')).toBe('bob');
    expect(await read(alice, 'GROUPS')).toBe('g=analysts,ops');
    expect(await read(bob, 'GROUPS')).toBe('g=');
    expect(await read(alice, 'PLAIN')).toBe('unchanged');
  });

  it('config loading keeps ${principal.subject} as written, next to expanded ${NAME}', () => {
    const config = parseConfig(
      {
        upstreams: {
          files: envUpstream('session', { WHO: '${principal.subject}', HOME_DIR: '${SB_T_HOME}' }),
        },
      },
      { env: { SB_T_HOME: '/home/x' } },
    );
    expect((config.upstreams.files as { env: Record<string, string> }).env).toEqual({
      WHO: '${principal.subject}',
      HOME_DIR: '/home/x',
    });
  });

  const refused: [string, Record<string, unknown>, RegExp][] = [
    [
      'on a shared upstream (one process serves every user)',
      { files: envUpstream('shared', { WHO: '${principal.subject}' }) },
      /upstreams\.files\.env\.WHO: \$\{principal\.subject\} needs scope: session/,
    ],
    [
      'naming a field that does not exist',
      { files: envUpstream('session', { WHO: '${principal.email}' }) },
      /upstreams\.files\.env\.WHO: \$\{principal\.email\} is not known/,
    ],
  ];
  for (const [name, upstreams, message] of refused) {
    it(`\${principal.*} is refused at load ${name}`, () => {
      expect(() => parseConfig({ upstreams })).toThrow(message);
    });
  }
});
