// Pure tables for each guard kind: the path attacks of the built-in servers (traversal, encodings, symlinks out,
// a FIFO, a prefix sibling), SQL writes and side effects in both dialects, URLs judged on resolved addresses
// (private, metadata, IPv6-mapped, decimal/hex/octal spellings, userinfo tricks, names that do not resolve),
// and the small kinds (enum, pattern, maxLength, maxItems) with lists and wrong types.
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import ipaddr from 'ipaddr.js';
import { afterAll, describe, expect, it } from 'vitest';
import { compileArgumentCheck } from '../../src/policy/guards/check.js';
import { argumentGuardSchema } from '../../src/policy/guards/schema.js';
import { compileUrlGuard, nonPublic, type Lookup } from '../../src/policy/guards/url.js';
import { tempDir } from '../builtin-servers/helpers.js';

const tmp = tempDir('sb-guards-');
const root = path.join(tmp.dir, 'root');
afterAll(() => tmp.cleanup());
const write = (rel: string, text: string) => {
  mkdirSync(path.dirname(path.join(tmp.dir, rel)), { recursive: true });
  writeFileSync(path.join(tmp.dir, rel), text);
};
write('outside/secret.txt', 'secret\n');
write('root2/secret.txt', 'prefix sibling\n');
write('root/inside.txt', 'inside\n');
write('root/sub/deep.txt', 'deep\n');
symlinkSync(path.join(tmp.dir, 'outside'), path.join(root, 'link-out'));
symlinkSync(path.join(tmp.dir, 'outside', 'secret.txt'), path.join(root, 'link-file'));
symlinkSync(path.join(root, 'inside.txt'), path.join(root, 'link-inside'));
symlinkSync(path.join(tmp.dir, 'outside', 'nothing-here'), path.join(root, 'dangling'));
// sub/up -> root/sub/deeper: `sub/up/..` is root/sub to the kernel; normalised text says root/sub too.
// link-to-sub/.. : the kernel reads it as root (inside), normalisation as root too; out-up/.. climbs out.
symlinkSync(path.join(tmp.dir, 'outside'), path.join(root, 'sub', 'out'));
execFileSync('mkfifo', [path.join(root, 'fifo')]);

const guard = (raw: unknown) => argumentGuardSchema.parse(raw);
const check = (raw: unknown, lookup?: Lookup) =>
  compileArgumentCheck(guard(raw), 'test.guard', { baseDir: tmp.dir, lookup, lookupTimeoutMs: 200 });

