// The `sql` built-in server against the real PostgreSQL on 127.0.0.1:5432 (database `test`): tools,
// resources, and the attack table (stacked statements, CTE writes, file and sleep functions, injection).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { body, connectInProcess, connectStdio, text, type Connected } from './helpers.js';

const URL = 'postgres://postgres@127.0.0.1:5432/test';
const schema = `sb_builtin_${process.pid}`;
// The server refuses a superuser (test/hardening/pg-privilege.test.ts); it serves as a reader role.
const reader = `sb_reader_${process.pid}`;
const READER_URL = `postgres://${reader}@127.0.0.1:5432/test`;
const evil = 'x"; DROP TABLE t; --';
const admin = new pg.Client({ connectionString: URL });

const count = async () => Number((await admin.query(`SELECT count(*) AS n FROM ${schema}.t`)).rows[0].n);

beforeAll(async () => {
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema};
    CREATE TABLE ${schema}.t (id serial PRIMARY KEY, v text NOT NULL);
    INSERT INTO ${schema}.t (v) VALUES ('a'), ('b'), ('c');
    CREATE TABLE ${schema}."${evil.replace(/"/g, '""')}" (z integer);
    DROP ROLE IF EXISTS ${reader}; CREATE ROLE ${reader} LOGIN; GRANT pg_read_all_data TO ${reader};`);
});
afterAll(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; DROP ROLE IF EXISTS ${reader}`);
  await admin.end();
});

describe.each([
  ['in-process', () => connectInProcess('sql', { url: READER_URL, statement_timeout_ms: 1000 })],
  ['stdio', () => connectStdio('sql', ['--url', READER_URL, '--statement-timeout-ms', '1000'])],
])('sql server on PostgreSQL (%s)', (_mode, connect) => {
  let c: Connected;
  beforeAll(async () => {
    c = await connect();
  });
  afterAll(async () => c?.close());

  it('run_sql_query returns a text table and structuredContent rows', async () => {
    const result = await c.client.callTool({
      name: 'run_sql_query',
      arguments: { query: `SELECT id, v FROM ${schema}.t ORDER BY id;` },
    });
    expect(result.isError).toBeFalsy();
    expect(text(result)).toBe('id | v\n---+--\n1  | a\n2  | b\n3  | c\n(3 rows)');
    expect(result.structuredContent).toMatchObject({
      columns: ['id', 'v'],
      rows: [
        { id: 1, v: 'a' },
        { id: 2, v: 'b' },
        { id: 3, v: 'c' },
      ],
    });
  });

  it('run_sql_query caps rows, keeping the query order', async () => {
    const result = await c.client.callTool({
      name: 'run_sql_query',
      arguments: { query: 'SELECT g FROM generate_series(10, 1, -1) AS g ORDER BY g DESC', max_rows: 2 },
    });
    expect(result.structuredContent).toMatchObject({ rows: [{ g: 10 }, { g: 9 }], truncated: true });
  });

  it('list_tables and the schema resources name tables outside public as schema.table', async () => {
    expect(text(await c.client.callTool({ name: 'list_tables', arguments: {} }))).toContain(
      `${schema}.t (table)`,
    );
    const one = await c.client.readResource({ uri: `schema://database/${schema}.t` });
    expect(body(one)).toBe(
      `table ${schema}.t\ncolumns:\n  id integer NOT NULL DEFAULT nextval('${schema}.t_id_seq'::regclass)\n  v text NOT NULL`,
    );
    const all = body(await c.client.readResource({ uri: 'schema://database' }));
    expect(all).toContain(`table ${schema}.t\n`);
  });
});

