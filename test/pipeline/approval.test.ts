// Human approval end to end: a real gateway, the journaling fixture upstream, and real SDK clients as the hosts
// whose users answer the elicitation: one accepts (the upstream gets the call), one declines, one never answers
// (timeout), one cancels its call while the question is open, one has no elicitation capability, and a principal
// the rule's when: exempts is never asked. A refused call never reaches the upstream; each answer is one decision.
import type { IncomingHttpHeaders } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  ElicitRequestSchema,
  type ClientCapabilities,
  type ElicitRequest,
  type ElicitResult,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/gateway/config.js';
import { createLogger } from '../../src/gateway/logger.js';
import { buildGateway } from '../../src/gateway/server.js';
import type { Principal } from '../../src/policy/types.js';
import { ROOT, waitFor } from '../helpers/gateway.js';
import { visibilityStdio } from './visibility-helpers.js';

const POLICY = {
  default: 'allow',
  rules: [
    { name: 'no-add', deny: { tools: ['v__add_tool'] } },
    {
      name: 'confirm-echo',
      approve: { tools: ['v__echo', 'v__add_tool'], timeout: '20s' },
      when: "principal.subject != 'break-glass'",
    },
    { name: 'quick-secret', approve: { tools: ['v__secret'], timeout: '300ms' } },
  ],
};

function authenticate(headers: IncomingHttpHeaders): Principal {
  return { subject: String(headers['x-test-subject'] ?? 'anonymous'), groups: [], scopes: [], via: 'apiKey' };
}

type Answer = (request: ElicitRequest, signal: AbortSignal) => Promise<ElicitResult>;

/** A host whose requests claim `subject`; with `answer`, it declares form elicitation and answers with it. */
async function host(url: string, subject: string, answer?: Answer) {
  const asked: ElicitRequest['params'][] = [];
  const capabilities: ClientCapabilities = answer ? { elicitation: { form: {} } } : {};
  const client = new Client({ name: `host-${subject}`, version: '1.0.0' }, { capabilities });
  if (answer)
    client.setRequestHandler(ElicitRequestSchema, (request, extra) => {
      asked.push(request.params);
      return answer(request, extra.signal);
    });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { 'x-test-subject': subject } },
    }),
  );
  return { client, asked };
}

const accept: Answer = async () => ({ action: 'accept', content: { approve: true } });
const decline: Answer = async () => ({ action: 'decline' });
/** Never answers; resolves `withdrawn` when the gateway withdraws the question. */
function hanging() {
  let withdrawn = false;
  const answer: Answer = (_, signal) =>
    new Promise((_resolve, reject) =>
      signal.addEventListener('abort', () => {
        withdrawn = true;
        reject(new Error('withdrawn'));
      }),
    );
  return { answer, withdrawn: () => withdrawn };
}

const textOf = (result: any) => (result.content as { text: string }[])[0].text;

