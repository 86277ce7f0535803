// The endpoints policy as a pure function (a table of principals and targets), and the `endpoints:` config
// errors a user sees.
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/errors.js';
import { parseConfig } from '../../src/gateway/config.js';
import { createEndpointsPolicy } from '../../src/policy/endpoints.js';
import type { Principal, Target, TargetKind } from '../../src/policy/types.js';

const names = {
  separator: '__',
  prefixes: new Map([
    ['pd', 'pd'],
    ['gf', 'gf'],
    ['flat', ''],
  ]),
};
const policy = createEndpointsPolicy(
  {
    oncall: { tools: ['pd__*', 'gf__query'], resources: ['runbook://*'] },
    prompts: { prompts: ['gf__*'] },
    flat: { tools: ['lookup'] },
  },
  names,
);
const who = (endpoint?: string): Principal => ({
  subject: 'u',
  groups: [],
  scopes: [],
  via: 'apiKey',
  ...(endpoint === undefined ? {} : { endpoint }),
});
const target = (kind: TargetKind, upstream: string, name: string): Target => ({
  kind,
  upstream,
  name,
  original: name,
});

describe('endpoints policy', () => {
  it.each([
    [undefined, target('tool', 'gf', 'gf__delete'), true],
    [undefined, target('upstream', 'flat', 'flat'), true],
    ['oncall', target('tool', 'pd', 'pd__page'), true],
    ['oncall', target('tool', 'gf', 'gf__query'), true],
    ['oncall', target('tool', 'gf', 'gf__query2'), false],
    ['oncall', target('tool', 'gf', 'gf__delete'), false],
    ['oncall', target('prompt', 'gf', 'gf__summary'), false],
    ['oncall', target('resource', 'gf', 'runbook://db'), true],
    ['oncall', target('template', 'gf', 'runbook://{name}'), true],
    ['oncall', target('resource', 'gf', 'file:///etc/passwd'), false],
    ['oncall', target('upstream', 'flat', 'flat'), true], // a resource glob may name anything of it
    ['prompts', target('prompt', 'gf', 'gf__summary'), true],
    ['prompts', target('tool', 'gf', 'gf__query'), false],
    ['prompts', target('upstream', 'gf', 'gf'), true],
    ['prompts', target('upstream', 'pd', 'pd'), false],
    ['flat', target('tool', 'flat', 'lookup'), true],
    ['flat', target('upstream', 'flat', 'flat'), true],
    ['flat', target('upstream', 'pd', 'pd'), false],
    ['unknown', target('tool', 'pd', 'pd__page'), false],
    ['__proto__', target('tool', 'pd', 'pd__page'), false],
  ] as const)('endpoint %s sees %o: %s', (endpoint, item, expected) => {
    expect(policy.visible!(who(endpoint), item)).toBe(expected);
  });

  it('keys views by endpoint only', () => {
    expect(policy.viewKey!(who())).toBe('');
    expect(policy.viewKey!(who('oncall'))).toBe('endpoint:oncall');
    expect(policy.viewKey!({ ...who('oncall'), subject: 'other', groups: ['x'] })).toBe('endpoint:oncall');
    expect(policy.around).toBeUndefined();
  });
});

describe('endpoints config', () => {
  const fails = (endpoints: unknown) => {
    try {
      parseConfig({ endpoints, upstreams: {} });
    } catch (error) {
      expect(error).toBeInstanceOf(GatewayError);
      expect((error as GatewayError).kind).toBe('config');
      return (error as Error).message;
    }
    throw new Error('parsed');
  };

  it('names the bad key', () => {
    expect(fails({ 'on call': { tools: ['*'] } })).toContain('endpoint names use letters, digits, - and _');
    expect(fails({ oncall: { tools: [] } })).toMatch(
      /endpoints\.oncall\.tools: .*an empty list shows nothing; leave the key out instead/,
    );
    expect(fails({ oncall: { tool: ['*'] } })).toMatch(/endpoints\.oncall\.tool: unknown key/);
    expect(fails({ oncall: { tools: 'pd__*' } })).toMatch(/endpoints\.oncall\.tools/);
    expect(fails({ ['x'.repeat(65)]: { tools: ['*'] } })).toContain('(at most 64)');
  });

  it('accepts a valid block', () => {
    const config = parseConfig({ endpoints: { oncall: { tools: ['pd__*'] } }, upstreams: {} });
    expect(config.endpoints).toEqual({ oncall: { tools: ['pd__*'] } });
  });
});
