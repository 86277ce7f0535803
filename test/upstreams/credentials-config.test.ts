// upstreams.<name>.auth at config load: only HTTP upstreams take credentials (a process gets its secrets
// through env), and an issuer must be https:// except on loopback.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/gateway/config.js';
import { basicStdio } from '../helpers/gateway.js';

const clientCredentials = (issuer: string) => ({
  clientCredentials: { issuer, clientId: 'gw', clientSecret: 'secret-value-0123456789' },
});

describe('upstream credentials in the config', () => {
  const refused: [string, Record<string, unknown>, RegExp][] = [
    [
      'auth on a stdio upstream',
      { files: { ...basicStdio('x'), auth: clientCredentials('https://idp.example.com') } },
      /upstreams\.files\.auth: credentials are obtained for HTTP upstreams only; give a stdio upstream its secrets through env/,
    ],
    [
      'auth on a built-in upstream',
      { docs: { builtin: 'docs', root: '.', auth: clientCredentials('https://idp.example.com') } },
      /upstreams\.docs\.auth: credentials are obtained for HTTP upstreams only/,
    ],
    [
      'a plain-http issuer off loopback',
      { crm: { url: 'https://crm.example.com/mcp', auth: clientCredentials('http://idp.example.com') } },
      /upstreams\.crm\.auth\.clientCredentials\.issuer: an issuer must be https:\/\//,
    ],
  ];
  for (const [name, upstreams, message] of refused) {
    it(`refuses ${name} at load`, () => {
      expect(() => parseConfig({ upstreams })).toThrow(message);
    });
  }

  it('accepts an https issuer, and plain http on loopback', () => {
    for (const issuer of [
      'https://idp.example.com/realms/acme',
      'http://127.0.0.1:9999',
      'http://localhost:1',
    ]) {
      const config = parseConfig({
        upstreams: { crm: { url: 'https://crm.example.com/mcp', auth: clientCredentials(issuer) } },
      });
      expect(config.upstreams.crm.auth?.clientCredentials?.issuer).toBe(issuer);
    }
  });
});
