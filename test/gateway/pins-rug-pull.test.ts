// Issue 13 point 3 (definition pinning) through a real gateway, a real "rug pull" upstream and real SDK clients:
// a tool whose description changes after it was pinned disappears for every client (each hears
// tools/list_changed) and is unknown exactly like a tool that never existed, until `switchboard pins approve`
// (the real CLI, as a child process, on the same pins file) brings it back; a restart keeps the pin.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { connectClient, waitFor } from '../helpers/gateway.js';
import { useHarness } from '../helpers/harness.js';
import {
  callError,
  cli,
  eventually,
  loggedGateway,
  ORIGINAL,
  pinsSetup,
  PULLED,
  rugPull,
  toolNames,
  watchListChanged,
} from './pins-helpers.js';

const h = useHarness();

async function gateway(config: Record<string, unknown>) {
  const gw = await loggedGateway(config);
  h.defer(gw.close);
  return gw;
}

/** The weather tool's state in the pins file. */
const stateOf = (pins: string) =>
  existsSync(pins) && JSON.parse(readFileSync(pins, 'utf8')).upstreams.rp?.tools.weather?.state;

async function client(gw: { url: string }) {
  const connected = await connectClient(gw.url);
  h.defer(() => connected.close());
  return connected;
}

describe('a rug pull is quarantined until approved', () => {
  it('the changed tool disappears for every client, is unknown, and comes back after pins approve', async () => {
    const { file, config, pins } = pinsSetup({ upstreams: { rp: rugPull() } });
    const gw = await gateway(config);
    const [a, b] = [await client(gw), await client(gw)];
    const heard = [watchListChanged(a), watchListChanged(b)];
    expect(await toolNames(a)).toEqual(['rp__add_tool', 'rp__pull', 'rp__weather']);
    await waitFor(() => existsSync(pins));
    // Let the GET streams open: list_changed belongs to no request.
    await new Promise((r) => setTimeout(r, 300));

    await a.callTool({ name: 'rp__pull', arguments: {} });
    await waitFor(() => heard.every((count) => count() > 0));
    await waitFor(() => stateOf(pins) === 'quarantined');
    expect(await toolNames(a)).toEqual(['rp__add_tool', 'rp__pull']);
    expect(await toolNames(b)).toEqual(['rp__add_tool', 'rp__pull']);
    // Exactly the answer for a name that never existed.
    const quarantined = await callError(b, 'rp__weather');
    const absent = await callError(b, 'rp__nothing');
    expect(quarantined).toBeDefined();
    expect(quarantined).toEqual({
      ...absent,
      message: absent!.message.replace('rp__nothing', 'rp__weather'),
    });
    // A warning and a decision event.
    expect(gw.lines).toContainEqual(
      expect.objectContaining({ level: 40, upstream: 'rp', tool: 'rp__weather', reason: 'changed' }),
    );
    expect(gw.lines).toContainEqual(
      expect.objectContaining({
        msg: 'policy decision',
        decision: expect.objectContaining({ effect: 'quarantine', item: 'rp__weather', upstream: 'rp' }),
      }),
    );

    const listed = cli(['pins', 'list', '--config', file]);
    expect(listed.status).toBe(0);
    expect(listed.stdout).toMatch(/rp\s+weather\s+rp__weather\s+quarantined\s+changed\s+[0-9a-f]{12}/);
    expect(listed.stdout).toMatch(/rp\s+pull\s+rp__pull\s+pinned\s+-/);
    const diff = cli(['pins', 'diff', 'rp__weather', '--config', file]);
    expect(diff.status).toBe(0);
    expect(diff.stdout).toContain(`- description: ${JSON.stringify(ORIGINAL)}`);
    expect(diff.stdout).toContain(`+ description: ${JSON.stringify(PULLED)}`);
    expect(diff.stdout).not.toContain('inputSchema');

    const before = heard.map((count) => count());
    const approved = cli(['pins', 'approve', 'rp__weather', '--config', file]);
    expect(approved.stderr).toBe('');
    expect(approved.status).toBe(0);
    expect(approved.stdout).toMatch(/approved rp__weather/);
    // The running gateway picks the approval up within seconds: back for everyone, who hear of it.
    await eventually(async () => (await toolNames(b)).includes('rp__weather'));
    await waitFor(() => heard.every((count, i) => count() > before[i]));
    expect((await a.listTools()).tools.find((t) => t.name === 'rp__weather')?.description).toBe(PULLED);
    expect(JSON.parse(readFileSync(pins, 'utf8')).upstreams.rp.tools.weather.state).toBe('pinned');
    // Approving what is not quarantined is "nothing matched".
    const again = cli(['pins', 'approve', 'rp__weather', '--config', file]);
    expect(again.status).toBe(1);
    expect(again.stderr).toMatch(/rp__weather is pinned, not quarantined/);
  });

  it('a restart keeps the approved pin: the approved definition is published, the old one is now a change', async () => {
    const { file, config, pins } = pinsSetup({ upstreams: { rp: rugPull() } });
    const first = await gateway(config);
    const c1 = await client(first);
    await c1.callTool({ name: 'rp__pull', arguments: {} });
    // Written behind the catalogue: the CLI reads the file.
    await waitFor(() => stateOf(pins) === 'quarantined');
    expect(cli(['pins', 'approve', 'rp__weather', '--config', file]).status).toBe(0);
    await eventually(async () => (await toolNames(c1)).includes('rp__weather'));
    await first.close();

    // The upstream restarted and kept its change: nothing to approve again.
    const kept = await gateway({ ...config, upstreams: { rp: rugPull(['--weather', PULLED]) } });
    const c2 = await client(kept);
    expect((await c2.listTools()).tools.find((t) => t.name === 'rp__weather')?.description).toBe(PULLED);
    await kept.close();

    // It went back to the original: a pin is one definition, so that is a change like any other.
    const reverted = await gateway(config);
    const c3 = await client(reverted);
    expect(await toolNames(c3)).toEqual(['rp__add_tool', 'rp__pull']);
    // The quarantine is written behind the catalogue: the CLI sees it once the file has it.
    await waitFor(() => stateOf(pins) === 'quarantined');
    expect(cli(['pins', 'list', '--config', file]).stdout).toMatch(/rp__weather\s+quarantined\s+changed/);
  });

  it('an upstream that returns to its pinned definition is published again without an approval', async () => {
    const { config } = pinsSetup({ upstreams: { rp: rugPull() } });
    const gw = await gateway(config);
    const c = await client(gw);
    await c.callTool({ name: 'rp__pull', arguments: {} });
    await eventually(async () => !(await toolNames(c)).includes('rp__weather'));
    await c.callTool({ name: 'rp__pull', arguments: { description: ORIGINAL } });
    await eventually(async () => (await toolNames(c)).includes('rp__weather'));
  });
});
