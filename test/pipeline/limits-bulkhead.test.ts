// Bulkheads end to end: a slow upstream whose calls are held until cancelled fills a rule's `concurrent` limit
// and the upstream's `maxConcurrent`; the next call to it is refused at once, a call to another upstream is
// answered while the slow ones are still held, and the slots come back when the slow calls are cancelled.
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicStdio, ROOT, startGateway, TSX, type RunningGateway } from '../helpers/gateway.js';
import { testAuthenticate } from './visibility-helpers.js';

const SLOW_SERVER = path.join(ROOT, 'test/fixtures/servers/slow-server.ts');

async function clientAs(url: string, subject: string): Promise<Client> {
  const client = new Client({ name: 'bulkhead-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { 'x-test-subject': subject } },
    }),
  );
  return client;
}

interface Refusal {
  code?: number;
  message?: string;
  data?: { retryAfterMs?: number; rule?: string; limit?: string };
}

/** A held call to slow__wait: `outcome` says whether it reached the upstream or was refused. */
function hold(client: Client) {
  const controller = new AbortController();
  let reached!: () => void;
  const started = new Promise<'started'>((resolve) => (reached = () => resolve('started')));
  let settled = false;
  const done = client
    .callTool({ name: 'slow__wait', arguments: {} }, undefined, {
      signal: controller.signal,
      onprogress: () => reached(),
    })
    .then(
      () => 'answered' as const,
      (error: Refusal) => error,
    )
    .finally(() => (settled = true));
  return {
    outcome: Promise.race([started, done]),
    done,
    settled: () => settled,
    cancel: () => controller.abort(),
  };
}

type Held = ReturnType<typeof hold>;

/** Holds a call that must reach the upstream. */
async function held(client: Client): Promise<Held> {
  const call = hold(client);
  expect(await call.outcome).toBe('started');
  return call;
}

/** Cancels held calls; their slots come back once the gateway has seen the cancellations. */
async function cancel(calls: Held[]): Promise<void> {
  for (const call of calls) call.cancel();
  await Promise.all(calls.map((call) => call.done));
}

describe('bulkheads: concurrent per rule, maxConcurrent per upstream', () => {
  let gw: RunningGateway;
  let alice: Client;
  let bob: Client;
  beforeAll(async () => {
    gw = await startGateway(
      {
        upstreams: {
          slow: { command: process.execPath, args: ['--import', TSX, SLOW_SERVER], maxConcurrent: 3 },
          fast: basicStdio('fast'),
        },
        policy: {
          default: 'allow',
          rules: [{ name: 'slow-per-principal', allow: { tools: ['slow__*'] }, limits: { concurrent: 2 } }],
        },
      },
      { authenticate: testAuthenticate },
    );
    alice = await clientAs(gw.url, 'alice');
    bob = await clientAs(gw.url, 'bob');
  });
  afterAll(async () => {
    await Promise.all([alice?.close(), bob?.close()]);
    await gw?.close();
  });

  it('a full bulkhead refuses the next call at once, while another upstream answers and the slow calls stay held', async () => {
    const aliceCalls = [await held(alice), await held(alice)];
    const third = (await hold(alice).outcome) as Refusal;
    expect(third.code).toBe(-32000);
    expect(third.message).toBe(
      'MCP error -32000: Concurrency limit: rule "slow-per-principal" allows 2 calls in flight per principal and upstream; retry when one of them ends',
    );
    expect(third.data).toEqual({ retryAfterMs: 1000, rule: 'slow-per-principal', limit: 'concurrent' });

    // Bob has a slot of his own under the rule, which fills the upstream's three.
    const bobCalls = [await held(bob)];
    const fourth = (await hold(bob).outcome) as Refusal;
    expect(fourth.message).toBe(
      'MCP error -32000: Concurrency limit: upstream "slow" allows 3 calls in flight; retry when one of them ends',
    );
    expect(fourth.data).toEqual({ retryAfterMs: 1000, limit: 'upstream' });

    // The other upstream is not behind this bulkhead: answered while all three slow calls are still held.
    const echo = await alice.callTool({ name: 'fast__echo', arguments: { text: 'through' } });
    expect(echo.content).toEqual([{ type: 'text', text: 'through' }]);
    expect([...aliceCalls, ...bobCalls].map((call) => call.settled())).toEqual([false, false, false]);

    // Cancelled, the slow calls give their slots back: the full set can be taken again.
    await cancel([...aliceCalls, ...bobCalls]);
    const again = await untilHeld(alice);
    const more = [again, await held(alice), await held(bob)];
    expect(((await hold(bob).outcome) as Refusal).data?.limit).toBe('upstream');
    await cancel(more);
  });
});

/** Polls until a call reaches the upstream (slots come back as the gateway sees the cancellations). */
async function untilHeld(client: Client): Promise<Held> {
  const until = Date.now() + 10_000;
  for (;;) {
    const call = hold(client);
    if ((await call.outcome) === 'started') return call;
    if (Date.now() > until) throw new Error('no slot came back');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