describe('path guard', () => {
  const paths = check({ path: { roots: [root] } });
  const inRoot = (rel: string) => path.join(root, rel);
  const refused: [string, () => string, RegExp][] = [
    ['parent traversal', () => `${root}/../outside/secret.txt`, /outside the allowed roots$/],
    [
      'traversal after a real folder',
      () => `${root}/sub/../../outside/secret.txt`,
      /outside the allowed roots/,
    ],
    ['absolute path outside', () => path.join(tmp.dir, 'outside/secret.txt'), /outside the allowed roots$/],
    ['/etc/passwd', () => '/etc/passwd', /outside the allowed roots$/],
    ['prefix collision root2/', () => path.join(tmp.dir, 'root2/secret.txt'), /outside the allowed roots$/],
    ['symlink to a file outside', () => inRoot('link-file'), /through a symbolic link/],
    ['symlink to a folder outside', () => inRoot('link-out/secret.txt'), /through a symbolic link/],
    // The kernel follows sub/out before `..`: root/sub/out/../secret.txt is outside/../secret.txt = tmp/secret.txt.
    [
      '.. after a symlink out (kernel reading)',
      () => `${root}/sub/out/../../root2/secret.txt`,
      /outside|not exist/,
    ],
    ['null byte', () => `${inRoot('inside.txt')}\0../../outside/secret.txt`, /null byte/],
    ['relative path', () => 'inside.txt', /must be an absolute path/],
    ['home-relative path', () => '~/secret.txt', /must be an absolute path/],
    ['encoded traversal is a literal name', () => `${root}/%2e%2e/outside/secret.txt`, /does not exist/],
    ['FIFO', () => inRoot('fifo'), /special file/],
    ['dangling symlink', () => inRoot('dangling'), /does not exist/],
    ['missing file', () => inRoot('nope.txt'), /does not exist/],
    ['the parent of the root', () => tmp.dir, /outside the allowed roots$/],
  ];
  it.each(refused)('refuses %s', async (_name, value, reason) => {
    const refusal = await paths(value());
    expect(refusal?.kind).toBe('path');
    expect(refusal?.reason).toMatch(reason);
  });

  it.each([
    ['a file inside', () => inRoot('inside.txt')],
    ['the root itself', () => root],
    ['a nested file', () => inRoot('sub/deep.txt')],
    ['a symlink that stays inside', () => inRoot('link-inside')],
    ['.. that stays inside', () => `${root}/sub/../inside.txt`],
  ])('passes %s', async (_name, value) => {
    expect(await paths(value())).toBeUndefined();
  });

  it('the kernel reading of `link/..` counts: a symlink out followed by .. is refused although the text normalises inside', async () => {
    // Text: root/link-out/../inside.txt normalises to root/inside.txt (inside, exists). The kernel follows
    // link-out first: outside/../inside.txt, which is tmp/inside.txt (not inside the root).
    write('inside.txt', 'a file beside the root, reached by following link-out and climbing\n');
    const refusal = await paths(`${root}/link-out/../inside.txt`);
    expect(refusal?.reason).toMatch(/outside the allowed roots/);
  });

  it('allowMissing passes a new file in an inside folder, and still refuses escapes', async () => {
    const creating = check({ path: { roots: [root], allowMissing: true } });
    expect(await creating(inRoot('new.txt'))).toBeUndefined();
    expect(await creating(inRoot('new-folder/new.txt'))).toBeUndefined();
    expect((await creating(inRoot('dangling')))?.reason).toMatch(/symbolic link to nowhere/);
    expect((await creating(inRoot('link-out/new.txt')))?.reason).toMatch(/through a symbolic link/);
    expect((await creating(inRoot('new-folder/../../outside/new.txt')))?.reason).toMatch(/outside/);
    expect((await creating(path.join(tmp.dir, 'outside/new.txt')))?.reason).toMatch(/outside/);
    expect((await creating(inRoot('fifo')))?.reason).toMatch(/special file/);
  });

  it('several roots: inside any passes; relative roots resolve against the config folder', async () => {
    const two = check({ path: { roots: ['root', 'root2'] } });
    expect(await two(inRoot('inside.txt'))).toBeUndefined();
    expect(await two(path.join(tmp.dir, 'root2/secret.txt'))).toBeUndefined();
    expect((await two(path.join(tmp.dir, 'outside/secret.txt')))?.reason).toMatch(/outside/);
  });

  it('a root that does not exist stops start-up, naming the key', () => {
    expect(() => check({ path: { roots: [root, '/no/such/root'] } })).toThrow(
      /test\.guard\.path\.roots\.1: root \/no\/such\/root does not exist/,
    );
  });

  it('a list of paths is checked item by item, and a number is refused', async () => {
    expect(await paths([inRoot('inside.txt'), inRoot('sub/deep.txt')])).toBeUndefined();
    expect((await paths([inRoot('inside.txt'), '/etc/passwd']))?.reason).toBe(
      'item 1 is outside the allowed roots',
    );
    expect(await paths(42)).toEqual({ kind: 'path', reason: 'must be a string' });
    expect(await paths({ path: inRoot('inside.txt') })).toEqual({ kind: 'path', reason: 'must be a string' });
    expect(await paths(null)).toEqual({ kind: 'path', reason: 'must be a string' });
  });
});