describe('sql server guards on PostgreSQL', () => {
  let c: Connected;
  beforeAll(async () => {
    c = await connectInProcess('sql', { url: READER_URL, statement_timeout_ms: 1000 });
  });
  afterAll(async () => c?.close());

  const attacks: [string, string, RegExp][] = [
    ['stacked statements', 'SELECT 1; DROP TABLE T', /exactly one statement/],
    ['DELETE', `DELETE FROM ${schema}.t`, /only SELECT queries are allowed; this is DeleteStmt/],
    [
      'write hidden in a CTE',
      `WITH d AS (DELETE FROM ${schema}.t RETURNING *) SELECT * FROM d`,
      /contains DeleteStmt/,
    ],
    [
      'UPDATE hidden in a CTE',
      `WITH u AS (UPDATE ${schema}.t SET v = 'x' RETURNING *) SELECT 1`,
      /contains UpdateStmt/,
    ],
    ['SELECT INTO', `SELECT * INTO ${schema}.copy FROM ${schema}.t`, /SELECT INTO/],
    ['pg_read_file', "SELECT pg_read_file('/etc/passwd')", /pg_read_file has side effects/],
    [
      'schema-qualified pg_read_file',
      "SELECT pg_catalog.pg_read_file('/etc/passwd')",
      /pg_catalog\.pg_read_file has side effects/,
    ],
    ['pg_ls_dir in FROM', "SELECT * FROM pg_ls_dir('.')", /pg_ls_dir has side effects/],
    ['large object import', "SELECT lo_import('/etc/passwd')", /lo_import has side effects/],
    [
      'dblink',
      "SELECT * FROM dblink('host=127.0.0.1', 'DELETE FROM t') AS x(a int)",
      /dblink has side effects/,
    ],
    ['pg_sleep', 'SELECT pg_sleep(10)', /pg_sleep has side effects/],
    ['set_config', "SELECT set_config('transaction_read_only', 'off', true)", /set_config has side effects/],
    [
      'query_to_xml runs SQL from a string',
      `SELECT query_to_xml('DELETE FROM ${schema}.t', true, true, '')`,
      /query_to_xml has side effects/,
    ],
    ['COPY TO PROGRAM', "COPY (SELECT 1) TO PROGRAM 'id'", /this is CopyStmt/],
    ['CREATE EXTENSION', 'CREATE EXTENSION dblink', /this is CreateExtensionStmt/],
    ['LOAD', "LOAD 'evil'", /this is LoadStmt/],
    ['FOR UPDATE lock', `SELECT * FROM ${schema}.t FOR UPDATE`, /row locks/],
    ['parameter reference', 'SELECT $1', /parameters/],
  ];

  it.each(attacks)('%s is refused and the data is untouched', async (_name, query, message) => {
    const result = await c.client.callTool({ name: 'run_sql_query', arguments: { query } });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(message);
    expect(await count()).toBe(3);
  });

  it('a slow query stops at the statement timeout', async () => {
    const result = await c.client.callTool({
      name: 'run_sql_query',
      arguments: { query: 'SELECT count(*) FROM generate_series(1, 1000000000)' },
    });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/statement timeout/);
  });

  it('the connection is read-only even for a write the parser would not see (nextval via a column default)', async () => {
    // The engine alone, skipping the parser gate, as a superuser (so privileges do not stop it first):
    // the READ ONLY transaction refuses the write.
    const { PostgresEngine } = await import('../../src/builtin-servers/sql/postgres.js');
    const engine = new PostgresEngine(URL, { timeoutMs: 1000, maxBytes: 1024 * 1024, allowSuperuser: true });
    try {
      await expect(engine.query(`SELECT nextval('${schema}.t_id_seq')`, 10)).rejects.toThrow(
        /read-only transaction/,
      );
      await expect(
        engine.query(`WITH d AS (DELETE FROM ${schema}.t RETURNING *) SELECT * FROM d`, 10),
      ).rejects.toThrow(/WITH/);
    } finally {
      await engine.close();
    }
    expect(await count()).toBe(3);
  });

  it('schema://database/{table_name} matches the name against the real tables, never splicing it', async () => {
    const described = await c.client.readResource({
      uri: `schema://database/${encodeURIComponent(`${schema}.${evil}`)}`,
    });
    expect(body(described)).toContain('columns:\n  z integer');
    await expect(
      c.client.readResource({ uri: `schema://database/${encodeURIComponent("t'; DROP TABLE t; --")}` }),
    ).rejects.toThrow(/no table or view named/);
    expect(await count()).toBe(3);
  });
});
