// `switchboard stdio` has no HTTP app: with `telemetry.metrics.listen` its metrics are served on that listener,
// counting the calls the process-spawning host makes over stdin/stdout.
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { BASIC_SERVER, ROOT, TSX } from '../helpers/gateway.js';
import { makeTempDir, useHarness } from '../helpers/harness.js';
import { parsePrometheusText, sampleValue } from '../helpers/prom-text.js';

const h = useHarness();

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('metrics over stdio', () => {
  it('serves the stdio front’s calls on telemetry.metrics.listen', async () => {
    const port = await freePort();
    const upstream = JSON.stringify({
      command: process.execPath,
      args: ['--import', TSX, BASIC_SERVER, '--stdio', '--label', 'a'],
    });
    const file = path.join(makeTempDir('metrics-stdio-'), 'gateway.yaml');
    writeFileSync(
      file,
      `upstreams:\n  a: ${upstream}\ntelemetry:\n  metrics: { listen: { host: 127.0.0.1, port: ${port} } }\n`,
    );
    const client = new Client({ name: 'host', version: '1' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: ['--import', 'tsx', path.join(ROOT, 'src/cli.ts'), 'stdio', '--config', file],
        cwd: ROOT,
        stderr: 'pipe',
      }),
    );
    h.defer(() => client.close());
    await client.callTool({ name: 'a__echo', arguments: { text: 'over stdio' } });
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect(response.status).toBe(200);
    const families = parsePrometheusText(await response.text());
    expect(
      sampleValue(families, 'switchboard_requests_total', {
        method: 'tools/call',
        upstream: 'a',
        tool: 'a__echo',
      }),
    ).toBe(1);
    expect(sampleValue(families, 'switchboard_sessions_open')).toBe(1);
  });
});
