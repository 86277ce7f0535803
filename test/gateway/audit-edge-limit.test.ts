// A refusal of the HTTP edge limit (`http.rateLimit`, 429) is audited like an auth refusal: principal, address,
// path, the limit and the Retry-After answered, in the chain `switchboard audit verify` checks.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { INIT, rawPost, ROOT, startGateway, TSX } from '../helpers/gateway.js';
import { makeTempDir } from '../helpers/harness.js';

const KEY = 'ci-bot-key-0123456789abcdef';

describe('audit log: the HTTP edge limit', () => {
  it('leaves one rate-limit record per 429, none for the requests it lets by, and the chain still verifies', async () => {
    const file = path.join(makeTempDir('audit-edge-'), 'audit.jsonl');
    const gw = await startGateway({
      upstreams: {},
      http: { rateLimit: { max: 2, per: '1m' } },
      auth: { resource: 'http://127.0.0.1/mcp', apiKeys: [{ subject: 'ci-bot', groups: ['ci'], key: KEY }] },
      audit: { file },
    });
    const statuses: number[] = [];
    let retryAfter = '';
    try {
      for (let i = 0; i < 4; i++) {
        const answer = await rawPost(gw.url, INIT, { authorization: `Bearer ${KEY}` });
        statuses.push(answer.status);
        if (answer.status === 429) retryAfter = answer.headers.get('retry-after')!;
      }
    } finally {
      await gw.close();
    }
    expect(statuses).toEqual([200, 200, 429, 429]);

    const records = readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    // initialize is not an audited method: the two refusals are the only records.
    expect(records).toHaveLength(2);
    for (const record of records)
      expect(record).toMatchObject({
        event: 'rate-limit',
        decision: 'deny',
        status: 429,
        limit: 'http.rateLimit',
        max: 2,
        per: '1m',
        retryAfter: Number(retryAfter),
        principal: { subject: 'ci-bot', groups: ['ci'], via: 'apiKey' },
        http: { method: 'POST', path: '/mcp' },
        remote: '127.0.0.1',
      });
    expect(JSON.stringify(records)).not.toContain(KEY);

    const verify = spawnSync(
      process.execPath,
      ['--import', TSX, path.join(ROOT, 'src/cli.ts'), 'audit', 'verify', file],
      { encoding: 'utf8' },
    );
    expect([verify.status, verify.stdout]).toEqual([0, expect.stringMatching(/OK: 2 records/)]);
  });
});
