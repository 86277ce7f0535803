// Sampling and elicitation from shared upstreams behind a round-robin balancer: the question reaches the client
// whose call caused it (on that POST's SSE stream), and the client's answer, a POST that the balancer sends to
// the next replica in turn, is relayed to the replica that waits for it. Each client calls an upstream of its
// own: on a shared connection a question is attributed only while one session waits on it (callbacks.ts), so
// two clients calling one shared upstream at once on the same replica is refused by design.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { useCluster } from './harness.js';

const startCluster = useCluster();
const ROUNDS = 15;

/** A client that answers every question with its own name and the question, and records what it was asked. */
async function answeringClient(cluster: Awaited<ReturnType<typeof startCluster>>, name: string) {
  const client = await cluster.client({ sampling: {}, elicitation: {} });
  const asked: string[] = [];
  client.setRequestHandler(CreateMessageRequestSchema, (request) => {
    const question = (request.params.messages[0].content as { text: string }).text;
    asked.push(question);
    return {
      model: 'test',
      role: 'assistant',
      content: { type: 'text', text: `${name} answers ${question}` },
    };
  });
  client.setRequestHandler(ElicitRequestSchema, (request) => {
    asked.push(request.params.message);
    return { action: 'accept', content: { answer: `${name} confirms ${request.params.message}` } };
  });
  return { client, asked };
}

const text = (result: Awaited<ReturnType<Client['callTool']>>) =>
  (result.content as { type: string; text: string }[])[0].text;

describe('server-to-client requests across replicas (3 replicas, redis:)', () => {
  it('sampling and elicitation reach the client that caused them, and each gets its own answer back', async () => {
    const cluster = await startCluster({ upstreams: ['alice', 'bob'] });
    const alice = await answeringClient(cluster, 'alice');
    const bob = await answeringClient(cluster, 'bob');

    // Both clients at once, each round a sampling and an elicitation per client: 60 answers, most of them
    // posted to a replica other than the one running the call.
    const expected: Record<string, string[]> = { alice: [], bob: [] };
    for (let round = 0; round < ROUNDS; round++) {
      await Promise.all(
        (['alice', 'bob'] as const).map(async (name) => {
          const { client } = name === 'alice' ? alice : bob;
          const q1 = `${name}-sample-${round}`;
          const q2 = `${name}-confirm-${round}`;
          expected[name].push(q1, q2);
          const [sampled, confirmed] = await Promise.all([
            client.callTool({ name: `${name}__ask`, arguments: { question: q1 } }),
            client.callTool({ name: `${name}__confirm`, arguments: { question: q2 } }),
          ]);
          expect(sampled.isError).toBeFalsy();
          expect(text(sampled)).toBe(`sampled: ${name} answers ${q1}`);
          expect(confirmed.isError).toBeFalsy();
          expect(text(confirmed)).toBe(`elicited: accept ${name} confirms ${q2}`);
        }),
      );
    }
    // Each client was asked exactly its own questions, each once: nothing reached the other client.
    expect(alice.asked.sort()).toEqual(expected.alice.sort());
    expect(bob.asked.sort()).toEqual(expected.bob.sort());
    // The calls really were spread: every replica ran some of them, and the answers (POSTs answered 202) went
    // to every replica too, so most reached one that did not run the call they answer.
    for (const replica of cluster.replicas) expect(await cluster.callsServed(replica)).toBeGreaterThan(5);
    const answers = cluster.routed().filter((r) => r.request === 'POST /mcp' && r.status === 202);
    expect(answers.length).toBeGreaterThanOrEqual(ROUNDS * 4);
    for (const replica of cluster.replicas)
      expect(answers.filter((r) => r.replica === replica.index).length).toBeGreaterThan(ROUNDS / 2);
  }, 60_000);
});
