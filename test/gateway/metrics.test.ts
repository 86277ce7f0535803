// Prometheus metrics (`telemetry.metrics`): calls counted, timed and classified by method, upstream and tool with
// bounded labels, decisions and restarts counted, the text strictly well-formed; /metrics behind auth (and
// groups) on the main listener, alone on a listener of its own, and nothing at all when off.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { parseConfig } from '../../src/gateway/config.js';
import { buildGateway } from '../../src/gateway/server.js';
import { GatewayMetrics } from '../../src/gateway/telemetry/metrics.js';
import { basicStdio, INIT, ROOT, rawPost, waitFor, type RunningGateway } from '../helpers/gateway.js';
import { makeTempDir, useHarness } from '../helpers/harness.js';
import { parsePrometheusText, sampleValue } from '../helpers/prom-text.js';

const h = useHarness();
const KEYS = { ops: 'ops-key-0123456789abcdef', dev: 'dev-key-0123456789abcdef' };
const AUTH = {
  resource: 'http://127.0.0.1/mcp',
  apiKeys: [
    { subject: 'ops-bot', groups: ['ops'], key: KEYS.ops },
    { subject: 'dev', groups: ['dev'], key: KEYS.dev },
  ],
};
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

function metricsUrl(gw: RunningGateway): string {
  return gw.url.replace(/\/mcp$/, '/metrics');
}

async function scrape(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, { headers });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheusText(await response.text());
}

const call = (tool: string) => ({ method: 'tools/call', upstream: 'a', tool });

