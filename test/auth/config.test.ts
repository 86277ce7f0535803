// The `auth:` config refuses what would weaken it, with a message naming the key: plain-http issuers off
// loopback, `none`, HS* without a long secret, a clock skew over 60s, a mode-less auth section.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/gateway/config.js';
import { ROOT } from '../helpers/gateway.js';

const RESOURCE = 'https://gw.example.test/mcp';
const parse = (auth: Record<string, unknown>) => parseConfig({ upstreams: {}, auth }, { baseDir: ROOT });
const jwt = (extra: Record<string, unknown>) => ({
  resource: RESOURCE,
  jwt: { issuer: 'https://idp.example.test', ...extra },
});

const refused: [string, Record<string, unknown>, RegExp][] = [
  ['no mode at all', { resource: RESOURCE }, /at least one of apiKeys, jwt or introspection/],
  [
    'a plain-http issuer off loopback',
    jwt({ issuer: 'http://idp.example.test' }),
    /auth\.jwt\.issuer.*https/s,
  ],
  [
    'a plain-http introspection issuer off loopback',
    { resource: RESOURCE, introspection: { issuer: 'http://10.0.0.5', clientId: 'gw', clientSecret: 's' } },
    /auth\.introspection\.issuer.*https/s,
  ],
  ['alg none', jwt({ algorithms: ['RS256', 'none'] }), /auth\.jwt\.algorithms.*none/s],
  ['HS256 without a secret', jwt({ algorithms: ['HS256'] }), /auth\.jwt\.secret.*32 bytes/s],
  ['HS256 with a 31-byte secret', jwt({ algorithms: ['HS256'], secret: 'x'.repeat(31) }), /32 bytes/],
  ['a secret without an HS algorithm', jwt({ secret: 'x'.repeat(40) }), /auth\.jwt\.secret.*HS256/s],
  ['a clock skew over 60s', jwt({ clockSkew: '61s' }), /auth\.jwt\.clockSkew.*60s/s],
  [
    'an API key with both sha256 and key',
    { resource: RESOURCE, apiKeys: [{ subject: 'a', key: 'k'.repeat(20), sha256: 'a'.repeat(64) }] },
    /exactly one/,
  ],
  ['a short API key', { resource: RESOURCE, apiKeys: [{ subject: 'a', key: 'short' }] }, /16 characters/],
];

const accepted: [string, Record<string, unknown>][] = [
  ['an https issuer', jwt({})],
  ['a plain-http issuer on 127.0.0.1', jwt({ issuer: 'http://127.0.0.1:9000' })],
  ['a plain-http issuer on localhost', jwt({ issuer: 'http://localhost:8081/realms/dev' })],
  ['HS256 with a 32-byte secret', jwt({ algorithms: ['HS256'], secret: 'x'.repeat(32) })],
  ['a clock skew of 60s', jwt({ clockSkew: '60s' })],
];

describe('auth config', () => {
  for (const [name, auth, message] of refused) {
    it(`refuses ${name}`, () => {
      expect(() => parse(auth)).toThrow(message);
    });
  }
  for (const [name, auth] of accepted) {
    it(`accepts ${name}`, () => {
      expect(parse(auth).auth?.resource).toBe(RESOURCE);
    });
  }
});
