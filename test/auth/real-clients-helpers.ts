// Shared by the real-client tests: a real OpenID provider and a gateway listening on a port known before it
// starts, since `auth.resource` (the audience clients ask tokens for) must be the gateway's own /mcp URL.
import { createServer, type AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { parseConfig } from '../../src/gateway/config.js';
import { createLogger } from '../../src/gateway/logger.js';
import { buildGateway } from '../../src/gateway/server.js';
import { ROOT, basicStdio } from '../helpers/gateway.js';
import { startOidcProvider, type OidcFixture } from '../fixtures/oidc/provider.js';

export interface AuthorizedGateway {
  idp: OidcFixture;
  app: FastifyInstance;
  /** The gateway's /mcp URL, which is also its `auth.resource`. */
  url: string;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** A provider, and a gateway with JWT auth from it (scope mcp:tools required) in front of one stdio upstream. */
export async function startAuthorizedGateway(): Promise<AuthorizedGateway> {
  const idp = await startOidcProvider();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/mcp`;
  const config = parseConfig(
    {
      auth: { resource: url, requiredScopes: ['mcp:tools'], jwt: { issuer: idp.issuer } },
      upstreams: { a: basicStdio('a') },
    },
    { baseDir: ROOT },
  );
  const app = await buildGateway(config, { log: createLogger(process.env.TEST_LOG_LEVEL ?? 'silent') });
  await app.listen({ host: '127.0.0.1', port });
  return {
    idp,
    app,
    url,
    close: async () => {
      await app.close();
      await idp.close();
    },
  };
}
