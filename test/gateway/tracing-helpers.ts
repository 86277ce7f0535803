// Tracing test helpers: a small OTLP/HTTP receiver (JSON protocol, POST /v1/traces) that flattens what it gets
// into spans, and the real gateway as a child process (the NodeSDK is process-global, so it stays out of vitest).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ROOT } from '../helpers/gateway.js';
import { makeTempDir } from '../helpers/harness.js';

export const PROBE = path.join(ROOT, 'test/fixtures/tracing/loaded-modules.mjs');

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  /** OTLP's numbers: 1 internal, 2 server, 3 client. */
  kind: number;
  attributes: Record<string, unknown>;
  status: { code?: number; message?: string };
  events: { name: string; attributes: Record<string, unknown> }[];
  serviceName: unknown;
  /** OTLP's times (ns since the epoch, as decimal text). */
  startTimeUnixNano: string;
  endTimeUnixNano: string;
}

export interface Receiver {
  endpoint: string;
  spans: ReceivedSpan[];
  /** Every body received, as text: for greps. */
  bodies: string[];
  close(): Promise<void>;
}

type OtlpAttribute = { key: string; value: Record<string, unknown> };

function attributesOf(list: OtlpAttribute[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of list) {
    const [first] = Object.values(value);
    if ('arrayValue' in value)
      out[key] = ((first as { values?: Record<string, unknown>[] }).values ?? []).map(
        (v) => Object.values(v)[0],
      );
    else out[key] = typeof first === 'string' && 'intValue' in value ? Number(first) : first;
  }
  return out;
}

export async function startReceiver(): Promise<Receiver> {
  const receiver: Receiver = { endpoint: '', spans: [], bodies: [], close: async () => {} };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      if (
        req.method !== 'POST' ||
        req.url !== '/v1/traces' ||
        !/json/.test(req.headers['content-type'] ?? '')
      ) {
        res.writeHead(404).end();
        return;
      }
      receiver.bodies.push(body);
      const parsed = JSON.parse(body) as { resourceSpans?: any[] };
      for (const resourceSpans of parsed.resourceSpans ?? []) {
        const resource = attributesOf(resourceSpans.resource?.attributes);
        for (const scope of resourceSpans.scopeSpans ?? [])
          for (const span of scope.spans ?? [])
            receiver.spans.push({
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId || undefined,
              name: span.name,
              kind: span.kind,
              startTimeUnixNano: String(span.startTimeUnixNano),
              endTimeUnixNano: String(span.endTimeUnixNano),
              attributes: attributesOf(span.attributes),
              status: span.status ?? {},
              events: (span.events ?? []).map((e: any) => ({
                name: e.name,
                attributes: attributesOf(e.attributes),
              })),
              serviceName: resource['service.name'],
            });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  receiver.close = () => new Promise((resolve) => server.close(() => resolve()));
  return receiver;
}

export interface GatewayProcess {
  url: string;
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** SIGTERM, and wait until it exited (its spans flushed on the way out). */
  stop(): Promise<void>;
}

/** `switchboard serve` on port 0 with the given YAML, the module probe preloaded, spans exported quickly; `env`
 * adds to the environment. */
export async function startGatewayProcess(
  yaml: string,
  env: Record<string, string> = {},
): Promise<GatewayProcess> {
  const file = path.join(makeTempDir('tracing-'), 'gateway.yaml');
  writeFileSync(file, yaml);
  const child = spawn(
    process.execPath,
    [
      '--require',
      PROBE,
      '--import',
      'tsx',
      path.join(ROOT, 'src/cli.ts'),
      'serve',
      '--config',
      file,
      '--port',
      '0',
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, OTEL_BSP_SCHEDULE_DELAY: '50', ...env },
    },
  );
  let seen = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => (seen += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const onData = () => {
      const match = /listening on (\S+)/.exec(seen);
      if (match) resolve(match[1]);
    };
    child.stderr.on('data', onData);
    void exited.then(() => reject(new Error(`gateway exited: ${seen}`)));
  });
  return {
    url,
    stderr: () => seen,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The OpenTelemetry module files the process reported loading as it exited. */
export function loadedOtelModules(stderr: string): string[] {
  const match = /opentelemetry modules loaded: (\[.*\])/.exec(stderr);
  if (!match) throw new Error(`no module report in: ${stderr}`);
  return JSON.parse(match[1]) as string[];
}
