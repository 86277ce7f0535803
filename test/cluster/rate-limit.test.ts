// A policy rate limit (`limits: { calls, per }`) behind a round-robin balancer: the replicas count in Redis
// together, so the limit holds in total, not per replica.
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { parsePrometheusText } from '../helpers/prom-text.js';
import { useCluster } from './harness.js';

const startCluster = useCluster();
const LIMIT = 30;
const CALLS = 45;

describe('rate limits across replicas (3 replicas, redis:)', () => {
  it('allows exactly `calls` per window in total, however the calls spread over the replicas', async () => {
    const cluster = await startCluster({
      config: {
        policy: {
          default: 'allow',
          rules: [{ name: 'quota', allow: { tools: ['*'] }, limits: { calls: LIMIT, per: '60s' } }],
        },
      },
    });
    const client = await cluster.client();
    // Nine at a time: concurrent calls reach different replicas at the same moment, so the shared count must be
    // taken atomically, not read and written back.
    const outcomes: ('ok' | string)[] = [];
    for (let i = 0; i < CALLS; i += 9) {
      const wave = Array.from({ length: Math.min(9, CALLS - i) }, (_, j) =>
        client.callTool({ name: 'c__echo', arguments: { text: `call ${i + j}` } }).then(
          (result) => (result.isError ? `isError ${JSON.stringify(result.content)}` : 'ok'),
          (error: unknown) => (error instanceof McpError ? `${error.code} ${error.message}` : String(error)),
        ),
      );
      outcomes.push(...(await Promise.all(wave)));
    }

    const refused = outcomes.filter((o) => o !== 'ok');
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(LIMIT);
    expect(refused).toHaveLength(CALLS - LIMIT);
    for (const error of refused)
      expect(error).toMatch(
        /^-32000 .*Rate limit: rule "quota" allows 30 calls per 1m per principal; retry in \d+ s/,
      );

    // The calls were spread: every replica handled some, and the refusals add up over the replicas.
    let refusals = 0;
    for (const replica of cluster.replicas) {
      const families = parsePrometheusText(await (await fetch(`${replica.base}/metrics`)).text());
      for (const sample of families.get('switchboard_rate_limit_refusals_total')?.samples ?? [])
        refusals += sample.value;
      expect(await cluster.callsServed(replica)).toBeGreaterThanOrEqual(5);
    }
    expect(refusals).toBe(CALLS - LIMIT);
  }, 60_000);
});
