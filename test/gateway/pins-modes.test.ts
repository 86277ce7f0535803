// Issue 13 points 3 and 4 through a real gateway: what newcomers get (newTools: trust | quarantine), pinning: off,
// a poisoned definition under poisoning: warn and quarantine (approved once, never flagged again), a pins file
// that cannot be trusted (the gateway does not start), and the CLI's refusals.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { connectClient, ROOT, startGateway, TSX, waitFor } from '../helpers/gateway.js';
import { makeTempDir, useHarness } from '../helpers/harness.js';
import {
  callError,
  cli,
  eventually,
  loggedGateway,
  pinsSetup,
  PULLED,
  rugPull,
  toolNames,
} from './pins-helpers.js';

const h = useHarness();
const CLI = path.join(ROOT, 'src/cli.ts');

async function gateway(config: Record<string, unknown>) {
  const gw = await loggedGateway(config);
  h.defer(gw.close);
  const client = await connectClient(gw.url);
  h.defer(() => client.close());
  return { ...gw, client };
}

const recordOf = (pins: string, tool: string) =>
  existsSync(pins) ? JSON.parse(readFileSync(pins, 'utf8')).upstreams.rp?.tools[tool] : undefined;

async function addTool(client: Client, name: string, description?: string) {
  await client.callTool({ name: 'rp__add_tool', arguments: { name, ...(description && { description }) } });
}

describe('tools that appear after the first start', () => {
  it('newTools: trust (the default) pins a newcomer on sight and publishes it', async () => {
    const { config, pins } = pinsSetup({ upstreams: { rp: rugPull() } });
    const { client } = await gateway(config);
    await addTool(client, 'later');
    await eventually(async () => (await toolNames(client)).includes('rp__later'));
    await waitFor(() => recordOf(pins, 'later')?.state === 'pinned');
  });

  it('newTools: quarantine holds a newcomer until approved (--upstream U --all)', async () => {
    const { config, pins, file } = pinsSetup({
      upstreams: { rp: { ...rugPull(), pinning: { newTools: 'quarantine' } } },
    });
    const { client } = await gateway(config);
    // The first start pins everything it lists.
    expect(await toolNames(client)).toEqual(['rp__add_tool', 'rp__pull', 'rp__weather']);
    await addTool(client, 'later');
    await addTool(client, 'later2');
    await waitFor(() => recordOf(pins, 'later2')?.reason === 'new');
    expect(await toolNames(client)).toEqual(['rp__add_tool', 'rp__pull', 'rp__weather']);
    expect(await callError(client, 'rp__later')).toMatchObject({ code: -32602 });
    const diff = cli(['pins', 'diff', '--config', file]);
    expect(diff.stdout).toMatch(
      /rp__later \(rp: later\) quarantined: new\n\s+\+ name: "later"\n\s+\+ description: "added later"/,
    );
    const approved = cli(['pins', 'approve', '--upstream', 'rp', '--all', '--config', file]);
    expect(approved.status).toBe(0);
    expect(approved.stdout).toMatch(/approved rp__later .*\napproved rp__later2 /);
    await eventually(async () => (await toolNames(client)).includes('rp__later2'));
    expect(await toolNames(client)).toContain('rp__later');
    const none = cli(['pins', 'approve', '--upstream', 'rp', '--all', '--config', file]);
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/no quarantined tool of upstream rp/);
  });
});

