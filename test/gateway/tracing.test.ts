// Tracing end to end: the real CLI with `telemetry.otlp` pointing at a small OTLP/HTTP receiver, a real HTTP
// upstream that records what reaches it, and the SDK's Client: spans by the MCP conventions, W3C trace context
// passed on to the upstream (headers and `_meta`) and taken from the client (the same two ways), sampling.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { ROOT_CONTEXT } from '@opentelemetry/api';
import { SamplingDecision, TraceIdRatioBasedSampler } from '@opentelemetry/sdk-trace-base';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/servers/recording-upstream.js';
import { waitFor } from '../helpers/gateway.js';
import {
  loadedOtelModules,
  startGatewayProcess,
  startReceiver,
  type GatewayProcess,
  type Receiver,
  type ReceivedSpan,
} from './tracing-helpers.js';

const SERVER = 2;
const CLIENT = 3;
const INTERNAL = 1;
/** An argument value that must never reach a span. */
const ARGUMENT = 'argument-value-4f1c9e';
const CLIENT_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const CLIENT_SPAN = '00f067aa0ba902b7';

function config(receiver: Receiver, upstream: RecordingUpstream, sampling: number): string {
  return [
    'upstreams:',
    `  rec: { url: "${upstream.url}" }`,
    'telemetry:',
    '  serviceName: sb-tracing-test',
    `  otlp: { endpoint: "${receiver.endpoint}" }`,
    `  sampling: ${sampling}`,
    'policy:',
    '  default: allow',
    '  rules:',
    '    - { name: no-authorization, deny: { tools: [rec__authorization] } }',
    `    - { name: no-forbidden-text, deny: { tools: [rec__echo] }, when: "has(args.text) && args.text == 'forbidden'" }`,
    '    - { name: quota, allow: { tools: ["*"] }, limits: { calls: 1000, per: 1m } }',
    '',
  ].join('\n');
}

