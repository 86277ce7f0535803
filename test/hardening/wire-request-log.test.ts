// The request log line: at debug, one line per call with method, name, upstream, duration and outcome, and
// never the arguments; above debug, no line at all.
import { describe, expect, it } from 'vitest';
import { basicStdio, connectClient } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';
import { gatewayWithLog } from './wire-helpers.js';

const h = useHarness();

async function setup(level: string) {
  const gw = await gatewayWithLog({ upstreams: { b: basicStdio('b') } }, level);
  h.defer(gw.close);
  const client = await connectClient(gw.url);
  h.defer(() => client.close());
  return { gw, client };
}

describe('request log', () => {
  it('logs each call at debug with method, name, upstream, duration and outcome, never the arguments', async () => {
    const { gw, client } = await setup('debug');
    await client.callTool({ name: 'b__echo', arguments: { text: 'hunter2-secret' } });
    await client.callTool({ name: 'b__fail', arguments: {} });
    await expect(
      client.callTool({ name: 'b__nope', arguments: { token: 'hunter2-secret' } }),
    ).rejects.toThrow();
    await expect(client.callTool({ name: 'b__protocol_error', arguments: {} })).rejects.toThrow();
    await client.listTools();
    const requests = gw.lines.filter((l) => l.msg === 'request');
    const calls = requests.filter((l) => l.method === 'tools/call');
    expect(calls).toEqual([
      expect.objectContaining({ level: 20, name: 'b__echo', upstream: 'b', outcome: 'ok' }),
      expect.objectContaining({ name: 'b__fail', upstream: 'b', outcome: 'isError' }),
      expect.objectContaining({ name: 'b__nope', outcome: -32602 }),
      expect.objectContaining({ name: 'b__protocol_error', upstream: 'b', outcome: expect.any(Number) }),
    ]);
    expect(calls[2].upstream).toBeUndefined();
    for (const call of calls) expect(call.durationMs).toBeGreaterThanOrEqual(0);
    expect(requests.some((l) => l.method === 'tools/list' && l.outcome === 'ok')).toBe(true);
    expect(JSON.stringify(gw.lines)).not.toContain('hunter2');
  });

  it('writes no request line when the level is above debug', async () => {
    const { gw, client } = await setup('info');
    await client.callTool({ name: 'b__echo', arguments: { text: 'x' } });
    expect(gw.lines.filter((l) => l.msg === 'request')).toEqual([]);
  });
});
