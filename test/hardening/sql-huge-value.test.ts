// Memory stays bounded when a query asks for a huge value: the database itself refuses a row over the byte
// cap (the driver would buffer it whole), rows are read through a cursor with the caps applied while
// reading, and the gateway answers with a clear error, keeps its memory, and keeps serving.
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, text } from '../builtin-servers/helpers.js';
import { connectClient, startGateway, type RunningGateway } from '../helpers/gateway.js';

const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/test';
const reader = `sb_huge_${process.pid}`;
const admin = new pg.Client({ connectionString: ADMIN_URL });
const tmp = tempDir('sb-huge-');
const CAP = 64 * 1024; // max_result_bytes for both upstreams
const HUGE = 300_000_000; // the example: far more than the gateway can afford to buffer
const BIG = 20_000_000; // other shapes and positions: enough to prove the refusal, quick to generate

let gw: RunningGateway;
let client: Client;

beforeAll(async () => {
  await admin.connect();
  await admin.query(
    `DROP ROLE IF EXISTS ${reader}; CREATE ROLE ${reader} LOGIN; GRANT pg_read_all_data TO ${reader};`,
  );
  const db = new Database(path.join(tmp.dir, 'data.db'));
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('a'), ('b');");
  db.close();
  gw = await startGateway({
    upstreams: {
      lite: {
        builtin: 'sql',
        url: `sqlite:${path.join(tmp.dir, 'data.db')}`,
        max_result_bytes: CAP,
        statement_timeout_ms: 20_000,
      },
      pgs: {
        builtin: 'sql',
        url: `postgres://${reader}@127.0.0.1:5432/test`,
        max_result_bytes: CAP,
        statement_timeout_ms: 20_000,
      },
    },
  });
  client = await connectClient(gw.url);
});
afterAll(async () => {
  await client?.close();
  await gw?.close();
  await admin.query(`DROP ROLE IF EXISTS ${reader}`);
  await admin.end();
  tmp.cleanup();
});

const run = async (upstream: string, query: string, max_rows?: number) => {
  const result = await client.callTool({
    name: `${upstream}__run_sql_query`,
    arguments: max_rows ? { query, max_rows } : { query },
  });
  return {
    isError: result.isError === true,
    text: text(result),
    rows: (result.structuredContent as { rows?: Record<string, unknown>[] } | undefined)?.rows ?? [],
    truncated: (result.structuredContent as { truncated?: boolean } | undefined)?.truncated,
  };
};

const rssMiB = () => process.memoryUsage().rss / 1024 / 1024;

// [upstream, a query producing one ~300 MB value, the clear error]
const huge: [string, string, string, RegExp][] = [
  [
    'PostgreSQL',
    'pgs',
    `SELECT repeat('x', ${HUGE}) AS v`,
    /a row of \d+ bytes is over the 65536-byte result cap \(max_result_bytes\)/,
  ],
  [
    'PostgreSQL (bytea)',
    'pgs',
    `SELECT decode(repeat('ab', ${BIG / 2}), 'hex') AS v`,
    /over the 65536-byte result cap/,
  ],
  [
    'PostgreSQL (array)',
    'pgs',
    'SELECT array_fill(7, ARRAY[5000000]) AS v',
    /over the 65536-byte result cap/,
  ],
  [
    'SQLite',
    'lite',
    `SELECT printf('%.*c', ${HUGE}, 'x') AS v`,
    /a row is over the 65536-byte result cap \(max_result_bytes\)/,
  ],
  ['SQLite (blob)', 'lite', `SELECT zeroblob(${BIG}) AS v`, /over the 65536-byte result cap/],
];

describe('a single huge value', () => {
  it.each(huge)(
    '%s: refused by the database with a clear error; gateway memory stays bounded',
    async (_db, upstream, query, message) => {
      const before = rssMiB();
      const result = await run(upstream, query);
      expect(result.isError).toBe(true);
      expect(result.text).toMatch(message);
      // The value never reached the gateway's process: far less than its size was added.
      expect(rssMiB() - before).toBeLessThan(100);
      // The same upstream and the same client keep working.
      expect(await run(upstream, 'SELECT 1 AS one')).toMatchObject({ isError: false, rows: [{ one: 1 }] });
    },
  );

  it('another client is served while and after the huge value is refused', async () => {
    const other = await connectClient(gw.url);
    try {
      const [bad, good] = await Promise.all([
        run('pgs', `SELECT repeat('x', ${BIG}) AS v`),
        other.callTool({ name: 'lite__run_sql_query', arguments: { query: 'SELECT v FROM t ORDER BY id' } }),
      ]);
      expect(bad.isError).toBe(true);
      expect(good.structuredContent).toMatchObject({ rows: [{ v: 'a' }, { v: 'b' }] });
    } finally {
      await other.close();
    }
  });
});

describe.each([
  [
    'PostgreSQL',
    'pgs',
    (n: number, size: number) =>
      `SELECT g AS n, repeat('y', ${size}) AS pad FROM generate_series(1, ${n}) AS g`,
  ],
  [
    'SQLite',
    'lite',
    (n: number, size: number) =>
      `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${n}) SELECT n, printf('%.*c', ${size}, 'y') AS pad FROM s`,
  ],
])('caps while reading (%s)', (_db, upstream, series) => {
  it('an oversized row after small ones refuses the whole query, clearly', async () => {
    const query =
      upstream === 'pgs'
        ? `SELECT g AS n, repeat('z', CASE WHEN g = 4 THEN ${BIG} ELSE 10 END) AS pad FROM generate_series(1, 10) AS g`
        : `WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 10) SELECT n, printf('%.*c', CASE WHEN n = 4 THEN ${BIG} ELSE 10 END, 'z') AS pad FROM s`;
    const before = rssMiB();
    const result = await run(upstream, query);
    expect(rssMiB() - before).toBeLessThan(100);
    expect(result.isError).toBe(true);
    expect(result.text).toMatch(/over the 65536-byte result cap/);
  });

  it('many rows each under the cap stop at the byte cap, not after buffering the whole result', async () => {
    // 2000 rows of 1 KiB: about 2 MiB in all against a 64 KiB cap.
    const result = await run(upstream, series(2000, 1024), 2000);
    expect(result.isError).toBe(false);
    expect(result.truncated).toBe(true);
    expect(result.rows.length).toBeGreaterThan(30);
    expect(result.rows.length).toBeLessThan(70);
    expect(result.rows.map((r) => r.n)).toEqual(Array.from({ length: result.rows.length }, (_, i) => i + 1));
  });

  it('a row just under the cap is returned whole', async () => {
    const result = await run(upstream, series(1, 60_000));
    expect(result).toMatchObject({ isError: false, truncated: false });
    expect((result.rows[0].pad as string).length).toBe(60_000);
  });

  it('a column named like the wrapper cannot stand in for the row in the size check', async () => {
    const query =
      upstream === 'pgs'
        ? `SELECT 1 AS switchboard_query, 2 AS c0, repeat('x', ${BIG}) AS v`
        : `SELECT 1 AS switchboard_query, 2 AS c0, printf('%.*c', ${BIG}, 'x') AS v`;
    const result = await run(upstream, query);
    expect(result.isError).toBe(true);
    expect(result.text).toMatch(/over the 65536-byte result cap/);
  });
});