describe('sql guard', () => {
  const cases: [string, string, RegExp][] = [
    ['stacked statements', 'SELECT 1; DROP TABLE t', /exactly one statement/],
    ['stacked after a comment', 'SELECT 1 -- x\n; DELETE FROM t', /exactly one statement/],
    ['plain DELETE', 'DELETE FROM t', /only SELECT/],
    ['UPDATE', "UPDATE t SET v = 'x'", /only SELECT/],
    [
      'write hidden in a CTE',
      'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d',
      /only reads|does not parse/,
    ],
    ['INSERT ... SELECT', 'INSERT INTO t (v) SELECT v FROM t', /only SELECT/],
    ['DROP', 'DROP TABLE t', /only SELECT/],
  ];
  const sqlite = check({ sql: { dialect: 'sqlite' } });
  const postgres = check({ sql: { dialect: 'postgres' } });

  it.each([
    ...cases,
    ['ATTACH', "ATTACH DATABASE '/tmp/sb-evil.db' AS evil", /only SELECT|does not parse/],
    ['load_extension', "SELECT load_extension('/tmp/evil.so')", /load_extension has side effects/],
    ['writefile', "SELECT writefile('/tmp/sb-evil.txt', 'x')", /writefile has side effects/],
    ['not SQL', 'this is not sql at all', /does not parse as SQLite$/],
  ] as [string, string, RegExp][])('SQLite refuses %s', async (_name, query, reason) => {
    const refusal = await sqlite(query);
    expect(refusal?.kind).toBe('sql');
    expect(refusal?.reason).toMatch(reason);
  });

  it.each([
    ...cases,
    ['pg_read_file', "SELECT pg_catalog.pg_read_file('/etc/passwd')", /pg_read_file has side effects/],
    ['dblink', "SELECT * FROM dblink('host=x', 'DELETE FROM t') AS x(a int)", /dblink has side effects/],
    ['pg_sleep', 'SELECT pg_sleep(10)', /pg_sleep has side effects/],
    ['set_config', "SELECT set_config('transaction_read_only', 'off', true)", /set_config/],
    ['COPY TO PROGRAM', "COPY (SELECT 1) TO PROGRAM 'id'", /CopyStmt/],
    ['SELECT INTO', 'SELECT * INTO t2 FROM t', /creates a table/],
    ['FOR UPDATE', 'SELECT * FROM t FOR UPDATE', /row locks/],
    [
      'a parse error, not quoting the query',
      "SELECT 'hunter2-secret' FROM",
      /^does not parse as PostgreSQL$/,
    ],
  ] as [string, string, RegExp][])('PostgreSQL refuses %s', async (_name, query, reason) => {
    const refusal = await postgres(query);
    expect(refusal?.kind).toBe('sql');
    expect(refusal?.reason).toMatch(reason);
    expect(refusal?.reason).not.toContain('hunter2');
  });

  it('passes one plain read in each dialect', async () => {
    const read = 'WITH x AS (SELECT id FROM t) SELECT count(*) FROM x JOIN t USING (id)';
    expect(await sqlite(read)).toBeUndefined();
    expect(await postgres(read)).toBeUndefined();
    expect(await postgres('SELECT 1;')).toBeUndefined();
  });
});

/** A resolver answering from a table: a name not in it does not resolve. */
const table = (answers: Record<string, string[]>): Lookup => {
  return async (host) => {
    const addresses = answers[host];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address }));
  };
};
const resolver = table({
  'good.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
  'api.example.com': ['93.184.215.15'],
  'metadata.example.com': ['169.254.169.254'],
  'internal.example.com': ['10.1.2.3'],
  'mixed.example.com': ['93.184.215.14', '192.168.1.1'],
  'mapped.example.com': ['::ffff:127.0.0.1'],
  'nat64.example.com': ['64:ff9b::a9fe:a9fe'],
  'ula.example.com': ['fd12:3456::1'],
  'linklocal6.example.com': ['fe80::1'],
  'loop6.example.com': ['::1'],
  'cgnat.example.com': ['100.64.0.1'],
  'empty.example.com': [],
});