describe('the default store', () => {
  it('switchboard serve on a config file pins by default, in switchboard.pins.json beside it', async () => {
    const dir = makeTempDir('switchboard-pins-serve-');
    const file = path.join(dir, 'gateway.json');
    writeFileSync(file, JSON.stringify({ upstreams: { rp: rugPull() } }));
    const child = spawn(process.execPath, ['--import', TSX, CLI, 'serve', '--port', '0', '--config', file], {
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    h.defer(async () => {
      child.kill('SIGTERM');
      await exited;
    });
    const pins = path.join(dir, 'switchboard.pins.json');
    await waitFor(() => existsSync(pins), 20_000);
    await waitFor(
      () => JSON.parse(readFileSync(pins, 'utf8')).upstreams.rp?.tools.weather?.state === 'pinned',
    );
    expect(cli(['pins', 'list', '--config', file]).stdout).toMatch(/rp\s+weather\s+rp__weather\s+pinned/);
  });
});

describe('pins follow the upstream, not the public name', () => {
  it('a renamed tool is pinned by its own name, and listed, diffed and approved by its public name', async () => {
    const upstreams = { rp: { ...rugPull(), prefix: 'wx', tools: { rename: { weather: 'forecast' } } } };
    const { config, pins, file } = pinsSetup({ upstreams });
    const { client } = await gateway(config);
    await client.callTool({ name: 'wx__pull', arguments: {} });
    await waitFor(() => recordOf(pins, 'weather')?.state === 'quarantined');
    expect(await toolNames(client)).toEqual(['wx__add_tool', 'wx__pull']);
    expect(cli(['pins', 'list', '--config', file]).stdout).toMatch(
      /rp\s+weather\s+wx__forecast\s+quarantined/,
    );
    expect(cli(['pins', 'diff', 'wx__forecast', '--config', file]).stdout).toMatch(
      /\+ description: .*hourly/,
    );
    expect(cli(['pins', 'approve', 'wx__forecast', '--config', file]).status).toBe(0);
    await eventually(async () => (await toolNames(client)).includes('wx__forecast'));
  });
});

describe('pinning: off', () => {
  it('records and checks nothing: a changed tool stays published and no pins file is written', async () => {
    const { config, pins } = pinsSetup({ upstreams: { rp: { ...rugPull(), pinning: 'off' } } });
    const { client } = await gateway(config);
    await client.callTool({ name: 'rp__pull', arguments: {} });
    await eventually(
      async () =>
        (await client.listTools()).tools.find((t) => t.name === 'rp__weather')?.description === PULLED,
    );
    expect(existsSync(pins)).toBe(false);
  });

  it('a config built in code (no file, no pins.file, no redis) pins nothing unless an upstream asks', async () => {
    const gw = await startGateway({ upstreams: { rp: rugPull() } });
    h.defer(gw.close);
    const client = await connectClient(gw.url);
    h.defer(() => client.close());
    await client.callTool({ name: 'rp__pull', arguments: {} });
    await eventually(
      async () =>
        (await client.listTools()).tools.find((t) => t.name === 'rp__weather')?.description === PULLED,
    );
  });

  it('poisoning: quarantine needs pinning: the config is refused with the upstream named', async () => {
    const { config } = pinsSetup({
      upstreams: { rp: { ...rugPull(), pinning: 'off', poisoning: 'quarantine' } },
    });
    const failure = await startGateway(config).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(GatewayError);
    expect((failure as GatewayError).kind).toBe('config');
    expect((failure as GatewayError).message).toMatch(/upstreams\.rp: poisoning: quarantine needs pinning/);
  });
});

describe('a poisoned definition', () => {
  it('poisoning: warn publishes it and logs one warning naming the findings', async () => {
    const { config } = pinsSetup({ upstreams: { rp: rugPull(['--poisoned']), other: rugPull() } });
    const { client, lines } = await gateway(config);
    expect(await toolNames(client)).toContain('rp__notes');
    await client.callTool({ name: 'other__add_tool', arguments: { name: 'x' } }); // a rebuild: no second line
    await eventually(async () => (await toolNames(client)).includes('other__x'));
    const warnings = lines.filter((l) => l.level === 40 && l.tool === 'rp__notes');
    expect(warnings).toHaveLength(1);
    expect(warnings[0].findings.map((f: { kind: string }) => f.kind)).toEqual(
      expect.arrayContaining(['model-markup', 'secrecy', 'sensitive-file']),
    );
    // The other tools are not flagged.
    expect(lines.filter((l) => l.level === 40 && l.findings)).toHaveLength(1);
  });

  it('poisoning: quarantine holds it; an approval publishes it and that definition is not flagged again', async () => {
    const upstreams = { rp: { ...rugPull(['--poisoned']), poisoning: 'quarantine' } };
    const { config, pins, file } = pinsSetup({ upstreams });
    const first = await gateway(config);
    expect(await toolNames(first.client)).toEqual(['rp__add_tool', 'rp__pull', 'rp__weather']);
    const absent = (await callError(first.client, 'rp__nothing'))!;
    expect(await callError(first.client, 'rp__notes')).toEqual({
      ...absent,
      message: absent.message.replace('rp__nothing', 'rp__notes'),
    });
    await waitFor(() => recordOf(pins, 'notes')?.reason === 'poisoning');
    const diff = cli(['pins', 'diff', 'rp__notes', '--config', file]);
    expect(diff.stdout).toMatch(/! model-markup in description: .*<IMPORTANT>/);
    expect(cli(['pins', 'approve', 'rp__notes', '--config', file]).status).toBe(0);
    await eventually(async () => (await toolNames(first.client)).includes('rp__notes'));
    await first.close();
    const second = await gateway(config);
    expect(await toolNames(second.client)).toContain('rp__notes');
    expect(second.lines.filter((l) => l.findings)).toEqual([]);
  });

  it('switchboard check shows a quarantined tool and a poisoning finding, and writes no pins', async () => {
    const { file, pins } = pinsSetup({
      upstreams: {
        rp: { ...rugPull(['--poisoned']), poisoning: 'quarantine' },
        warned: rugPull(['--poisoned']),
      },
    });
    const checked = cli(['check', '--config', file]);
    expect(checked.status).toBe(0);
    expect(checked.stderr).toMatch(
      /warning: tool rp__notes \(rp\) is quarantined \(poisoning\): model-markup/,
    );
    expect(checked.stderr).toMatch(/warning: tool warned__notes \(warned\) looks poisoned .*secrecy/);
    expect(existsSync(pins)).toBe(false);
  });
});

describe('a pins file that cannot be trusted stops start-up', () => {
  // The path as given: a temp folder's random name may itself hold any letters, so nothing is substituted in it.
  const refusal = async (pins: string) => {
    const failure = await startGateway({ pins: { file: pins }, upstreams: { rp: rugPull() } }).catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(GatewayError);
    expect((failure as GatewayError).kind).toBe('config');
    return { message: (failure as GatewayError).message };
  };

  it('corrupted: not JSON, or not a pins file', async () => {
    const dir = makeTempDir('switchboard-pins-bad-');
    writeFileSync(path.join(dir, 'pins.json'), '{"switchboardPins": 1, "upstreams": {');
    const { message } = await refusal(path.join(dir, 'pins.json'));
    expect(message).toMatch(/pins file .*pins\.json: it is not a valid pins file: .*JSON/);
    expect(message).toMatch(/does not start/);
    writeFileSync(
      path.join(dir, 'other.json'),
      '{"switchboardPins": 1, "upstreams": {"rp": {"firstSeen": "x", "tools": {"a": {}}}}}',
    );
    expect((await refusal(path.join(dir, 'other.json'))).message).toMatch(
      /upstreams\.rp\.tools\.a: not a pin record/,
    );
  });

  it('unreadable or unwritable: a folder in its place, or a file where its folder should be', async () => {
    const dir = makeTempDir('switchboard-pins-bad-');
    mkdirSync(path.join(dir, 'pins.json'));
    expect((await refusal(path.join(dir, 'pins.json'))).message).toMatch(/cannot read it \(EISDIR/);
    writeFileSync(path.join(dir, 'plain'), '');
    expect((await refusal(path.join(dir, 'plain', 'pins.json'))).message).toMatch(/cannot read it \(ENOTDIR/);
    expect((await refusal(path.join(dir, 'missing', 'pins.json'))).message).toMatch(
      /folder is not writable \(ENOENT/,
    );
  });
});

describe('switchboard pins refuses clearly', () => {
  it('usage errors exit 2, names that match nothing exit 1', () => {
    const { file } = pinsSetup({ upstreams: { rp: rugPull() } });
    const bad = cli(['pins', 'remove', '--config', file]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/the subcommands are list, diff and approve/);
    expect(cli(['pins', 'approve', '--config', file]).stderr).toMatch(
      /approve takes a public tool name, or --upstream U --all/,
    );
    expect(cli(['pins', 'list', '--all', '--config', file]).status).toBe(2);
    expect(cli(['check', '--upstream', 'rp', '--config', file]).stderr).toMatch(
      /--upstream applies to pins approve only/,
    );
    const empty = cli(['pins', 'list', '--config', file]);
    expect(empty.status).toBe(0);
    expect(empty.stdout).toMatch(/no pins in .*pins\.json/);
    const unknown = cli(['pins', 'approve', 'rp__nothing', '--config', file]);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/no pinned tool is published as rp__nothing/);
  });
});
