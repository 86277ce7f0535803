// Shared by the upstream-credential tests: an SDK client that presents a bearer token to the gateway, and the
// text of a tool result.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

/** The SDK's own client, sending `Authorization: Bearer <token>` on every request to the gateway; its
 * transport is at `client.transport` (terminateSession() ends the gateway session with a DELETE). */
export async function clientWithToken(url: string, token: string): Promise<Client> {
  const client = new Client({ name: 'credentials-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return client;
}

/** Ends the client's gateway session (DELETE /mcp), as a host does when it is done. */
export async function endSession(client: Client): Promise<void> {
  await (client.transport as StreamableHTTPClientTransport).terminateSession();
}

/** The first text content of a tool result. */
export function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.find((item) => item.type === 'text')?.text ?? '';
}
