// Pins in Redis (127.0.0.1:6379, a key prefix of its own per run), shared by two real gateways: what one pinned,
// the other holds its upstream to; an approval through the CLI (reading the same Redis) reaches a running
// gateway within seconds; while Redis does not answer, pinned upstreams' tools stay out (fail closed) and the
// gateway serves everything else.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { connectClient } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';
import {
  callError,
  cli,
  eventually,
  loggedGateway,
  pinsSetup,
  PULLED,
  rugPull,
  toolNames,
} from './pins-helpers.js';

const REDIS_URL = 'redis://127.0.0.1:6379';
const PREFIX = `switchboard-test:${process.pid}-${randomUUID()}:`;
const redis = new Redis(REDIS_URL);
const h = useHarness();

afterAll(async () => {
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

async function gateway(config: Record<string, unknown>) {
  const gw = await loggedGateway(config);
  h.defer(gw.close);
  const client = await connectClient(gw.url);
  h.defer(() => client.close());
  return { ...gw, client };
}

/** The shared weather record, once it has stayed exactly as it is (not rewritten) through two polls (2 s each). */
async function unchangedThroughPolls(): Promise<string | null> {
  const read = () => redis.hget(`${PREFIX}two:pins`, 't\0rp\0weather');
  await eventually(async () => /"reason":"changed"/.test((await read()) ?? ''));
  const before = await read();
  await new Promise((resolve) => setTimeout(resolve, 4500));
  expect(await read()).toBe(before);
  return before;
}

describe('pins in Redis', () => {
  it('two gateways share the pins; an approval through the CLI reaches the running one', async () => {
    const shared = { redis: { url: REDIS_URL, keyPrefix: `${PREFIX}two:` } };
    // Built in code, so pinning is asked for; the CLI's config (a file) pins by default.
    const first = await gateway({
      ...shared,
      upstreams: { rp: { ...rugPull(), pinning: { newTools: 'trust' } } },
    });
    expect(await toolNames(first.client)).toContain('rp__weather');
    // The second replica's upstream presents another definition than the one the first pinned.
    const { file, config } = pinsSetup({ ...shared, upstreams: { rp: rugPull(['--weather', PULLED]) } });
    const second = await gateway(config);
    expect(await toolNames(second.client)).toEqual(['rp__add_tool', 'rp__pull']);
    // The first replica still presents the pinned definition: it keeps publishing that, and leaves the
    // quarantine the second raised as it is through two polls of each (it once lifted it, and the two flipped it).
    expect(await unchangedThroughPolls()).toMatch(/"reason":"changed"/);
    expect(await toolNames(first.client)).toContain('rp__weather');

    const listed = cli(['pins', 'list', '--config', file]);
    expect(listed.stdout).toMatch(/rp__weather\s+quarantined\s+changed/);
    expect(cli(['pins', 'approve', 'rp__weather', '--config', file]).status).toBe(0);
    await eventually(async () => (await toolNames(second.client)).includes('rp__weather'));
    // Shared: the first replica's upstream now presents what is no longer the pin.
    await eventually(async () => !(await toolNames(first.client)).includes('rp__weather'));
    // The roles reversed: the second's upstream presents the new pin and leaves the first's quarantine alone,
    // although it once raised one of its own on this tool.
    expect(await unchangedThroughPolls()).toMatch(/"reason":"changed"/);
    expect(await toolNames(second.client)).toContain('rp__weather');
    expect(await toolNames(first.client)).not.toContain('rp__weather');
  });

  it('while Redis does not answer, pinned upstreams stay hidden and unknown; the others are served', async () => {
    const gw = await gateway({
      redis: { url: 'redis://127.0.0.1:1', keyPrefix: `${PREFIX}down:` },
      upstreams: {
        rp: { ...rugPull(), pinning: { newTools: 'trust' } },
        open: { ...rugPull(), pinning: 'off' },
      },
    });
    expect(await toolNames(gw.client)).toEqual(['open__add_tool', 'open__pull', 'open__weather']);
    const absent = (await callError(gw.client, 'rp__nothing'))!;
    expect(await callError(gw.client, 'rp__weather')).toEqual({
      ...absent,
      message: absent.message.replace('rp__nothing', 'rp__weather'),
    });
    expect(gw.lines).toContainEqual(
      expect.objectContaining({
        level: 50,
        msg: expect.stringMatching(/^pins store unreachable: tools of pinned/),
      }),
    );
  });
});
