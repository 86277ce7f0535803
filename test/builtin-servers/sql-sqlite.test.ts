// The `sql` built-in server on SQLite: tools and resources over the shipped demo database (in-process and
// over stdio), then the attack table: every write or side effect is refused and the data stays as it was.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { body, connectInProcess, connectStdio, tempDir, text, type Connected } from './helpers.js';

const demo = path.resolve('config/demo/demo.db');

describe.each([
  ['in-process', () => connectInProcess('sql', { url: 'sqlite:demo/demo.db' }, path.resolve('config'))],
  ['stdio', () => connectStdio('sql', ['--url', `sqlite:${demo}`, '--max-rows', '50'])],
])('sql server on the demo SQLite database (%s)', (_mode, connect) => {
  let c: Connected;
  beforeAll(async () => {
    c = await connect();
  });
  afterAll(async () => c?.close());

  it('run_sql_query returns a text table and the rows as structuredContent', async () => {
    const result = await c.client.callTool({
      name: 'run_sql_query',
      arguments: { query: "SELECT id, name, country FROM customers WHERE country = 'GB' ORDER BY id" },
    });
    expect(result.isError).toBeFalsy();
    expect(text(result)).toBe(
      'id | name         | country\n---+--------------+--------\n1  | Ada Lovelace | GB\n3  | Alan Turing  | GB\n(2 rows)',
    );
    expect(result.structuredContent).toEqual({
      columns: ['id', 'name', 'country'],
      rows: [
        { id: 1, name: 'Ada Lovelace', country: 'GB' },
        { id: 3, name: 'Alan Turing', country: 'GB' },
      ],
      row_count: 2,
      truncated: false,
    });
  });

  it('run_sql_query caps the rows and says so', async () => {
    const result = await c.client.callTool({
      name: 'run_sql_query',
      arguments: { query: 'SELECT * FROM orders', max_rows: 3 },
    });
    expect(result.structuredContent).toMatchObject({ row_count: 3, truncated: true });
    expect(text(result)).toMatch(/\(3 rows; cut at the limit of 3 rows/);
  });

  it('run_sql_query accepts CTEs, joins, views and window functions', async () => {
    const query = `WITH big AS (SELECT * FROM order_totals WHERE total_cents > 20000)
      SELECT customer, COUNT(*) OVER (PARTITION BY customer) AS n FROM big ORDER BY customer LIMIT 1`;
    const result = await c.client.callTool({ name: 'run_sql_query', arguments: { query } });
    expect(result.isError).toBeFalsy();
    expect((result.structuredContent as { row_count: number }).row_count).toBe(1);
  });

  it.each([
    ['a trailing semicolon and comment', "SELECT 'a;b' AS v; -- done"],
    ['a trailing block comment', "SELECT 'a;b' AS v /* the end; */"],
    ['a comment marker inside a string', "SELECT 'a;b' AS v -- it's ';' here\n;"],
    ['a quoted identifier holding a semicolon', `SELECT 'a;b' AS "v;x" ;`],
  ])('run_sql_query accepts a query with %s', async (_case, query) => {
    const result = await c.client.callTool({ name: 'run_sql_query', arguments: { query } });
    expect(result.isError, text(result)).toBeFalsy();
    const rows = (result.structuredContent as { rows: Record<string, unknown>[] }).rows;
    expect(rows.map((row) => Object.values(row))).toEqual([['a;b']]);
  });

  it('list_tables lists the tables and views', async () => {
    const result = await c.client.callTool({ name: 'list_tables', arguments: {} });
    expect(text(result)).toBe(
      'customers (table)\norder_items (table)\norder_totals (view)\norders (table)\nproducts (table)',
    );
  });

  it('schema://database describes every table; the template one table', async () => {
    const all = body(await c.client.readResource({ uri: 'schema://database' }));
    expect(all).toContain('table customers\ncolumns:\n  id INTEGER PRIMARY KEY\n  name TEXT NOT NULL');
    expect(all).toContain('view order_totals');
    const one = body(await c.client.readResource({ uri: 'schema://database/products' }));
    expect(one.split('\n').slice(0, 6)).toEqual([
      'table products',
      'columns:',
      '  id INTEGER PRIMARY KEY',
      '  name TEXT NOT NULL',
      '  category TEXT NOT NULL',
      '  price_cents INTEGER NOT NULL',
    ]);
    const listed = (await c.client.listResources()).resources.map((r) => r.uri);
    expect(listed).toEqual(
      expect.arrayContaining([
        'schema://database',
        'schema://database/orders',
        'schema://database/order_totals',
      ]),
    );
  });
});

describe('sql server guards on SQLite', () => {
  const tmp = tempDir('sb-sql-');
  const file = path.join(tmp.dir, 'target.db');
  const evil = 'x"; DROP TABLE t; --';
  let c: Connected;
  let digest: string;
  const hash = () => createHash('sha256').update(readFileSync(file)).digest('hex');

  beforeAll(async () => {
    const db = new Database(file);
    db.exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('a'), ('b'), ('c');
      CREATE TABLE "${evil.replace(/"/g, '""')}" (z INTEGER);`);
    db.close();
    digest = hash();
    c = await connectInProcess('sql', { url: `sqlite:${file}`, statement_timeout_ms: 1000 });
  });
  afterAll(async () => {
    await c?.close();
    tmp.cleanup();
  });

  const attacks: [string, string, RegExp][] = [
    ['stacked statements', 'SELECT 1; DROP TABLE t', /exactly one statement/],
    ['stacked after a comment', 'SELECT 1 -- x\n; DELETE FROM t', /exactly one statement/],
    ['plain DELETE', 'DELETE FROM t', /only SELECT/],
    ['UPDATE', "UPDATE t SET v = 'x'", /only SELECT/],
    [
      'write hidden in a CTE',
      'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d',
      /does not parse|only reads/,
    ],
    ['INSERT ... SELECT', 'INSERT INTO t (v) SELECT v FROM t', /only SELECT/],
    ['ATTACH', "ATTACH DATABASE '/tmp/sb-evil.db' AS evil", /only SELECT|does not parse/],
    ['VACUUM INTO', "VACUUM INTO '/tmp/sb-evil-copy.db'", /only SELECT|does not parse/],
    ['PRAGMA write', 'PRAGMA query_only = 0', /does not parse|only SELECT/],
    ['load_extension', "SELECT load_extension('/tmp/evil.so')", /load_extension has side effects/],
    ['writefile', "SELECT writefile('/tmp/sb-evil.txt', 'x')", /writefile has side effects/],
    ['DROP', 'DROP TABLE t', /only SELECT/],
    ['CREATE', 'CREATE TABLE u (x)', /only SELECT/],
  ];

  it.each(attacks)('%s is refused and the data is untouched', async (_name, query, message) => {
    const result = await c.client.callTool({ name: 'run_sql_query', arguments: { query } });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(message);
    expect(hash()).toBe(digest);
  });

  it('a runaway query is stopped at the statement timeout and the server keeps working', async () => {
    const started = Date.now();
    const result = await c.client.callTool({
      name: 'run_sql_query',
      arguments: {
        query: 'WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n',
      },
    });
    expect(result.isError).toBe(true);
    expect(text(result)).toMatch(/statement timeout \(1000 ms\)/);
    expect(Date.now() - started).toBeLessThan(4000);
    const after = await c.client.callTool({
      name: 'run_sql_query',
      arguments: { query: 'SELECT count(*) AS n FROM t' },
    });
    expect(after.structuredContent).toMatchObject({ rows: [{ n: 3 }] });
  });

  it('schema://database/{table_name} binds the name: an injection attempt is just a table name', async () => {
    const described = await c.client.readResource({ uri: `schema://database/${encodeURIComponent(evil)}` });
    expect(body(described)).toContain('columns:\n  z INTEGER');
    await expect(
      c.client.readResource({ uri: `schema://database/${encodeURIComponent("t'; DROP TABLE t; --")}` }),
    ).rejects.toThrow(/no table or view named/);
    expect(hash()).toBe(digest);
  });

  it('the connection itself refuses writes even if a statement got past the parser', async () => {
    // Drive the engine directly, skipping the parser gate: SQLite's own compiler and query_only refuse.
    const { SqliteEngine } = await import('../../src/builtin-servers/sql/sqlite.js');
    const engine = new SqliteEngine(file, 2000, 1024 * 1024);
    try {
      await expect(engine.query('DELETE FROM t RETURNING *', 10)).rejects.toThrow(
        /write|readonly|read-only/i,
      );
      await expect(engine.query("ATTACH DATABASE '/tmp/sb-evil.db' AS evil", 10)).rejects.toThrow(/no rows/);
      await expect(engine.query("VACUUM INTO '/tmp/sb-evil-copy.db'", 10)).rejects.toThrow(/no rows|write/);
    } finally {
      await engine.close();
    }
    expect(hash()).toBe(digest);
  });
});
