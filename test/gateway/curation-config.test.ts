// The `tools:` curation block of an upstream at config load: what it accepts, and the exact message (with the
// path of the bad key) for each way it can be wrong.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/gateway/config.js';

const parse = (tools: unknown) => parseConfig({ upstreams: { crm: { command: 'crm-server', tools } } });

describe('tools curation config', () => {
  it('accepts every curation key, keyed by the upstream’s own tool names', () => {
    const tools = {
      allow: ['*_customer'],
      rename: { find_customer: 'lookup', delete_customer: 'remove.v2-final' },
      describe: { find_customer: 'Looks a customer up' },
      hideArgs: { find_customer: ['debug'] },
      fixArgs: { find_customer: { tenant: 'acme', options: { depth: 2, tags: ['a'] } } },
    };
    expect(parse(tools).upstreams.crm.tools).toEqual(tools);
  });

  const CASES: [string, unknown, string][] = [
    [
      'two tools renamed to the same name',
      { rename: { find_customer: 'lookup', search: 'lookup' } },
      'upstreams.crm.tools.rename.search: "search" and "find_customer" are both renamed to "lookup"',
    ],
    [
      'a new name with a space',
      { rename: { find_customer: 'find customer' } },
      'upstreams.crm.tools.rename.find_customer: a tool name: 1-128 of A-Z a-z 0-9 _ - . (no "..")',
    ],
    [
      'a new name with a slash',
      { rename: { find_customer: 'crm/find' } },
      'upstreams.crm.tools.rename.find_customer: a tool name: 1-128 of A-Z a-z 0-9 _ - . (no "..")',
    ],
    [
      'a new name with a run of dots',
      { rename: { find_customer: 'a..b' } },
      'upstreams.crm.tools.rename.find_customer: a tool name: 1-128 of A-Z a-z 0-9 _ - . (no "..")',
    ],
    [
      'an empty new name',
      { rename: { find_customer: '' } },
      'upstreams.crm.tools.rename.find_customer: a tool name: 1-128 of A-Z a-z 0-9 _ - . (no "..")',
    ],
    [
      'a new name that is not a string',
      { rename: { find_customer: 7 } },
      'upstreams.crm.tools.rename.find_customer: expected string, got number',
    ],
    [
      'rename as a list',
      { rename: ['find_customer'] },
      'upstreams.crm.tools.rename: expected mapping, got array',
    ],
    [
      'an empty description',
      { describe: { find_customer: '' } },
      'upstreams.crm.tools.describe.find_customer: Too small: expected string to have >=1 characters',
    ],
    [
      'hidden arguments as one string',
      { hideArgs: { find_customer: 'debug' } },
      'upstreams.crm.tools.hideArgs.find_customer: expected array, got string',
    ],
    [
      'no hidden arguments',
      { hideArgs: { find_customer: [] } },
      'upstreams.crm.tools.hideArgs.find_customer: Too small: expected array to have >=1 items',
    ],
    [
      'fixed arguments as a list',
      { fixArgs: { find_customer: ['tenant'] } },
      'upstreams.crm.tools.fixArgs.find_customer: expected mapping, got array',
    ],
    ['a misspelt key', { hideArg: { find_customer: ['debug'] } }, 'upstreams.crm.tools.hideArg: unknown key'],
  ];
  for (const [what, tools, message] of CASES) {
    it(`refuses ${what}`, () => {
      expect(() => parse(tools)).toThrow(
        expect.objectContaining({ kind: 'config', message: `config: ${message}` }),
      );
    });
  }
});