describe('metrics on the main listener', () => {
  it('counts, times and classifies calls by method, upstream and tool; unknown names share one label', async () => {
    const gw = await h.gateway({ upstreams: { a: basicStdio('a') }, telemetry: { metrics: true } });
    const client = await h.client(gw);
    await client.callTool({ name: 'a__echo', arguments: { text: 'hi' } });
    await client.callTool({ name: 'a__echo', arguments: { text: 'again' } });
    expect((await client.callTool({ name: 'a__fail', arguments: {} })).isError).toBe(true);
    for (const made_up of ['no_such_tool', 'a__nope', 'zz__' + 'x'.repeat(40)])
      await expect(client.callTool({ name: made_up, arguments: {} })).rejects.toMatchObject({ code: -32602 });
    await client.listTools();

    const families = await scrape(metricsUrl(gw));
    expect(sampleValue(families, 'switchboard_requests_total', call('a__echo'))).toBe(2);
    expect(sampleValue(families, 'switchboard_request_duration_seconds_count', call('a__echo'))).toBe(2);
    expect(
      sampleValue(families, 'switchboard_request_duration_seconds_sum', call('a__echo')),
    ).toBeGreaterThan(0);
    expect(
      sampleValue(families, 'switchboard_request_errors_total', { ...call('a__fail'), error: 'isError' }),
    ).toBe(1);
    // Names the catalogue does not know never become label values: all three land under one fixed label.
    const unknown = { method: 'tools/call', upstream: '', tool: '(unknown)' };
    expect(sampleValue(families, 'switchboard_requests_total', unknown)).toBe(3);
    expect(
      sampleValue(families, 'switchboard_request_errors_total', { ...unknown, error: 'not_found' }),
    ).toBe(3);
    const tools = families.get('switchboard_requests_total')!.samples.map((s) => s.labels.tool);
    expect(tools.filter((tool) => tool.includes('nope') || tool.includes('xxx'))).toEqual([]);
    expect(
      sampleValue(families, 'switchboard_requests_total', { method: 'tools/list', upstream: '', tool: '' }),
    ).toBe(1);
    expect(sampleValue(families, 'switchboard_upstream_state', { upstream: 'a', state: 'ready' })).toBe(1);
    expect(sampleValue(families, 'switchboard_upstream_state', { upstream: 'a', state: 'down' })).toBe(0);
    expect(sampleValue(families, 'switchboard_sessions_open')).toBe(1);
    expect(sampleValue(families, 'switchboard_requests_in_flight')).toBe(0);
    expect(sampleValue(families, 'switchboard_quarantined_tools', { upstream: 'a' })).toBe(0);
    expect(sampleValue(families, 'switchboard_upstream_restarts_total', { upstream: 'a' })).toBe(0);
    expect(families.get('switchboard_request_duration_seconds')!.type).toBe('histogram');
    expect(families.has('process_cpu_seconds_total')).toBe(true);
  });

  it('times each batch the audit log writes', async () => {
    const dir = makeTempDir('switchboard-metrics-audit-');
    const gw = await h.gateway({
      upstreams: { a: basicStdio('a') },
      telemetry: { metrics: true },
      audit: { file: path.join(dir, 'audit.jsonl') },
    });
    const client = await h.client(gw);
    await client.callTool({ name: 'a__echo', arguments: { text: 'hi' } });
    const families = await scrape(metricsUrl(gw));
    expect(sampleValue(families, 'switchboard_audit_write_seconds_count', {})).toBeGreaterThanOrEqual(1);
  });

  it('labels a method the gateway does not serve with a fixed label, not the name on the wire', async () => {
    const gw = await h.gateway({ upstreams: {}, telemetry: { metrics: true } });
    const opened = await rawPost(gw.url, INIT);
    const session = { 'mcp-session-id': opened.headers.get('mcp-session-id')! };
    const odd = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'made/up-method-9f2c', params: {} });
    expect((await rawPost(gw.url, odd, session)).json.error.code).toBe(-32601);
    const text = await (await fetch(metricsUrl(gw))).text();
    expect(text).not.toContain('made/up-method-9f2c');
    expect(
      sampleValue(parsePrometheusText(text), 'switchboard_requests_total', {
        method: '(other)',
        upstream: '',
        tool: '',
      }),
    ).toBe(1);
  });

  it('counts policy denials by rule and rate-limit refusals by rule', async () => {
    const gw = await h.gateway({
      upstreams: { a: basicStdio('a') },
      policy: {
        default: 'allow',
        rules: [
          { name: 'no-add', deny: { tools: ['a__add'] } },
          { name: 'echo-quota', allow: { tools: ['a__echo'] }, limits: { calls: 1, per: '1m' } },
        ],
      },
      telemetry: { metrics: true },
    });
    const client = await h.client(gw);
    await expect(client.callTool({ name: 'a__add', arguments: { a: 1, b: 2 } })).rejects.toMatchObject({
      code: -32602,
    });
    await client.callTool({ name: 'a__echo', arguments: { text: 'one' } });
    await expect(client.callTool({ name: 'a__echo', arguments: { text: 'two' } })).rejects.toMatchObject({
      code: -32000,
    });
    const families = await scrape(metricsUrl(gw));
    expect(
      sampleValue(families, 'switchboard_policy_denials_total', { rule: 'no-add', effect: 'deny' }),
    ).toBe(1);
    expect(sampleValue(families, 'switchboard_rate_limit_refusals_total', { rule: 'echo-quota' })).toBe(1);
    // A denied tool is still the catalogue's: labelled by its own name and upstream.
    expect(
      sampleValue(families, 'switchboard_request_errors_total', {
        ...call('a__echo'),
        error: 'rate_limited',
      }),
    ).toBe(1);
    expect(sampleValue(families, 'switchboard_requests_total', call('a__add'))).toBe(1);
  });

  it('counts an upstream that crashed and came back as one restart', async () => {
    const gw = await h.gateway({ upstreams: { a: basicStdio('a') }, telemetry: { metrics: true } });
    const client = await h.client(gw);
    await expect(client.callTool({ name: 'a__crash', arguments: {} })).rejects.toMatchObject({
      code: -32603,
    });
    const upstream = gw.app.runtime.upstream('a')!;
    await waitFor(() => upstream.state === 'ready', 15_000);
    const families = await scrape(metricsUrl(gw));
    expect(sampleValue(families, 'switchboard_upstream_restarts_total', { upstream: 'a' })).toBe(1);
    expect(sampleValue(families, 'switchboard_upstream_state', { upstream: 'a', state: 'ready' })).toBe(1);
  });

  it('is behind auth when auth is on: 401 without a token, 200 with one', async () => {
    const gw = await h.gateway({ upstreams: {}, auth: AUTH, telemetry: { metrics: true } });
    const refused = await fetch(metricsUrl(gw));
    expect(refused.status).toBe(401);
    expect(await refused.text()).not.toContain('switchboard_');
    expect((await fetch(metricsUrl(gw), { headers: bearer('wrong-key-0123456789abcdef') })).status).toBe(401);
    await scrape(metricsUrl(gw), bearer(KEYS.dev));
  });

  it('serves only the groups named in telemetry.metrics.groups (403 for others)', async () => {
    const gw = await h.gateway({ upstreams: {}, auth: AUTH, telemetry: { metrics: { groups: ['ops'] } } });
    const other = await fetch(metricsUrl(gw), { headers: bearer(KEYS.dev) });
    expect(other.status).toBe(403);
    expect((await other.json()).error.message).toContain('telemetry.metrics.groups');
    expect((await fetch(metricsUrl(gw))).status).toBe(401);
    await scrape(metricsUrl(gw), bearer(KEYS.ops));
  });
});

describe('metrics on a listener of their own', () => {
  it('serves GET /metrics there and nothing else; the main listener has no /metrics', async () => {
    const gw = await h.gateway({
      upstreams: { a: basicStdio('a') },
      auth: AUTH,
      telemetry: { metrics: { listen: { host: '127.0.0.1', port: 0 } } },
    });
    const listener = gw.app.metricsListener!;
    expect(listener.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    // No auth there: operators scrape an internal port.
    const families = await scrape(listener.url);
    expect(sampleValue(families, 'switchboard_upstream_state', { upstream: 'a', state: 'ready' })).toBe(1);
    await scrape(`${listener.url}?name[]=x`);
    const base = listener.url.replace(/\/metrics$/, '');
    for (const path of ['/mcp', '/healthz', '/readyz', '/', '/metrics/x', '/metricsx'])
      expect((await fetch(base + path)).status, path).toBe(404);
    const post = await fetch(listener.url, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(metricsUrl(gw), { headers: bearer(KEYS.ops) })).status).toBe(404);
    const url = listener.url;
    await gw.close();
    // Closed with the app.
    await expect(fetch(url)).rejects.toThrow();
  });

  it('fails start-up with a clear error when its port is taken', async () => {
    const first = await h.gateway({
      upstreams: {},
      telemetry: { metrics: { listen: { host: '127.0.0.1', port: 0 } } },
    });
    const port = Number(new URL(first.app.metricsListener!.url).port);
    const config = parseConfig(
      { upstreams: {}, telemetry: { metrics: { listen: { host: '127.0.0.1', port } } } },
      { baseDir: ROOT },
    );
    const app = await buildGateway(config);
    h.defer(() => app.close());
    const listening = app.listen({ host: '127.0.0.1', port: 0 });
    await expect(listening).rejects.toMatchObject({ kind: 'config' });
    await expect(listening).rejects.toThrow(`telemetry.metrics.listen: cannot listen on 127.0.0.1:${port}`);
  });
});

