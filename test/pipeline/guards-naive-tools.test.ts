// Guards end to end on a naive fixture upstream that runs any SQL it gets (SQLite and the real PostgreSQL) and
// journals every URL its `fetch` is asked for: through the gateway, writes and private URLs are refused with an
// isError naming the argument and guard, the upstream's journal shows it was never reached, and the tables are
// unchanged; the same calls to an unguarded copy of the upstream do reach it (so the guard is what stopped them).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../builtin-servers/helpers.js';
import { connectClient, ROOT, startGateway, TSX, type RunningGateway } from '../helpers/gateway.js';

const FIXTURE = path.join(ROOT, 'test/fixtures/servers/naive-tools-server.ts');
const PG_URL = 'postgres://postgres@127.0.0.1:5432/test';
const schema = `sb_guards_${process.pid}`;
const tmp = tempDir('sb-guards-naive-');
const sqliteFile = path.join(tmp.dir, 'data.db');
const journals = { naive: path.join(tmp.dir, 'naive.jsonl'), open: path.join(tmp.dir, 'open.jsonl') };
const admin = new pg.Client({ connectionString: PG_URL });

const upstream = (journal: string, extra: Record<string, unknown> = {}) => ({
  command: process.execPath,
  args: ['--import', TSX, FIXTURE, '--journal', journal, '--sqlite', sqliteFile, '--pg', PG_URL],
  ...extra,
});
const journaled = (which: keyof typeof journals): { tool: string; args: any }[] =>
  existsSync(journals[which])
    ? readFileSync(journals[which], 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line))
    : [];
const sqliteCount = () => {
  const db = new Database(sqliteFile, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n;
  } finally {
    db.close();
  }
};
const pgCount = async () => Number((await admin.query(`SELECT count(*) AS n FROM ${schema}.t`)).rows[0].n);
const textOf = (result: any) => result.content[0].text as string;

