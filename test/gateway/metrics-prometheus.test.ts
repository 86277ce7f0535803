// The metrics against the real thing: Prometheus's own `promtool check metrics` parses and lints the text, and
// a real Prometheus server (Debian package `prometheus`, installed by .ci/run) scrapes the gateway's metrics
// listener on loopback every second until its query API returns the request counter of the tool just called.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { basicStdio } from '../helpers/gateway.js';
import { isAlive, makeTempDir, useHarness } from '../helpers/harness.js';

const h = useHarness();

/** The binary's path; a clear failure (never a skip) when it is missing. */
function binary(name: string): string {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(`${name} is not installed: run .ci/run (it installs the Debian package prometheus)`);
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function getJson(url: string): Promise<any> {
  try {
    return await (await fetch(url)).json();
  } catch {
    return undefined; // not up yet
  }
}

/** Calls `check` every 250 ms until it returns something, for at most 45 s. */
async function poll<T>(check: () => Promise<T | undefined>, why: () => string): Promise<T> {
  const until = Date.now() + 45_000;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > until) throw new Error(why());
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function gatewayWithMetricsListener() {
  const gw = await h.gateway({
    upstreams: { a: basicStdio('a') },
    telemetry: { metrics: { listen: { host: '127.0.0.1', port: 0 } } },
  });
  const client = await h.client(gw);
  return { gw, client, metricsUrl: gw.app.metricsListener!.url };
}

describe('metrics read by Prometheus itself', () => {
  it('passes promtool check metrics: it parses, and no switchboard metric has a lint problem', async () => {
    const promtool = binary('promtool');
    const { client, metricsUrl } = await gatewayWithMetricsListener();
    await client.callTool({ name: 'a__echo', arguments: { text: 'hi' } });
    await expect(client.callTool({ name: 'nope', arguments: {} })).rejects.toThrow();
    const text = await (await fetch(metricsUrl)).text();
    expect(text).toContain('switchboard_requests_total{method="tools/call",upstream="a",tool="a__echo"} 1');
    const checked = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    const output = `${checked.stdout}${checked.stderr}`;
    // Exit 1 is a parse error; 3 is lint only, which prom-client's own nodejs_* gauges named *_total draw.
    expect(checked.status === 0 || checked.status === 3, output).toBe(true);
    expect(output).not.toMatch(/error|switchboard_/);
    // The check can fail: a malformed line is refused.
    const broken = spawnSync(promtool, ['check', 'metrics'], {
      input: text.replace('tool="a__echo"}', 'tool="a__echo}'),
      encoding: 'utf8',
    });
    expect(broken.status).toBe(1);
  });

  it('a real Prometheus scrapes the listener and its query API returns the counter of the tool just called', async () => {
    const prometheus = binary('prometheus');
    const { client, metricsUrl } = await gatewayWithMetricsListener();
    await client.callTool({ name: 'a__echo', arguments: { text: 'scraped' } });
    await client.callTool({ name: 'a__echo', arguments: { text: 'twice' } });

    const dir = makeTempDir('prometheus-');
    const target = new URL(metricsUrl);
    writeFileSync(
      path.join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        'scrape_configs:',
        '  - job_name: switchboard',
        '    scrape_interval: 1s',
        `    metrics_path: ${target.pathname}`,
        `    static_configs: [{ targets: ['${target.host}'] }]`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    const child = spawn(
      prometheus,
      [
        `--config.file=${path.join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log = (log + chunk).slice(-20_000)));
    h.defer(async () => {
      if (child.exitCode !== null || !isAlive(child.pid!)) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    });

    const api = `http://127.0.0.1:${port}/api/v1`;
    const query = 'switchboard_requests_total{method="tools/call",upstream="a",tool="a__echo"}';
    const found = await poll(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}: ${log}`);
        const answer = await getJson(`${api}/query?query=${encodeURIComponent(query)}`);
        return answer?.data?.result?.[0] as { value: [number, string]; metric: Record<string, string> };
      },
      () => `no sample of ${query} in time; prometheus log: ${log}`,
    );
    expect(found.metric).toMatchObject({ job: 'switchboard', tool: 'a__echo', upstream: 'a' });
    expect(found.value[1]).toBe('2');
    // Its scrape of the target succeeded: Prometheus's own parser took the whole text.
    const targets = await getJson(`${api}/targets`);
    expect(targets.data.activeTargets).toMatchObject([{ health: 'up', lastError: '' }]);
  }, 60_000);
});