describe('metrics off and config', () => {
  it('registers nothing when off: no /metrics, no observer, no decision sink', async () => {
    const gw = await h.gateway({ upstreams: {}, policy: { default: 'allow', rules: [] } });
    expect((await fetch(metricsUrl(gw))).status).toBe(404);
    const { runtime } = gw.app;
    expect(runtime.metrics).toBeUndefined();
    expect(runtime.observers).toHaveLength(1);
    expect(runtime.decisions.active).toBe(false);
    expect(runtime.onUpstreamState).toBeUndefined();
    expect(gw.app.metricsListener).toBeUndefined();
  });

  it('refuses groups with a listen address, and groups without auth', async () => {
    expect(() =>
      parseConfig(
        { upstreams: {}, telemetry: { metrics: { groups: ['ops'], listen: { port: 9464 } } } },
        { baseDir: ROOT },
      ),
    ).toThrow(/telemetry\.metrics.*groups applies to \/metrics on the main listener/);
    expect(() =>
      parseConfig({ upstreams: {}, telemetry: { metrics: { lsten: {} } } }, { baseDir: ROOT }),
    ).toThrow(/telemetry\.metrics/);
    const config = parseConfig(
      { upstreams: {}, telemetry: { metrics: { groups: ['ops'] } } },
      { baseDir: ROOT },
    );
    const failure = await buildGateway(config).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(GatewayError);
    expect(failure).toMatchObject({ kind: 'config', message: expect.stringContaining('needs auth:') });
  });
});

describe('GatewayMetrics', () => {
  it('counts quarantined tools per upstream (not merely flagged ones) and audit write latency', async () => {
    const notices = [
      { upstream: 'a', reason: 'changed' },
      { upstream: 'a', reason: 'poisoning' },
      { upstream: 'a' },
      { upstream: 'b', reason: 'new' },
    ];
    const metrics = new GatewayMetrics({
      upstreams: [
        { name: 'a', state: 'ready' },
        { name: 'b', state: 'down' },
        { name: 'c', state: 'ready' },
      ],
      sessions: { size: 0 },
      quarantined: () => notices,
      tool: () => undefined,
    });
    metrics.observeAuditWrite(0.0003);
    metrics.observeAuditWrite(0.002);
    const families = parsePrometheusText((await metrics.scrape()).text);
    expect(sampleValue(families, 'switchboard_quarantined_tools', { upstream: 'a' })).toBe(2);
    expect(sampleValue(families, 'switchboard_quarantined_tools', { upstream: 'b' })).toBe(1);
    expect(sampleValue(families, 'switchboard_quarantined_tools', { upstream: 'c' })).toBe(0);
    expect(sampleValue(families, 'switchboard_audit_write_seconds_count')).toBe(2);
    expect(sampleValue(families, 'switchboard_audit_write_seconds_bucket', { le: '0.0005' })).toBe(1);
    expect(sampleValue(families, 'switchboard_upstream_state', { upstream: 'b', state: 'down' })).toBe(1);
  });
});

describe('the strict exposition reader the tests use', () => {
  it.each([
    ['no final newline', 'a 1'],
    ['a sample before its TYPE', '# TYPE a counter\nb 1\n'],
    ['a bad escape in a label value', '# TYPE a counter\na{x="\\q"} 1\n'],
    ['an unterminated label value', '# TYPE a counter\na{x="1} 1\n'],
    ['a bad value', '# TYPE a gauge\na 1,5\n'],
    ['a family split in two', '# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# HELP a again\n'],
    ['a histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_count 1\nh_sum 1\n'],
    [
      'a histogram that is not cumulative',
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 1\n',
    ],
  ])('refuses %s', (_why, text) => {
    expect(() => parsePrometheusText(text)).toThrow();
  });

  it('reads NaN and Inf as Go does, and label escapes', () => {
    const families = parsePrometheusText('# TYPE a gauge\na{x="q\\"\\\\\\n"} Nan\na{x="y"} +Inf\n');
    expect(families.get('a')!.samples.map((s) => [s.labels.x, s.value])).toEqual([
      ['q"\\\n', NaN],
      ['y', Infinity],
    ]);
  });
});
