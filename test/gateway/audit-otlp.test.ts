// The audit log's OTLP logs sink end to end: the real CLI with `telemetry.otlp` pointing at a small OTLP/HTTP
// receiver (traces and logs), a real HTTP upstream and the SDK's Client. Every record of the file leaves as one
// log record whose body is its line, with the trace of its call; no argument value in any exported byte.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { startRecordingUpstream } from '../fixtures/servers/recording-upstream.js';
import { ROOT, TSX, waitFor } from '../helpers/gateway.js';
import { makeTempDir } from '../helpers/harness.js';

/** An argument value that must never leave the gateway in an export. */
const ARGUMENT = 'argument-value-0d7e4b2a91';
const SERVER = 2;

type Attributes = Record<string, unknown>;
interface LogRecord {
  body: unknown;
  attributes: Attributes;
  traceId?: string;
  spanId?: string;
  eventName?: string;
  severityText?: string;
  serviceName: unknown;
}

function attributesOf(list: { key: string; value: Record<string, unknown> }[] = []): Attributes {
  const out: Attributes = {};
  for (const { key, value } of list) {
    const [first] = Object.values(value);
    out[key] = 'intValue' in value ? Number(first) : first;
  }
  return out;
}

/** An OTLP/HTTP (JSON) receiver of traces and logs. */
async function startReceiver() {
  const got = {
    spans: [] as { traceId: string; spanId: string; kind: number; name: string }[],
    logs: [] as LogRecord[],
  };
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      bodies.push(text);
      const body = JSON.parse(text) as { resourceSpans?: any[]; resourceLogs?: any[] };
      for (const r of body.resourceSpans ?? [])
        for (const scope of r.scopeSpans ?? []) for (const span of scope.spans ?? []) got.spans.push(span);
      for (const r of body.resourceLogs ?? []) {
        const resource = attributesOf(r.resource?.attributes);
        for (const scope of r.scopeLogs ?? [])
          for (const log of scope.logRecords ?? [])
            got.logs.push({
              body: log.body?.stringValue,
              attributes: attributesOf(log.attributes),
              traceId: log.traceId || undefined,
              spanId: log.spanId || undefined,
              eventName: log.eventName,
              severityText: log.severityText,
              serviceName: resource['service.name'],
            });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    ...got,
    bodies,
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** `switchboard serve` on port 0: cli.ts starts tracing and the audit export from the config. */
async function startGateway(yaml: string, dir: string) {
  const file = path.join(dir, 'gateway.yaml');
  writeFileSync(file, yaml);
  const child = spawn(
    process.execPath,
    ['--import', TSX, path.join(ROOT, 'src/cli.ts'), 'serve', '--config', file, '--port', '0'],
    {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      // Exported within 50 ms, so the test need not rely on the flush at exit (bounded at 3 s, and a loaded CI
      // machine can exceed it).
      env: { ...process.env, OTEL_BSP_SCHEDULE_DELAY: '50', OTEL_BLRP_SCHEDULE_DELAY: '50' },
    },
  );
  let seen = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (seen += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  cleanups.push(stop);
  const url = await waitFor(() => /listening on (\S+)/.exec(seen)?.[1], 20_000).catch(() => {
    throw new Error(`gateway did not start: ${seen}`);
  });
  return { url, stop };
}

describe('audit log: OTLP logs sink', () => {
  it('exports one log record per audit record, its body the file line, with the trace of its call and no argument value', async () => {
    const receiver = await startReceiver();
    cleanups.push(receiver.close);
    const upstream = await startRecordingUpstream();
    cleanups.push(() => upstream.close());
    const dir = makeTempDir('audit-otlp-');
    const auditFile = path.join(dir, 'audit.jsonl');
    const gateway = await startGateway(
      [
        'upstreams:',
        `  rec: { url: "${upstream.url}" }`,
        'telemetry:',
        '  serviceName: sb-audit-test',
        `  otlp: { endpoint: "${receiver.endpoint}" }`,
        `audit: { file: "${auditFile}", otlp: true }`,
        'policy:',
        '  default: allow',
        '  rules:',
        '    - { name: no-authorization, deny: { tools: [rec__authorization] } }',
        '',
      ].join('\n'),
      dir,
    );
    const client = new Client({ name: 'audit-otlp-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url)));
    await client.callTool({ name: 'rec__echo', arguments: { text: ARGUMENT } });
    await expect(
      client.callTool({ name: 'rec__authorization', arguments: { text: ARGUMENT } }),
    ).rejects.toThrow();
    await client.close();
    // Every record is in the file before its call is answered; the export follows within its schedule delay.
    await waitFor(() => receiver.logs.length >= 3, 20_000);
    await gateway.stop();

    const lines = readFileSync(auditFile, 'utf8').split('\n').filter(Boolean);
    const records = lines.map((line) => JSON.parse(line) as Record<string, any>);
    expect(records.map((r) => [r.event, r.name, r.decision ?? r.outcome])).toEqual([
      ['call', 'rec__echo', 'ok'],
      ['decision', 'rec__authorization', 'deny'],
      ['call', 'rec__authorization', 'error'],
    ]);
    const logs = await waitFor(() => receiver.logs.length >= lines.length && receiver.logs);
    expect(logs.map((log) => log.body)).toEqual(lines);
    for (const [i, log] of logs.entries()) {
      expect(log.eventName).toBe('switchboard.audit');
      expect(log.serviceName).toBe('sb-audit-test');
      expect(log.attributes).toMatchObject({
        'switchboard.audit.event': records[i].event,
        'switchboard.audit.seq': records[i].seq,
        'switchboard.audit.hash': records[i].hash,
        'switchboard.upstream': 'rec',
      });
    }
    expect(logs[0].attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'rec__echo',
      'switchboard.audit.outcome': 'ok',
    });
    expect(logs[1].attributes).toMatchObject({
      'switchboard.audit.decision': 'deny',
      'switchboard.audit.rule': 'no-authorization',
      'gen_ai.tool.name': 'rec__authorization',
    });
    expect(logs[1].severityText).toBe('WARN');

    // Each call's records name its trace: the SERVER span's, as the file's call record does.
    const serverTraces = (name: string) =>
      receiver.spans
        .filter((s) => s.kind === SERVER && s.name === `tools/call ${name}`)
        .map((s) => s.traceId);
    const echoTrace = records[0].traceId as string;
    const deniedTrace = records[2].traceId as string;
    expect(await waitFor(() => serverTraces('rec__echo').length > 0 && serverTraces('rec__echo'))).toEqual([
      echoTrace,
    ]);
    expect(serverTraces('rec__authorization')).toEqual([deniedTrace]);
    expect(logs[0].attributes.trace_id).toBe(echoTrace);
    expect(logs[2].attributes.trace_id).toBe(deniedTrace);
    // The deny was decided while the call's SERVER span was current: its log record carries that span's context.
    expect(logs[1].traceId).toBe(deniedTrace);
    expect(receiver.spans.find((s) => s.spanId === logs[1].spanId)).toMatchObject({
      traceId: deniedTrace,
      kind: SERVER,
      name: 'tools/call rec__authorization',
    });
    expect(logs[1].attributes).toMatchObject({ trace_id: deniedTrace, span_id: logs[1].spanId });

    // Neither the log export nor the span export carries an argument value.
    expect(receiver.bodies.length).toBeGreaterThan(0);
    for (const body of receiver.bodies) expect(body).not.toContain(ARGUMENT);
    // The file the export mirrors still verifies.
    const verify = spawnSync(
      process.execPath,
      ['--import', TSX, path.join(ROOT, 'src/cli.ts'), 'audit', 'verify', auditFile],
      { encoding: 'utf8' },
    );
    expect([verify.status, verify.stdout]).toEqual([0, expect.stringMatching(/OK: 3 records/)]);
  }, 60_000);
});