let gw: RunningGateway;
let client: Client;
beforeAll(async () => {
  const db = new Database(sqliteFile);
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('a'), ('b'), ('c');");
  db.close();
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema};
    CREATE TABLE ${schema}.t (id serial PRIMARY KEY, v text NOT NULL);
    INSERT INTO ${schema}.t (v) VALUES ('a'), ('b'), ('c');`);
  gw = await startGateway({
    upstreams: {
      naive: upstream(journals.naive, {
        tools: {
          guards: {
            sqlite_query: { sql: { sql: { dialect: 'sqlite' } } },
            pg_query: { sql: { sql: { dialect: 'postgres' } } },
            fetch: { url: { url: { schemes: ['https'] } } },
          },
        },
      }),
      open: upstream(journals.open),
    },
    // A guard as a rule effect, by public name: the open upstream's fetch, for everyone.
    policy: {
      default: 'allow',
      rules: [
        { name: 'no-private-fetch', guards: { open__fetch: { url: { url: { schemes: ['https'] } } } } },
      ],
    },
  });
  client = await connectClient(gw.url);
}, 60_000);
afterAll(async () => {
  await client?.close();
  await gw?.close();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
  tmp.cleanup();
});

const writes: [string, string][] = [
  ['stacked statements', 'SELECT 1; DELETE FROM t'],
  ['plain DELETE', 'DELETE FROM t'],
  ['UPDATE', "UPDATE t SET v = 'x'"],
  ['write hidden in a CTE', 'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d'],
  ['INSERT ... SELECT', 'INSERT INTO t (v) SELECT v FROM t'],
  ['DROP', 'DROP TABLE t'],
];

describe('sql guard on a naive SQLite tool', () => {
  it.each([...writes, ['writefile', "SELECT writefile('/tmp/sb-guards-evil.txt', 'x')"]])(
    '%s is refused, the upstream is never reached and the table is unchanged',
    async (_name, sql) => {
      const before = journaled('naive').length;
      const result: any = await client.callTool({ name: 'naive__sqlite_query', arguments: { sql } });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(
        /^Refused by the gateway: argument "sql" .* \(sql guard upstreams\.naive\.tools\.guards\.sqlite_query\.sql\)$/,
      );
      expect(journaled('naive').length).toBe(before);
      expect(sqliteCount()).toBe(3);
    },
  );

  it('a plain read passes and reaches the upstream', async () => {
    const result: any = await client.callTool({
      name: 'naive__sqlite_query',
      arguments: { sql: 'SELECT count(*) AS n FROM t' },
    });
    expect(result.isError).toBeFalsy();
    expect(JSON.parse(textOf(result))).toEqual([{ n: 3 }]);
    expect(journaled('naive').at(-1)).toEqual({
      tool: 'sqlite_query',
      args: { sql: 'SELECT count(*) AS n FROM t' },
    });
  });
});

describe('sql guard on a naive PostgreSQL tool', () => {
  it.each([
    ...writes.map(([name, sql]): [string, string] => [name, sql.replace(/\bt\b/g, `${schema}.t`)]),
    ['pg_read_file', "SELECT pg_read_file('/etc/passwd')"],
    ['set_config', "SELECT set_config('transaction_read_only', 'off', false)"],
    ['nextval', `SELECT nextval('${schema}.t_id_seq')`],
  ])('%s is refused, the upstream is never reached and the table is unchanged', async (_name, sql) => {
    const before = journaled('naive').length;
    const result: any = await client.callTool({ name: 'naive__pg_query', arguments: { sql } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^Refused by the gateway: argument "sql" .*pg_query\.sql\)$/);
    expect(journaled('naive').length).toBe(before);
    expect(await pgCount()).toBe(3);
  });

  it('a plain read passes', async () => {
    const result: any = await client.callTool({
      name: 'naive__pg_query',
      arguments: { sql: `SELECT v FROM ${schema}.t ORDER BY id` },
    });
    expect(result.isError).toBeFalsy();
    expect(JSON.parse(textOf(result))).toEqual([{ v: 'a' }, { v: 'b' }, { v: 'c' }]);
  });
});

describe('url guard on a naive fetch tool', () => {
  const refused: [string, string, RegExp][] = [
    ['the metadata address', 'https://169.254.169.254/latest/meta-data/', /link-local/],
    ['decimal loopback', 'https://2130706433/', /loopback/],
    ['hex loopback', 'https://0x7f.1/', /loopback/],
    ['IPv6-mapped loopback', 'https://[::ffff:127.0.0.1]/', /loopback/],
    ['localhost by name (resolved)', 'https://localhost/', /resolves to a loopback address/],
    ['userinfo trick', 'https://good.example.com@169.254.169.254/', /user name or password/],
    ['plain http', 'http://93.184.215.14/', /scheme/],
    ['a private address', 'https://10.0.0.7/', /private/],
  ];
  it.each(refused)('%s is refused and never journaled', async (_name, url, reason) => {
    for (const [tool, where] of [
      ['naive__fetch', 'url guard upstreams.naive.tools.guards.fetch.url'],
      ['open__fetch', 'url guard policy.rules.0.guards.open__fetch.url, rule "no-private-fetch"'],
    ]) {
      const before = journaled('naive').length + journaled('open').length;
      const result: any = await client.callTool({ name: tool, arguments: { url } });
      expect(result.isError, tool).toBe(true);
      expect(textOf(result)).toMatch(reason);
      expect(textOf(result)).toContain(`(${where})`);
      expect(textOf(result)).not.toContain(url);
      expect(journaled('naive').length + journaled('open').length).toBe(before);
    }
  });

  it('a public address passes and reaches the upstream', async () => {
    const result: any = await client.callTool({
      name: 'naive__fetch',
      arguments: { url: 'https://93.184.215.14/page' },
    });
    expect(result.isError).toBeFalsy();
    expect(journaled('naive').at(-1)).toEqual({ tool: 'fetch', args: { url: 'https://93.184.215.14/page' } });
  });
});

describe('without the guard', () => {
  it('the same write reaches the unguarded copy and changes the table: the guard is what stopped it', async () => {
    const result: any = await client.callTool({
      name: 'open__sqlite_query',
      arguments: { sql: 'DELETE FROM t' },
    });
    expect(result.isError).toBeFalsy();
    expect(journaled('open').at(-1)).toEqual({ tool: 'sqlite_query', args: { sql: 'DELETE FROM t' } });
    expect(sqliteCount()).toBe(0);
  });
});
