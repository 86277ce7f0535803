// The benchmark's upstream: a tiny SDK-built MCP server with `echo` (returns the text it gets) and `payload`
// (returns a 100 KB text), served over stdio (--stdio) or the SDK's own Streamable HTTP transport (--http).
// `--tools N` adds N trivial tools, for the tools/list cell. Run compiled (see bench/lib/compile.ts).
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

const PAYLOAD = 'x'.repeat(100 * 1024);

interface Options {
  mode: 'stdio' | 'http';
  port: number;
  extraTools: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { mode: 'stdio', port: 0, extraTools: 0 };
  let modeSeen = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined || !/^\d+$/.test(next))
        throw new Error(`${arg} needs a whole number, got ${next}`);
      return Number(next);
    };
    if (arg === '--stdio' || arg === '--http') {
      if (modeSeen) throw new Error('give one of --stdio or --http');
      options.mode = arg === '--stdio' ? 'stdio' : 'http';
      modeSeen = true;
    } else if (arg === '--port') options.port = value();
    else if (arg === '--tools') options.extraTools = value();
    else throw new Error(`unknown argument ${arg} (usage: --stdio | --http [--port N]; --tools N)`);
  }
  return options;
}

function buildServer(extraTools: number): McpServer {
  const server = new McpServer({ name: 'bench-upstream', version: '1.0.0' });
  server.registerTool(
    'echo',
    { description: 'Returns the text it is given.', inputSchema: { text: z.string() } },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  server.registerTool('payload', { description: 'Returns a 100 KB text.' }, async () => ({
    content: [{ type: 'text', text: PAYLOAD }],
  }));
  for (let i = 0; i < extraTools; i++) {
    server.registerTool(
      `tool_${i}`,
      {
        description: `Trivial tool number ${i}; returns its number.`,
        inputSchema: { value: z.string().optional() },
      },
      async () => ({ content: [{ type: 'text', text: String(i) }] }),
    );
  }
  return server;
}

/** Stateful Streamable HTTP: one transport and one McpServer per session, as the SDK's examples do. */
function serveHttp(options: Options): void {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const httpServer = http.createServer(async (req, res) => {
    try {
      if (!req.url?.startsWith('/mcp')) {
        res.writeHead(404).end();
        return;
      }
      const sessionId = req.headers['mcp-session-id'];
      const existing = typeof sessionId === 'string' ? transports.get(sessionId) : undefined;
      if (existing) {
        await existing.handleRequest(req, res);
        return;
      }
      if (sessionId !== undefined) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }),
        );
        return;
      }
      if (req.method !== 'POST') {
        res.writeHead(400).end();
        return;
      }
      // A POST without a session must be initialize; the transport itself rejects anything else.
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => void transports.set(id, transport),
        onsessionclosed: (id) => void transports.delete(id),
      });
      transport.onclose = () => {
        if (transport.sessionId) transports.delete(transport.sessionId);
      };
      await buildServer(options.extraTools).connect(transport);
      await transport.handleRequest(req, res);
    } catch (error) {
      console.error('request failed:', error);
      if (!res.headersSent) res.writeHead(500).end();
    }
  });
  httpServer.keepAliveTimeout = 60_000;
  httpServer.listen(options.port, '127.0.0.1', () => {
    const address = httpServer.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    console.error(`listening on http://127.0.0.1:${port}/mcp`);
  });
}

const options = parseArgs(process.argv.slice(2));
if (options.mode === 'http') serveHttp(options);
else await buildServer(options.extraTools).connect(new StdioServerTransport());