async function connect(url: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'tracing-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

/** The tools/call the upstream received last, with its headers and `_meta`. */
function lastUpstreamCall(upstream: RecordingUpstream) {
  const request = upstream.requests.filter((r) => r.body.includes('"tools/call"')).at(-1)!;
  const meta =
    (JSON.parse(request.body) as { params: { _meta?: Record<string, string> } }).params._meta ?? {};
  return { headers: request.headers, meta };
}

function serverSpan(receiver: Receiver, traceId: string): ReceivedSpan | undefined {
  return receiver.spans.find(
    (s) => s.traceId === traceId && s.kind === SERVER && s.name.startsWith('tools/call'),
  );
}

describe('tracing (telemetry.otlp)', () => {
  let receiver: Receiver;
  let upstream: RecordingUpstream;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    receiver = await startReceiver();
    upstream = await startRecordingUpstream();
    gateway = await startGatewayProcess(config(receiver, upstream, 1));
  });
  afterAll(async () => {
    await gateway?.stop();
    await upstream?.close();
    await receiver?.close();
  });

  it('one tools/call yields a SERVER span and a CLIENT child for the upstream, whose trace context reaches the upstream in headers and _meta', async () => {
    const client = await connect(gateway.url);
    try {
      await client.callTool({ name: 'rec__echo', arguments: { text: ARGUMENT } });
    } finally {
      await client.close();
    }
    const { headers, meta } = lastUpstreamCall(upstream);
    const [, traceId, parentId] = /^00-([\da-f]{32})-([\da-f]{16})-01$/.exec(String(headers.traceparent))!;
    expect(meta.traceparent).toBe(headers.traceparent);

    const server = await waitFor(() => serverSpan(receiver, traceId));
    const upstreamSpan = await waitFor(() =>
      receiver.spans.find((s) => s.kind === CLIENT && s.traceId === traceId),
    );
    expect(server.name).toBe('tools/call rec__echo');
    expect(server.parentSpanId).toBeUndefined();
    expect(server.serviceName).toBe('sb-tracing-test');
    expect(server.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'rec__echo',
      'jsonrpc.request.id': expect.any(String),
      'rpc.jsonrpc.request_id': expect.any(String),
    });
    // The session id is hashed: the raw one the upstream never sees either, but the client knows it.
    expect(server.attributes['mcp.session.id']).toMatch(/^sha256:[\da-f]{12}$/);

    // The upstream's parent is the CLIENT span, a child of the SERVER span.
    expect(upstreamSpan.spanId).toBe(parentId);
    expect(upstreamSpan.name).toBe('tools/call echo');
    expect(upstreamSpan.attributes).toMatchObject({
      'switchboard.upstream': 'rec',
      'gen_ai.tool.name': 'echo',
      'server.address': '127.0.0.1',
    });
    expect(upstreamSpan.parentSpanId).toBe(server.spanId);
    // The checks before it, every stage of the call's chain, in one `policy` span beside it: ended before the
    // upstream call began.
    const policy = receiver.spans.find((s) => s.parentSpanId === server.spanId && s.name === 'policy');
    expect(policy, 'the policy span').toBeDefined();
    expect(policy!.kind).toBe(INTERNAL);
    expect(policy!.attributes['switchboard.policy.stages']).toEqual(['policy', 'limits', 'secrets']);
    expect(receiver.spans.filter((s) => s.traceId === server.traceId)).toHaveLength(3);
    // Within a millisecond: the SDK anchors each span's start on Date.now() (whole ms), so a start it records
    // can be up to 1 ms before the true one.
    expect(BigInt(policy!.endTimeUnixNano)).toBeLessThanOrEqual(
      BigInt(upstreamSpan.startTimeUnixNano) + 1_000_000n,
    );

    // Names and ids only: the argument's value is in no exported byte.
    expect(receiver.bodies.join('\n')).not.toContain(ARGUMENT);
  });

  it('a client traceparent in params._meta becomes the parent of the SERVER span', async () => {
    const client = await connect(gateway.url);
    try {
      await client.callTool({
        name: 'rec__echo',
        arguments: { text: 'hi' },
        _meta: { traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`, tracestate: 'vendor=meta' },
      });
    } finally {
      await client.close();
    }
    const server = await waitFor(() => serverSpan(receiver, CLIENT_TRACE));
    expect(server.parentSpanId).toBe(CLIENT_SPAN);
    // The upstream gets the same trace, with the gateway's hop as its parent and the client's tracestate.
    const { headers, meta } = lastUpstreamCall(upstream);
    expect(meta.traceparent).toMatch(new RegExp(`^00-${CLIENT_TRACE}-(?!${CLIENT_SPAN})[\\da-f]{16}-01$`));
    expect(headers.traceparent).toBe(meta.traceparent);
    expect(headers.tracestate).toBe('vendor=meta');
  });

  it('a client traceparent HTTP header becomes the parent when _meta carries none', async () => {
    const traceId = 'a'.repeat(31) + 'b';
    const client = await connect(gateway.url, { traceparent: `00-${traceId}-${CLIENT_SPAN}-01` });
    try {
      await client.callTool({ name: 'rec__echo', arguments: { text: 'hi' } });
    } finally {
      await client.close();
    }
    const server = await waitFor(() => serverSpan(receiver, traceId));
    expect(server.parentSpanId).toBe(CLIENT_SPAN);
    expect(lastUpstreamCall(upstream).meta.traceparent).toContain(traceId);
  });

  it('a denied call ends its span in error, with the policy decision as an event', async () => {
    const traceId = 'c'.repeat(32);
    const client = await connect(gateway.url);
    try {
      await expect(
        client.callTool({
          name: 'rec__authorization',
          arguments: {},
          _meta: { traceparent: `00-${traceId}-${CLIENT_SPAN}-01` },
        }),
      ).rejects.toThrow(/rec__authorization/);
    } finally {
      await client.close();
    }
    const server = await waitFor(() => serverSpan(receiver, traceId));
    expect(server.status.code).toBe(2);
    expect(server.attributes['error.type']).toBe(String(-32602));
    expect(server.events).toContainEqual({
      name: 'switchboard.policy.decision',
      attributes: expect.objectContaining({
        'switchboard.decision.effect': 'deny',
        'switchboard.decision.rule': 'no-authorization',
      }),
    });
  });

  it('a call a stage refuses ends its policy span in error, with the decision as its event, and never goes upstream', async () => {
    const traceId = 'd'.repeat(32);
    const client = await connect(gateway.url);
    const before = upstream.requests.length;
    try {
      await expect(
        client.callTool({
          name: 'rec__echo',
          arguments: { text: 'forbidden' },
          _meta: { traceparent: `00-${traceId}-${CLIENT_SPAN}-01` },
        }),
      ).rejects.toThrow(/Forbidden/);
    } finally {
      await client.close();
    }
    const server = await waitFor(() => serverSpan(receiver, traceId));
    const policy = await waitFor(() =>
      receiver.spans.find((s) => s.parentSpanId === server.spanId && s.name === 'policy'),
    );
    expect(policy.status.code).toBe(2);
    expect(policy.events).toContainEqual({
      name: 'switchboard.policy.decision',
      attributes: expect.objectContaining({
        'switchboard.decision.effect': 'deny',
        'switchboard.decision.rule': 'no-forbidden-text',
      }),
    });
    expect(receiver.spans.filter((s) => s.traceId === traceId && s.kind === CLIENT)).toEqual([]);
    expect(upstream.requests.slice(before).some((r) => r.body.includes('"tools/call"'))).toBe(false);
  });

  it('the trace context is added to params without losing any of them, an own __proto__ key included', async () => {
    const client = await connect(gateway.url);
    const forwarded: Record<string, unknown>[] = [];
    try {
      for (const params of [
        '{"name":"rec__echo","arguments":{"text":"a"},"extra":1}',
        '{"name":"rec__echo","arguments":{"text":"b"},"__proto__":{"polluted":true},"extra":2}',
        '{"name":"rec__echo","arguments":{"text":"c"},"_meta":{"mine":"kept"},"extra":3}',
      ]) {
        await client.request({ method: 'tools/call', params: JSON.parse(params) }, CallToolResultSchema);
        const request = upstream.requests.filter((r) => r.body.includes('"tools/call"')).at(-1)!;
        forwarded.push(JSON.parse(request.body).params);
      }
    } finally {
      await client.close();
    }
    for (const [i, params] of forwarded.entries()) {
      expect(params.extra).toBe(i + 1);
      expect(params.arguments).toEqual({ text: 'abc'[i] });
      expect((params._meta as Record<string, string>).traceparent).toMatch(/^00-[\da-f]{32}-[\da-f]{16}-01$/);
    }
    expect(Object.hasOwn(forwarded[1], '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(forwarded[1], '__proto__')!.value).toEqual({ polluted: true });
    expect(Object.getPrototypeOf(forwarded[0])).toBe(Object.prototype);
    expect((forwarded[2]._meta as Record<string, string>).mine).toBe('kept');
  });

  it('the traced gateway did load the OpenTelemetry SDK (the probe the untraced test relies on sees it)', async () => {
    await gateway.stop();
    expect(
      loadedOtelModules(gateway.stderr()).some((file) => file.includes('/@opentelemetry/sdk-node/')),
    ).toBe(true);
  });
});

describe('tracing at sampling 0, and off', () => {
  it('sampling 0 exports no span, yet still passes an (unsampled) trace context upstream', async () => {
    const receiver = await startReceiver();
    const upstream = await startRecordingUpstream();
    const gateway = await startGatewayProcess(config(receiver, upstream, 0));
    try {
      const client = await connect(gateway.url);
      await client.callTool({ name: 'rec__echo', arguments: { text: 'hi' } });
      await client.close();
      // Stopping flushes whatever was batched: nothing, since nothing was recorded.
      await gateway.stop();
      expect(receiver.spans).toEqual([]);
      const { headers, meta } = lastUpstreamCall(upstream);
      expect(headers.traceparent).toMatch(/^00-[\da-f]{32}-[\da-f]{16}-00$/);
      expect(meta.traceparent).toBe(headers.traceparent);
    } finally {
      await gateway.stop();
      await upstream.close();
      await receiver.close();
    }
  });

  it('with OTEL_SDK_DISABLED=true the gateway serves, records no span, and passes a client context on unchanged', async () => {
    const receiver = await startReceiver();
    const upstream = await startRecordingUpstream();
    const gateway = await startGatewayProcess(config(receiver, upstream, 1), { OTEL_SDK_DISABLED: 'true' });
    try {
      const client = await connect(gateway.url);
      await client.callTool({ name: 'rec__echo', arguments: { text: 'root' } });
      expect(lastUpstreamCall(upstream).headers.traceparent).toMatch(/^00-[\da-f]{32}-[\da-f]{16}-00$/);
      const traceparent = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`;
      await client.callTool({ name: 'rec__echo', arguments: { text: 'child' }, _meta: { traceparent } });
      expect(lastUpstreamCall(upstream).meta.traceparent).toBe(traceparent);
      await client.close();
      await gateway.stop();
      expect(receiver.spans).toEqual([]);
    } finally {
      await gateway.stop();
      await upstream.close();
      await receiver.close();
    }
  });

  it('a ratio samples by trace id as the SDK would: each call passed on with the flag the ratio gives its trace id, and exactly the sampled ones exported', async () => {
    const receiver = await startReceiver();
    const upstream = await startRecordingUpstream();
    const gateway = await startGatewayProcess(config(receiver, upstream, 0.5));
    const ratio = new TraceIdRatioBasedSampler(0.5);
    try {
      const client = await connect(gateway.url);
      for (let i = 0; i < 30; i++) await client.callTool({ name: 'rec__echo', arguments: { text: 'hi' } });
      await client.close();
      await gateway.stop();
      const calls = upstream.requests.filter((r) => r.body.includes('"tools/call"'));
      expect(calls).toHaveLength(30);
      const traces = calls.map((r) =>
        /^00-([\da-f]{32})-[\da-f]{16}-(0[01])$/.exec(String(r.headers.traceparent))!,
      );
      // Distinct trace ids, each flagged as the ratio sampler decides on it.
      expect(new Set(traces.map((t) => t[1])).size).toBe(30);
      const sampled = traces.filter(
        (t) => ratio.shouldSample(ROOT_CONTEXT, t[1]).decision === SamplingDecision.RECORD_AND_SAMPLED,
      );
      for (const [, traceId, flag] of traces)
        expect(flag === '01').toBe(sampled.some((t) => t[1] === traceId));
      // Some of each (30 draws at one half: the odds of all one way are 2 in a billion).
      expect(sampled.length).toBeGreaterThan(0);
      expect(sampled.length).toBeLessThan(30);
      const exported = new Set(
        receiver.spans
          .filter((s) => s.kind === SERVER && s.name.startsWith('tools/call'))
          .map((s) => s.traceId),
      );
      expect([...exported].sort()).toEqual(sampled.map((t) => t[1]).sort());
    } finally {
      await gateway.stop();
      await upstream.close();
      await receiver.close();
    }
  });

  it('without telemetry.otlp no OpenTelemetry module is loaded and nothing is added upstream', async () => {
    const upstream = await startRecordingUpstream();
    const gateway = await startGatewayProcess(`upstreams:\n  rec: { url: "${upstream.url}" }\n`);
    try {
      const client = await connect(gateway.url);
      await client.callTool({ name: 'rec__echo', arguments: { text: 'hi' } });
      await client.close();
      await gateway.stop();
      // At most the API (a no-op facade, which the audit record reads a trace id through): no SDK, no exporter.
      expect(
        loadedOtelModules(gateway.stderr()).filter((file) => !file.includes('/@opentelemetry/api/')),
      ).toEqual([]);
      const { headers, meta } = lastUpstreamCall(upstream);
      expect(headers.traceparent).toBeUndefined();
      expect(meta.traceparent).toBeUndefined();
    } finally {
      await gateway.stop();
      await upstream.close();
    }
  });
});
