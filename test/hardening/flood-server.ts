// A real MCP server (SDK, stdio) that floods: `flood` sends `count` log notifications of `size` bytes, tied
// to the call (they go to the POST's SSE answer) or, with `later: true`, after answering (the GET stream).
// `big` answers with a large result. `sent` tells how many went out, so a test knows when a flood is over.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import {
  CallToolRequestSchema,
  ListToolsRequestSchema,
  SetLevelRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';

const server = new Server({ name: 'flood', version: '1.0.0' }, { capabilities: { tools: {}, logging: {} } });
let sent = 0;
let running = false;

server.setRequestHandler(ListToolsRequestSchema, () => ({
  tools: [
    { name: 'flood', description: 'Floods log notifications', inputSchema: { type: 'object' } },
    {
      name: 'sent',
      description: 'Notifications sent so far, and whether a flood runs',
      inputSchema: { type: 'object' },
    },
    { name: 'echo', description: 'Echoes text', inputSchema: { type: 'object' } },
    { name: 'big', description: 'Answers with `size` bytes of text', inputSchema: { type: 'object' } },
  ],
}));
server.setRequestHandler(SetLevelRequestSchema, () => ({}));
server.setRequestHandler(CallToolRequestSchema, async (req, extra) => {
  const a = (req.params.arguments ?? {}) as Record<string, unknown>;
  const text = (value: string) => ({ content: [{ type: 'text' as const, text: value }] });
  switch (req.params.name) {
    case 'flood': {
      const count = Number(a.count ?? 1000);
      const data = 'x'.repeat(Number(a.size ?? 1024));
      const send = (notify: (n: object) => Promise<void>, signal?: AbortSignal) => async () => {
        running = true;
        for (let i = 0; i < count && !signal?.aborted; i++) {
          await notify({ method: 'notifications/message', params: { level: 'info', data: `${i} ${data}` } });
          sent++;
        }
        running = false;
      };
      if (a.later) {
        setTimeout(
          send((n) => server.notification(n as never)),
          10,
        );
        return text('scheduled');
      }
      await send((n) => extra.sendNotification(n as never), extra.signal)();
      return text(`flooded ${count}`);
    }
    case 'sent':
      return text(JSON.stringify({ sent, running }));
    case 'echo':
      return text(String(a.text));
    case 'big':
      return text('y'.repeat(Number(a.size ?? 1024)));
    default:
      throw new Error(`unknown tool ${req.params.name}`);
  }
});

await server.connect(new StdioServerTransport());
