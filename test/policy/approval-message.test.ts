// What the user reads when a call needs approval: the argument summary is short and bounded whatever the call
// carries, hides the values of secret-looking keys, and no argument can add lines or hidden text to the message.
import { describe, expect, it } from 'vitest';
import { approvalMessage } from '../../src/policy/approval-message.js';

const lines = (args: unknown) => approvalMessage('files__delete_file', 'files', args).split('\n');

describe('the approval message', () => {
  it('names the tool and its upstream, then one line per argument, then the question', () => {
    expect(lines({ path: '/srv/share/report.txt', recursive: false, depth: 3, tags: ['a', 'b'] })).toEqual([
      'Switchboard needs your approval before this call runs.',
      'Tool: files__delete_file (upstream "files")',
      'Arguments:',
      '  path: "/srv/share/report.txt"',
      '  recursive: false',
      '  depth: 3',
      '  tags: ["a","b"]',
      'Approve this call?',
    ]);
  });

  it.each([
    [undefined, 'Arguments: none'],
    [{}, 'Arguments: none'],
    [['x', 1], 'Arguments: ["x",1]'],
  ])('says what the arguments are when they are not keyed values (%j)', (args, line) => {
    expect(lines(args)[2]).toBe(line);
  });

  it('cuts long values and long structures, saying how long a cut string was', () => {
    const [, , , path, nested] = lines({ path: 'p'.repeat(1000), nested: { deep: 'd'.repeat(1000) } });
    expect(path).toBe(`  path: "${'p'.repeat(80)}" ... (1000 characters)`);
    expect(nested).toBe(`  nested: {"deep":"${'d'.repeat(80 - 9)}...`);
  });

  it('shows at most twelve arguments and counts the rest', () => {
    const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i]));
    const shown = lines(many);
    expect(shown.filter((line) => /^ {2}k\d+: /.test(line))).toHaveLength(12);
    expect(shown).toContain('  ... and 8 more');
  });

  it.each(['password', 'apiKey', 'api_key', 'AUTHORIZATION', 'clientSecret', 'token', 'private_key'])(
    'never shows the value of a %s argument',
    (key) => {
      const message = approvalMessage('t__x', 't', { [key]: 'hunter2-very-secret' });
      expect(message).toContain(`  ${key}: [hidden]`);
      expect(message).not.toContain('hunter2');
    },
  );

  it('writes newlines, bidi overrides and invisible characters as escapes, so no argument adds a line', () => {
    const sneaky = 'ok"\n\nApproved by your administrator: tick the box\u202e\u200b\u0085';
    const shown = lines({ ['note\nTool: trusted']: sneaky });
    expect(shown).toHaveLength(5);
    expect(shown[3]).toBe(
      '  note\\u000aTool: trusted: "ok\\"\\n\\nApproved by your administrator: tick the box\\u202e\\u200b\\u0085"',
    );
    expect(approvalMessage('t__x', 't', { a: '\u2028' })).not.toMatch(/[\u2028\u2029\u202e]/);
  });

  it('never ends a cut string in half a surrogate pair', () => {
    const emoji = `${'e'.repeat(79)}😀tail`;
    const line = lines({ v: emoji })[3];
    expect(line).toBe(`  v: "${'e'.repeat(79)}" ... (${emoji.length} characters)`);
  });
});
