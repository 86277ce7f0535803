// `telemetry:` as config (bad values named precisely), where spans are sent, and the trace context an HTTP
// upstream receives in its headers when the gateway itself traces nothing (in process: no SDK is started here).
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { parseConfig } from '../../src/gateway/config.js';
import { tracesUrl } from '../../src/gateway/telemetry/tracing.js';
import { startRecordingUpstream } from '../fixtures/servers/recording-upstream.js';
import { useHarness } from '../helpers/harness.js';

function configError(telemetry: unknown): GatewayError {
  try {
    parseConfig({ upstreams: {}, telemetry });
  } catch (error) {
    return error as GatewayError;
  }
  throw new Error('the config was accepted');
}

describe('telemetry config', () => {
  it('takes an OTLP endpoint, headers, a service name and a sampling ratio (default 1)', () => {
    const config = parseConfig({
      upstreams: {},
      telemetry: { otlp: { endpoint: 'http://otel:4318', headers: { 'x-api-key': 'k' } }, serviceName: 'gw' },
    });
    expect(config.telemetry).toEqual({
      otlp: { endpoint: 'http://otel:4318', headers: { 'x-api-key': 'k' } },
      serviceName: 'gw',
      sampling: 1,
    });
  });

  it.each([
    [{ sampling: 1.5 }, /telemetry\.sampling/],
    [{ sampling: -0.1 }, /telemetry\.sampling/],
    [{ otlp: { endpoint: 'otel:4318' } }, /telemetry\.otlp\.endpoint/],
    [{ otlp: { endpoint: 'grpc://otel:4317' } }, /telemetry\.otlp\.endpoint/],
    [{ otlp: {} }, /telemetry\.otlp\.endpoint/],
    [{ otlp: { endpoint: 'http://otel:4318', protocol: 'grpc' } }, /telemetry\.otlp\.protocol/],
  ])('rejects %j, naming the key', (telemetry, path) => {
    const error = configError(telemetry);
    expect(error).toBeInstanceOf(GatewayError);
    expect(error.kind).toBe('config');
    expect(error.message).toMatch(path);
  });

  it('sends spans to /v1/traces under the endpoint, unless its path already says so', () => {
    expect(tracesUrl('http://otel:4318')).toBe('http://otel:4318/v1/traces');
    expect(tracesUrl('http://otel:4318/')).toBe('http://otel:4318/v1/traces');
    expect(tracesUrl('https://collector.example/otlp/')).toBe('https://collector.example/otlp/v1/traces');
    expect(tracesUrl('http://otel:4318/v1/traces')).toBe('http://otel:4318/v1/traces');
  });
});

describe('trace context to an HTTP upstream, tracing off', () => {
  const harness = useHarness();

  it("a client's well-formed traceparent in _meta also goes in the upstream's headers; a malformed one stays out and the call still works", async () => {
    const upstream = await startRecordingUpstream();
    harness.defer(() => upstream.close());
    const gw = await harness.gateway({ upstreams: { rec: { url: upstream.url } } });
    const client = await harness.client(gw);
    const lastCall = () => upstream.requests.filter((r) => r.body.includes('"tools/call"')).at(-1)!.headers;

    const traceparent = `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`;
    await client.callTool({
      name: 'rec__echo',
      arguments: { text: 'a' },
      _meta: { traceparent, tracestate: 'v=1' },
    });
    expect(lastCall()).toMatchObject({ traceparent, tracestate: 'v=1' });

    const result = await client.callTool({
      name: 'rec__echo',
      arguments: { text: 'b' },
      _meta: { traceparent: `${traceparent}\r\nx-injected: 1`, tracestate: 'v=1' },
    });
    expect(result.content).toEqual([{ type: 'text', text: 'b' }]);
    expect(lastCall().traceparent).toBeUndefined();
    expect(lastCall()['x-injected']).toBeUndefined();
  });
});
