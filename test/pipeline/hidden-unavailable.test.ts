// A name whose upstream is down and restarting: whoever may see it is told the upstream is unavailable; to
// anyone else it is exactly as unknown as a name that never existed (the restart must not reveal it).
import { existsSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hidePolicy } from '../fixtures/policies/hide.js';
import { basicStdio, waitFor } from '../helpers/gateway.js';
import { makeTempDir } from '../helpers/harness.js';
import { normalised, payload, RawSession, startPolicyGateway } from './visibility-helpers.js';

const open: (() => unknown)[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!();
});

describe('a hidden name of an upstream that is down and restarting', () => {
  it('is upstream_unavailable to a principal who may see it, and unknown to one who may not', async () => {
    // The upstream restarts only once the hold file is gone, so it stays down as long as the test needs.
    const hold = path.join(makeTempDir('switchboard-vis-down-'), 'hold');
    const basic = basicStdio('flaky');
    const hide = hidePolicy({
      eve: [
        { kind: 'tool', name: 'flaky__echo' },
        { kind: 'prompt', name: 'flaky__greet' },
      ],
    });
    const flakyEntry = {
      command: '/bin/sh',
      args: [
        '-c',
        `while [ -e "${hold}" ]; do sleep 0.05; done; exec "$0" "$@"`,
        basic.command,
        ...basic.args,
      ],
    };
    const gw = await startPolicyGateway({ upstreams: { flaky: flakyEntry } }, [hide.policy]);
    open.push(() => gw.close());
    open.push(() => existsSync(hold) && unlinkSync(hold));
    const alice = await RawSession.open(gw.url, 'alice');
    const eve = await RawSession.open(gw.url, 'eve');
    // What eve gets for the hidden names while the upstream is up: the baseline the outage must not change.
    const cases = [
      { method: 'tools/call', hidden: 'flaky__echo', absent: 'flaky__nothere' },
      { method: 'prompts/get', hidden: 'flaky__greet', absent: 'flaky__nothere' },
    ];
    const ask = (s: RawSession, method: string, name: string) =>
      s.request(method, { name, arguments: { text: 'x', who: 'x' } });
    const before = await Promise.all(cases.map((c) => ask(eve, c.method, c.hidden)));

    writeFileSync(hold, '');
    await alice.request('tools/call', { name: 'flaky__crash', arguments: {} });
    const flaky = gw.app.runtime.upstream('flaky')!;
    await waitFor(() => flaky.state === 'down');

    for (const [i, { method, hidden, absent }] of cases.entries()) {
      const toAlice = payload(await ask(alice, method, hidden)).error;
      expect(toAlice, method).toMatchObject({ code: -32603, data: { upstream: 'flaky', state: 'down' } });
      const toEve = await ask(eve, method, hidden);
      expect(normalised(toEve, hidden), method).toEqual(normalised(await ask(eve, method, absent), absent));
      expect(toEve, method).toEqual(before[i]);
    }
  });
});
