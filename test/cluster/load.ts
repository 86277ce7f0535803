// Steady load for the failure tests: N SDK sessions through the balancer, each calling echo in a loop, every
// call's outcome recorded with its time, so a test can say what failed around a replica's death and whether
// each session went on afterwards.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Cluster } from './harness.js';

export interface Outcome {
  readonly session: number;
  readonly startedAt: number;
  readonly endedAt: number;
  /** undefined: the call succeeded with the expected echo. */
  readonly error?: string;
}

export interface Load {
  readonly outcomes: readonly Outcome[];
  /** Resolves once every session has made `calls` more successful calls than it had when asked. */
  untilEachSucceeds(calls: number, timeoutMs?: number): Promise<void>;
  /** Ends the loops; resolves when the last call in flight has ended. */
  stop(): Promise<void>;
}

export async function startLoad(cluster: Cluster, sessions: number): Promise<Load> {
  const clients: Client[] = [];
  for (let i = 0; i < sessions; i++) clients.push(await cluster.client());
  const outcomes: Outcome[] = [];
  const successes = new Array<number>(sessions).fill(0);
  let running = true;
  const loops = clients.map(async (client, session) => {
    for (let n = 0; running; n++) {
      const startedAt = Date.now();
      const text = `s${session} call ${n}`;
      let error: string | undefined;
      try {
        const result = await client.callTool({ name: 'c__echo', arguments: { text } });
        const got = (result.content as { text?: string }[] | undefined)?.[0]?.text;
        if (result.isError || got !== text) error = `unexpected result ${JSON.stringify(result)}`;
      } catch (e) {
        error = e instanceof Error ? e.message : String(e);
      }
      outcomes.push({ session, startedAt, endedAt: Date.now(), ...(error ? { error } : {}) });
      if (!error) successes[session]++;
      // A failed call is retried after a short pause, as a client would, not in a hot loop.
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
  return {
    outcomes,
    async untilEachSucceeds(calls, timeoutMs = 15_000) {
      const target = successes.map((n) => n + calls);
      const end = Date.now() + timeoutMs;
      while (successes.some((n, i) => n < target[i])) {
        if (Date.now() > end)
          throw new Error(`sessions stalled: successes ${successes.join(',')}, wanted ${target.join(',')}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}