describe('approval through a real gateway', () => {
  const upstream = visibilityStdio('v');
  const logLines: any[] = [];
  const clients: Client[] = [];
  let url: string;
  let close: () => Promise<unknown>;
  beforeAll(async () => {
    const config = parseConfig({ upstreams: { v: upstream.entry }, policy: POLICY }, { baseDir: ROOT });
    const log = createLogger('info', {
      destination: { write: (line: string) => void logLines.push(JSON.parse(line)) },
    });
    const app = await buildGateway(config, { log, authenticate });
    url = `${await app.listen({ host: '127.0.0.1', port: 0 })}/mcp`;
    close = () => app.close();
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
  });
  afterAll(() => close?.());

  const connect = async (subject: string, answer?: Answer) => {
    const connected = await host(url, subject, answer);
    clients.push(connected.client);
    return connected;
  };
  const calls = (tool: string) =>
    upstream
      .journal()
      .split('\n')
      .filter((line) => line === `tools/call ${tool}`);
  const decisions = () =>
    logLines.filter((line) => line.msg === 'policy decision').map((line) => line.decision);

  it('asks the user, and a yes lets the call reach the upstream', async () => {
    logLines.length = 0;
    const before = calls('echo').length;
    const { client, asked } = await connect('alice', accept);
    const result = await client.callTool({ name: 'v__echo', arguments: { text: 'hello' } });
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toBe('echo of v');
    expect(calls('echo')).toHaveLength(before + 1);
    expect(asked).toHaveLength(1);
    expect(asked[0].mode).toBe('form');
    expect(asked[0].message).toContain('Tool: v__echo (upstream "v")');
    expect(asked[0].message).toContain('  text: "hello"');
    expect(decisions()).toEqual([
      expect.objectContaining({
        subject: 'alice',
        item: 'v__echo',
        rule: 'confirm-echo',
        outcome: 'approved',
      }),
    ]);
  });

  it('a no is a refusal that says so, and the upstream is never called', async () => {
    logLines.length = 0;
    const before = calls('echo').length;
    const { client, asked } = await connect('bob', decline);
    const result = await client.callTool({ name: 'v__echo', arguments: {} });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe(
      'Not run: the user declined the call of v__echo (approval required by rule "confirm-echo").',
    );
    expect(asked).toHaveLength(1);
    expect(calls('echo')).toHaveLength(before);
    expect(decisions()).toEqual([expect.objectContaining({ subject: 'bob', outcome: 'declined' })]);
  });

  it('no answer within the timeout is a refusal, and the upstream is never called', async () => {
    logLines.length = 0;
    const { answer, withdrawn } = hanging();
    const { client, asked } = await connect('carol', answer);
    const result = await client.callTool({ name: 'v__secret', arguments: {} });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe(
      'Not run: no answer to the approval request for v__secret within 300ms (approval required by rule "quick-secret").',
    );
    expect(asked).toHaveLength(1);
    expect(calls('secret')).toHaveLength(0);
    expect(decisions()).toEqual([expect.objectContaining({ rule: 'quick-secret', outcome: 'timeout' })]);
    await waitFor(() => withdrawn());
  });

  it('a client without elicitation gets a clear refusal, never a silent allow', async () => {
    logLines.length = 0;
    const before = calls('echo').length;
    const { client } = await connect('dave');
    const sent: string[] = [];
    client.fallbackRequestHandler = async (request) => {
      sent.push(request.method);
      return {};
    };
    const result = await client.callTool({ name: 'v__echo', arguments: {} });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain(
      "Not run: v__echo needs a user's approval and this client cannot be asked: it does not support form elicitation",
    );
    expect(calls('echo')).toHaveLength(before);
    expect(decisions()).toEqual([expect.objectContaining({ subject: 'dave', outcome: 'unsupported' })]);
    expect(sent).toEqual([]);
  });

  it('a principal the when: exempts is never asked, and the call goes through', async () => {
    logLines.length = 0;
    const before = calls('echo').length;
    const { client, asked } = await connect('break-glass', decline);
    const result = await client.callTool({ name: 'v__echo', arguments: {} });
    expect(result.isError).toBeFalsy();
    expect(asked).toHaveLength(0);
    expect(calls('echo')).toHaveLength(before + 1);
    expect(decisions()).toEqual([]);
  });

  it('cancelling the call while the question is open ends the wait and withdraws the question', async () => {
    logLines.length = 0;
    const before = calls('echo').length;
    const { answer, withdrawn } = hanging();
    const { client, asked } = await connect('erin', answer);
    const controller = new AbortController();
    const pending = client.callTool({ name: 'v__echo', arguments: {} }, undefined, {
      signal: controller.signal,
    });
    await waitFor(() => asked.length === 1);
    controller.abort('changed my mind');
    await expect(pending).rejects.toThrow();
    await waitFor(() => withdrawn());
    await waitFor(() => decisions().length === 1);
    expect(decisions()).toEqual([expect.objectContaining({ subject: 'erin', outcome: 'withdrawn' })]);
    expect(calls('echo')).toHaveLength(before);
  });

  it('approve allows nothing by itself: a denied tool stays unknown and nobody is asked', async () => {
    const { client, asked } = await connect('alice', accept);
    await expect(client.callTool({ name: 'v__add_tool', arguments: {} })).rejects.toMatchObject({
      code: -32602,
    });
    expect(asked).toHaveLength(0);
    expect(calls('add_tool')).toHaveLength(0);
  });
});
