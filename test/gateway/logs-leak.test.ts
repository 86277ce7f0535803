// Issue 14 point 5: no secret in any output the gateway writes. Tokens are planted in request headers
// (Authorization, Cookie, a custom API-key header), in tool arguments, in a `${VAR}` the config expands from
// the environment (into an env entry whose name says nothing), and in an upstream's stderr (a bearer header
// and private keys printed over several lines); calls run through a real gateway at `debug` and every line of
// every output is searched for every token. OUTPUTS is the list of places searched: add audit records and
// exported spans to it as they land.
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/gateway/config.js';
import { createLogger } from '../../src/gateway/logger.js';
import { buildGateway } from '../../src/gateway/server.js';
import { INIT, rawPost, ROOT, TSX, waitFor } from '../helpers/gateway.js';

const STDERR_SERVER = path.join(ROOT, 'test/fixtures/servers/stderr-server.ts');

const API_KEY = 'Ak7qPLANTEDapikeyFromEnv0815';
const WRONG_BEARER = 'Wb3xPLANTEDwrongbearer4471';
const COOKIE = 'Co5kPLANTEDcookie9034';
const CUSTOM_KEY = 'Cu2sPLANTEDcustomkey6618';
const ARGUMENT = 'Ar9gPLANTEDargument2207';
const ARGUMENT_KEY = 'Ar4kPLANTEDargumentkey5519';
const ENV_VALUE = 'Ev6vPLANTEDenvvalue3302';
const STDERR_BEARER = 'Sb8bPLANTEDstderrbearer1176';
/** Sits in every body line of the private keys the upstream prints. */
const PEM_MARKER = 'PLANTEDpemBODY';
const TOKENS = [
  API_KEY,
  WRONG_BEARER,
  COOKIE,
  CUSTOM_KEY,
  ARGUMENT,
  ARGUMENT_KEY,
  ENV_VALUE,
  STDERR_BEARER,
  PEM_MARKER,
];

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

/** Every output the gateway writes, by name, each as lines. */
type Outputs = Record<string, () => string[] | Promise<string[]>>;

/** Each line of each output that holds one of `tokens`, as `output: token: line`. */
async function leaks(outputs: Outputs, tokens: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (const [name, read] of Object.entries(outputs)) {
    for (const line of await read()) {
      for (const token of tokens) if (line.includes(token)) found.push(`${name}: ${token}: ${line}`);
    }
  }
  return found;
}

async function plantedGateway() {
  const lines: string[] = [];
  const log = createLogger('debug', { destination: { write: (line: string) => void lines.push(line) } });
  const config = parseConfig(
    {
      auth: {
        resource: 'http://127.0.0.1/mcp',
        apiKeys: [{ subject: 'tester', key: '${SB_LOGS_API_KEY}' }],
      },
      upstreams: {
        leaky: {
          command: process.execPath,
          args: ['--import', TSX, STDERR_SERVER],
          // GH says nothing about being a credential: only its coming from `${...}` marks it.
          env: { GH: '${SB_LOGS_GH}', STDERR_TOKEN: STDERR_BEARER, PEM_MARKER },
        },
      },
    },
    { baseDir: ROOT, env: { ...process.env, SB_LOGS_API_KEY: API_KEY, SB_LOGS_GH: ENV_VALUE } },
  );
  const app = await buildGateway(config, { log });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  cleanups.push(() => app.close());
  const outputs: Outputs = { log: () => lines };
  return { url: `${address}/mcp`, lines, outputs };
}

describe('no secret in any log line', () => {
  it('keeps planted headers, arguments, ${VAR} values and upstream stderr out of every line at debug', async () => {
    const gw = await plantedGateway();
    const headers = {
      authorization: `Bearer ${API_KEY}`,
      cookie: `sid=${COOKIE}; theme=dark`,
      'x-custom-key': CUSTOM_KEY,
    };
    const client = new Client({ name: 'logs-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url), { requestInit: { headers } }));
    cleanups.push(() => client.close());
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId!;

    const echoed = await client.callTool({
      name: 'leaky__echo',
      arguments: { text: ARGUMENT, apiKey: ARGUMENT_KEY },
    });
    expect(echoed.content).toEqual([{ type: 'text', text: ARGUMENT }]);
    const unknown = await client
      .callTool({ name: 'leaky__nope', arguments: { token: ARGUMENT } })
      .catch((e: Error) => e);
    expect(String(unknown)).toContain('leaky__nope');
    expect(await client.callTool({ name: 'leaky__leak', arguments: {} })).toMatchObject({
      content: [{ type: 'text', text: 'leaked' }],
    });
    // A refused credential.
    const refused = await rawPost(gw.url, INIT, { authorization: `Bearer ${WRONG_BEARER}` });
    expect(refused.status).toBe(401);
    await waitFor(() => gw.lines.some((line) => line.includes('leak done')));

    // The test looked where the secrets would be: the stderr lines, the request lines, the session hash.
    const all = gw.lines.join('');
    expect(all).toContain('"msg":"upstream stderr"');
    expect(all).toContain('"upstream":"leaky"');
    expect(all).toContain('starting with GH=[redacted]');
    expect(all).toContain('Authorization: [redacted]');
    expect(all).toContain('"msg":"request"');
    expect(all).toContain('leaky__echo');
    expect(all).not.toContain(sessionId);
    expect(await leaks(gw.outputs, TOKENS)).toEqual([]);
    // The keys' END lines are hidden with their bodies; their BEGIN lines are shown redacted.
    expect(all).not.toContain('-----END');
    for (const line of gw.lines) expect(() => JSON.parse(line)).not.toThrow();
  });

  it('keeps the body of a private key out of the stderr tail that explains a failed start', async () => {
    // The last lines before the exit are key lines; the BEGIN line is further up, out of the five-line tail.
    const script = [
      `const body = [1, 2, 3, 4, 5, 6].map((n) => 'MIIEvQIBADANBgkqhkiG9w0B${PEM_MARKER}' + n + 'AQEFAASCBKcw');`,
      `console.error(['loading key', '-----BEGIN PRIVATE KEY-----', ...body, '-----END PRIVATE KEY-----'].join('\\n'));`,
      `setTimeout(() => process.exit(3), 50);`,
    ].join('\n');
    const lines: string[] = [];
    const log = createLogger('debug', { destination: { write: (line: string) => void lines.push(line) } });
    const config = parseConfig(
      { upstreams: { keyed: { command: process.execPath, args: ['-e', script] } } },
      { baseDir: ROOT },
    );
    const app = await buildGateway(config, { log });
    const address = await app.listen({ host: '127.0.0.1', port: 0 });
    cleanups.push(() => app.close());
    const readyz = await (await fetch(`${address}/readyz`)).text();
    const state = JSON.parse(readyz) as { upstreams: { keyed: { state: string; error: string } } };
    expect(state.upstreams.keyed.state).toBe('down');
    expect(state.upstreams.keyed.error).toContain('exited with code 3');
    expect(state.upstreams.keyed.error).toContain('loading key');
    const outputs: Outputs = { log: () => lines, readyz: () => [readyz] };
    expect(await leaks(outputs, [PEM_MARKER])).toEqual([]);
  });
});