describe('url guard', () => {
  const urls = check({ url: {} }, resolver);
  const refused: [string, string, RegExp][] = [
    [
      'http when only https is allowed',
      'http://good.example.com/',
      /scheme that is not allowed \(allowed: https\)/,
    ],
    ['file URL', 'file:///etc/passwd', /scheme/],
    ['a name resolving to the metadata address', 'https://metadata.example.com/', /link-local/],
    ['a name resolving to a private address', 'https://internal.example.com/', /private address/],
    ['one private address among public ones', 'https://mixed.example.com/', /private address/],
    ['a name resolving to IPv6-mapped loopback', 'https://mapped.example.com/', /loopback/],
    ['a name resolving to NAT64 of the metadata address', 'https://nat64.example.com/', /link-local/],
    ['a unique-local IPv6 name', 'https://ula.example.com/', /unique-local/],
    ['a link-local IPv6 name', 'https://linklocal6.example.com/', /link-local/],
    ['an IPv6 loopback name', 'https://loop6.example.com/', /loopback/],
    ['a CGNAT name', 'https://cgnat.example.com/', /carrier-grade NAT/],
    ['the metadata address itself', 'https://169.254.169.254/latest/meta-data/', /link-local/],
    ['decimal loopback', 'https://2130706433/', /loopback/],
    ['hex loopback', 'https://0x7f.1/', /loopback/],
    ['octal loopback', 'https://0177.0.0.1/', /loopback/],
    ['short loopback', 'https://127.1/', /loopback/],
    ['IPv6-mapped loopback literal', 'https://[::ffff:127.0.0.1]/', /loopback/],
    ['IPv6-mapped metadata in hex', 'https://[::ffff:a9fe:a9fe]/', /link-local/],
    ['IPv6 loopback literal', 'https://[::1]/', /loopback/],
    ['IPv4-compatible form', 'https://[::7f00:1]/', /reserved/],
    ['6to4 of a private address', 'https://[2002:0a00:0001::1]/', /private/],
    ['unspecified', 'https://0.0.0.0/', /unspecified/],
    ['broadcast', 'https://255.255.255.255/', /broadcast/],
    ['multicast', 'https://224.0.0.1/', /multicast/],
    ['documentation range', 'https://192.0.2.1/', /reserved/],
    [
      'userinfo pointing elsewhere',
      'https://good.example.com@169.254.169.254/',
      /user name or password|link-local/,
    ],
    ['userinfo alone', 'https://user:pass@good.example.com/', /user name or password/],
    ['backslash trick', 'https://good.example.com\\@169.254.169.254/', /not a plain URL/],
    ['whitespace', 'https://good.example.com /', /not a plain URL/],
    ['a name that does not resolve', 'https://nowhere.example.com/', /does not resolve/],
    ['a name with no addresses', 'https://empty.example.com/', /does not resolve/],
    ['localhost by name (from the table: unknown)', 'https://localhost/', /does not resolve/],
    ['not a URL', 'good.example.com/path', /not a valid absolute URL/],
  ];
  it.each(refused)('refuses %s', async (_name, value, reason) => {
    const refusal = await urls(value);
    expect(refusal?.kind).toBe('url');
    expect(refusal?.reason).toMatch(reason);
    expect(refusal?.reason).not.toContain('example.com');
  });

  it.each([
    ['a public name', 'https://good.example.com/a?b=c'],
    ['a public address literal', 'https://93.184.215.14/'],
    ['a public IPv6 literal', 'https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/'],
    ['a trailing-dot name', 'https://good.example.com./'],
  ])('passes %s', async (_name, value) => {
    expect(await urls(value)).toBeUndefined();
  });

  it('hosts narrows by glob; schemes widen; allowAddresses lets a private range through', async () => {
    const narrow = check(
      { url: { schemes: ['https', 'http'], hosts: ['*.example.com'], allowAddresses: ['10.0.0.0/8'] } },
      resolver,
    );
    expect(await narrow('http://api.example.com/')).toBeUndefined();
    expect(await narrow('https://internal.example.com/')).toBeUndefined();
    expect((await narrow('https://metadata.example.com/'))?.reason).toMatch(/link-local/);
    expect((await narrow('https://93.184.215.14/'))?.reason).toMatch(/host that is not allowed/);
    expect((await narrow('https://example.com/'))?.reason).toMatch(/host that is not allowed/);
    expect((await narrow('https://evil.com/.example.com'))?.reason).toMatch(/host that is not allowed/);
  });

  it('a lookup that never answers is refused after the timeout', async () => {
    const hanging = compileUrlGuard({ schemes: ['https'] }, () => new Promise(() => {}), 50);
    expect(await hanging('https://slow.example.com/')).toMatch(/did not resolve in time/);
  });

  it('every IPv4 special range is non-public, including through the IPv6 forms that carry it', () => {
    for (const v4 of [
      '127.0.0.1',
      '10.0.0.1',
      '172.16.0.1',
      '192.168.0.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
    ]) {
      expect(nonPublic(ipaddr.parse(v4)), v4).toBeDefined();
      expect(nonPublic(ipaddr.parse(`::ffff:${v4}`)), `mapped ${v4}`).toBeDefined();
      expect(nonPublic(ipaddr.parse(`64:ff9b::${v4}`)), `NAT64 ${v4}`).toBeDefined();
    }
    expect(nonPublic(ipaddr.parse('8.8.8.8'))).toBeUndefined();
    expect(nonPublic(ipaddr.parse('::ffff:8.8.8.8'))).toBeUndefined();
  });
});

