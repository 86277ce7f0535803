// The merged catalogue: tools, prompts, resources and templates of every live upstream, named and routed.
import { afterEach, describe, expect, it } from 'vitest';
import { basicStdio, connectClient, startGateway, startHttpFixture, type RunningGateway } from '../helpers/gateway.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function gateway(raw: Record<string, unknown>): Promise<RunningGateway> {
  const gw = await startGateway(raw);
  cleanups.push(gw.close);
  return gw;
}

describe('merged catalogue', () => {
  it('lists the tools of a stdio and an HTTP upstream under <upstream>__<name> and calls each', async () => {
    const http = await startHttpFixture('beta');
    cleanups.push(http.stop);
    const gw = await gateway({ upstreams: { alpha: basicStdio('alpha'), beta: { url: http.url } } });
    const client = await connectClient(gw.url);
    cleanups.push(() => client.close());
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toContain('alpha__echo');
    expect(names).toContain('beta__echo');
    expect(tools.find((t) => t.name === 'beta__echo')?.description).toBe('Echoes text (beta)');
    const a = await client.callTool({ name: 'alpha__whoami', arguments: {} });
    const b = await client.callTool({ name: 'beta__whoami', arguments: {} });
    expect(a.content).toEqual([{ type: 'text', text: 'alpha' }]);
    expect(b.content).toEqual([{ type: 'text', text: 'beta' }]);
  });
});
