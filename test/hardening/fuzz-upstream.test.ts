// Property-based fuzzing from the upstream side: a fuzzing upstream (the wire fixture's `emit`) writes arbitrary
// notifications, requests, responses and garbage lines while a client's call is in flight. The gateway never
// exits, the call gets exactly one answer (a result or a JSON-RPC error), and the upstream and the others keep
// working.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { basicStdio, connectClient, startGateway, type RunningGateway } from '../helpers/gateway.js';
import { FUZZ_SEED, fuzzRuns, message, within } from './fuzz-arbitraries.js';
import { wireStdio } from './wire-helpers.js';

/** A line an upstream might write: mostly a JSON-RPC-ish message, sometimes not JSON at all. */
const line = fc.oneof(
  { weight: 8, arbitrary: message.map((m) => JSON.stringify(m)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }).map((s) => s.replace(/\n/g, ' ')) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '{"jsonrpc":"2.0","method":"constructor"}',
      '{"jsonrpc":"2.0","id":1e400,"result":{}}',
    ),
  },
);

describe('fuzzing from the upstream side', () => {
  let gw: RunningGateway;
  let client: Client;
  beforeAll(async () => {
    gw = await startGateway({ upstreams: { fuzz: { ...wireStdio(), timeout: '5s' }, ok: basicStdio('ok') } });
    client = await connectClient(gw.url);
  });
  afterAll(async () => {
    await client?.close();
    await gw?.close();
  });

  it('survives whatever an upstream writes, answers the call once, and keeps serving', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(line, { minLength: 1, maxLength: 6 }), async (lines) => {
        // A response line may be taken as the call's answer: any one answer is fine, none or a hang is not.
        const outcome = await within(
          client.callTool({ name: 'fuzz__emit', arguments: { lines } }).then(
            () => 'answered',
            (error) => (error instanceof McpError ? 'answered' : `failed: ${String(error)}`),
          ),
          10_000,
          'hung',
        );
        if (outcome !== 'answered') return false;
        const fuzz = gw.app.runtime.upstream('fuzz')!;
        const ok = await client.callTool({ name: 'ok__whoami', arguments: {} });
        return fuzz.state === 'ready' && JSON.stringify(ok.content) === '[{"type":"text","text":"ok"}]';
      }),
      { seed: FUZZ_SEED, numRuns: fuzzRuns(150) },
    );
    const after = await client.callTool({ name: 'fuzz__emit', arguments: {} });
    expect(after.content).toEqual([{ type: 'text', text: 'emitted' }]);
  }, 600_000);
});