describe('enum, pattern, maxLength, maxItems', () => {
  it('enum accepts listed values only, of the same type', async () => {
    const modes = check({ enum: ['read', 'list', 3] });
    expect(await modes('read')).toBeUndefined();
    expect(await modes(3)).toBeUndefined();
    expect(await modes('3')).toEqual({ kind: 'enum', reason: 'is not one of the allowed values' });
    expect((await modes('write'))?.kind).toBe('enum');
    expect((await modes({}))?.kind).toBe('enum');
  });

  it('pattern uses RE2 (unanchored unless anchored); a catastrophic pattern stays linear', async () => {
    const ids = check({ pattern: '^[a-z]{2}-[0-9]+$' });
    expect(await ids('ab-12')).toBeUndefined();
    expect(await ids('xab-12')).toEqual({ kind: 'pattern', reason: 'does not match the allowed pattern' });
    expect((await ids(12))?.reason).toBe('must be a string');
    const redos = check({ pattern: '^(a+)+$' });
    expect((await redos(`${'a'.repeat(100_000)}!`))?.kind).toBe('pattern');
  });

  it('a pattern RE2 cannot compile is a config error naming the key', () => {
    const parsed = argumentGuardSchema.safeParse({ pattern: '(?<=a)b' });
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues[0].path).toEqual(['pattern']);
    expect(parsed.error!.issues[0].message).toMatch(/not an RE2 expression/);
  });

  it('maxLength counts characters (code points), not UTF-16 units', async () => {
    const short = check({ maxLength: 3 });
    expect(await short('abc')).toBeUndefined();
    expect(await short('😀😀😀')).toBeUndefined();
    expect(await short('abcd')).toEqual({ kind: 'maxLength', reason: 'is longer than 3 characters' });
  });

  it('maxItems bounds the list; other guards apply to each item; a non-list is refused', async () => {
    const few = check({ maxItems: 2, enum: ['a', 'b'] });
    expect(await few(['a', 'b'])).toBeUndefined();
    expect(await few(['a', 'b', 'a'])).toEqual({
      kind: 'maxItems',
      reason: 'has 3 items, more than the 2 allowed',
    });
    expect(await few(['a', 'c'])).toEqual({
      kind: 'enum',
      reason: 'item 1 is not one of the allowed values',
    });
    expect(await few('a')).toEqual({ kind: 'maxItems', reason: 'must be a list' });
  });

  it('an empty guard is a config error', () => {
    expect(argumentGuardSchema.safeParse({}).success).toBe(false);
    expect(argumentGuardSchema.safeParse({ url: { allowAddresses: ['10.0.0.0/33'] } }).success).toBe(false);
  });
});
