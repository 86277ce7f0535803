// Tracing with inbound auth on, end to end (the real CLI, a real HTTP upstream, the test's OTLP/HTTP receiver):
// the `auth` child of each request's SERVER span, a span of their own for refused requests, and what an unsampled
// call costs the trace: nothing exported, yet its (unsampled) trace context still goes upstream.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRecordingUpstream, type RecordingUpstream } from '../fixtures/servers/recording-upstream.js';
import { waitFor } from '../helpers/gateway.js';
import {
  startGatewayProcess,
  startReceiver,
  type GatewayProcess,
  type Receiver,
  type ReceivedSpan,
} from './tracing-helpers.js';

const SERVER = 2;
const INTERNAL = 1;
const KEY = 'tracing-auth-key-8d2f61c0a9';
const WRONG_KEY = 'tracing-wrong-key-5e07b3d4c1';
const CLIENT_SPAN = '00f067aa0ba902b7';

function config(receiver: Receiver, upstream: RecordingUpstream): string {
  return [
    'auth:',
    '  resource: http://127.0.0.1/mcp',
    `  apiKeys: [{ subject: tracer, groups: [ops], key: ${KEY} }]`,
    'upstreams:',
    `  rec: { url: "${upstream.url}" }`,
    'telemetry:',
    `  otlp: { endpoint: "${receiver.endpoint}" }`,
    '  sampling: 1',
    'policy:',
    '  default: allow',
    '  rules:',
    '    - { name: quota, allow: { tools: ["*"] }, limits: { calls: 1000, per: 1m } }',
    '',
  ].join('\n');
}

async function connect(url: string, headers: Record<string, string>): Promise<Client> {
  const client = new Client({ name: 'tracing-auth-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

function lastUpstreamCall(upstream: RecordingUpstream) {
  const request = upstream.requests.filter((r) => r.body.includes('"tools/call"')).at(-1)!;
  const meta =
    (JSON.parse(request.body) as { params: { _meta?: Record<string, string> } }).params._meta ?? {};
  return { headers: request.headers, meta };
}

const childrenOf = (receiver: Receiver, parent: ReceivedSpan) =>
  receiver.spans.filter((s) => s.parentSpanId === parent.spanId && s.traceId === parent.traceId);

describe('tracing with auth on', () => {
  let receiver: Receiver;
  let upstream: RecordingUpstream;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    receiver = await startReceiver();
    upstream = await startRecordingUpstream();
    gateway = await startGatewayProcess(config(receiver, upstream));
  });
  afterAll(async () => {
    await gateway?.stop();
    await upstream?.close();
    await receiver?.close();
  });

  it('a sampled tools/call has an auth child of its SERVER span, in the same trace, beside its policy span', async () => {
    const traceId = 'd'.repeat(31) + '1';
    const client = await connect(gateway.url, { authorization: `Bearer ${KEY}` });
    try {
      await client.callTool({
        name: 'rec__echo',
        arguments: { text: 'hi' },
        _meta: { traceparent: `00-${traceId}-${CLIENT_SPAN}-01` },
      });
    } finally {
      await client.close();
    }
    const server = await waitFor(() =>
      receiver.spans.find((s) => s.traceId === traceId && s.kind === SERVER),
    );
    expect(server.name).toBe('tools/call rec__echo');
    const auth = await waitFor(() => childrenOf(receiver, server).find((s) => s.name === 'auth'));
    expect(auth.kind).toBe(INTERNAL);
    expect(auth.attributes).toEqual({
      'switchboard.auth.method': 'apiKey',
      'switchboard.auth.outcome': 'ok',
    });
    // Sampled calls keep their policy span: a child of the SERVER span too.
    const stage = await waitFor(() => childrenOf(receiver, server).find((s) => s.name === 'policy'));
    expect(stage.kind).toBe(INTERNAL);
    // The credential is in no exported byte.
    expect(receiver.bodies.join('\n')).not.toContain(KEY);
  });

  it('an unsampled call (the client sent flag 00) exports no span, yet the upstream gets its trace id with flag 00', async () => {
    const unsampled = 'e'.repeat(31) + '2';
    const sampled = 'e'.repeat(31) + '3';
    const client = await connect(gateway.url, { authorization: `Bearer ${KEY}` });
    try {
      await client.callTool({
        name: 'rec__echo',
        arguments: { text: 'not sampled' },
        _meta: { traceparent: `00-${unsampled}-${CLIENT_SPAN}-00`, tracestate: 'vendor=kept' },
      });
      const { headers, meta } = lastUpstreamCall(upstream);
      expect(headers.traceparent).toMatch(new RegExp(`^00-${unsampled}-(?!${CLIENT_SPAN})[\\da-f]{16}-00$`));
      expect(meta.traceparent).toBe(headers.traceparent);
      expect(meta.tracestate).toBe('vendor=kept');
      // A sampled call after it: once its spans are in, the unsampled one's would have been too (one queue).
      await client.callTool({
        name: 'rec__echo',
        arguments: { text: 'sampled' },
        _meta: { traceparent: `00-${sampled}-${CLIENT_SPAN}-01` },
      });
    } finally {
      await client.close();
    }
    await waitFor(() => receiver.spans.find((s) => s.traceId === sampled && s.kind === SERVER));
    await waitFor(() => receiver.spans.find((s) => s.traceId === sampled && s.name === 'auth'));
    expect(receiver.spans.filter((s) => s.traceId === unsampled)).toEqual([]);
  });

  it('a refused request (401) gets a SERVER span of its own with a failed auth child, never the key it sent', async () => {
    const traceId = 'f'.repeat(31) + '4';
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${WRONG_KEY}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        traceparent: `00-${traceId}-${CLIENT_SPAN}-01`,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(response.status).toBe(401);
    const server = await waitFor(() =>
      receiver.spans.find((s) => s.traceId === traceId && s.kind === SERVER),
    );
    expect(server.name).toBe('POST /mcp');
    expect(server.parentSpanId).toBe(CLIENT_SPAN);
    expect(server.status.code).toBe(2);
    expect(server.attributes).toMatchObject({
      'http.response.status_code': 401,
      'error.type': 'unauthorized',
    });
    const auth = await waitFor(() => childrenOf(receiver, server).find((s) => s.name === 'auth'));
    expect(auth.attributes).toMatchObject({ 'switchboard.auth.outcome': 'unauthorized' });
    expect(auth.status.code).toBe(2);
    expect(receiver.bodies.join('\n')).not.toContain(WRONG_KEY);
  });
});
