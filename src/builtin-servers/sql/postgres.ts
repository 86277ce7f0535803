// PostgreSQL engine: every query runs in a READ ONLY transaction with a statement timeout, over the
// extended protocol (which itself refuses a second statement), wrapped in a LIMIT and always rolled back.
import pg from 'pg';
import { ToolError } from '../results.js';
import { toCell, type QueryResult, type SqlEngine, type TableInfo } from './types.js';

export class PostgresEngine implements SqlEngine {
  readonly dialect = 'postgres' as const;
  private readonly pool: pg.Pool;

  constructor(
    url: string,
    private readonly timeoutMs: number,
    private readonly maxBytes: number,
  ) {
    this.pool = new pg.Pool({
      connectionString: url,
      max: 4,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
    });
    this.pool.on('error', () => undefined); // an idle client dropped by the server; the next checkout reconnects
  }

  private async readOnly<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN TRANSACTION READ ONLY');
      // A validated integer from the options, never user text.
      await client.query(`SET LOCAL statement_timeout = ${Math.trunc(this.timeoutMs)}`);
      return await fn(client);
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
    }
  }

  /** Checks the server is reachable, so a bad URL fails at start-up. */
  async start(): Promise<void> {
    await this.readOnly((c) => c.query('SELECT 1'));
  }

  async query(sql: string, maxRows: number): Promise<QueryResult> {
    return this.readOnly(async (client) => {
      // `sql` is exactly one SELECT checked by the parser gate; a non-empty `values` forces the extended protocol.
      const result = await client
        .query({
          text: `SELECT * FROM (\n${sql}\n) AS switchboard_query LIMIT $1`,
          values: [maxRows + 1],
          rowMode: 'array',
        })
        .catch((err: Error) => {
          throw new ToolError(`PostgreSQL: ${err.message}`);
        });
      const rows: unknown[][] = [];
      let bytes = 0;
      let truncated = result.rows.length > maxRows;
      for (const row of result.rows.slice(0, maxRows) as unknown[][]) {
        const cells = row.map(toCell);
        bytes += JSON.stringify(cells).length;
        if (bytes > this.maxBytes) {
          truncated = true;
          break;
        }
        rows.push(cells);
      }
      return { columns: result.fields.map((f) => f.name), rows, truncated };
    });
  }

  async tables(): Promise<TableInfo[]> {
    const { rows } = await this.readOnly((c) =>
      c.query<{ table_schema: string; table_name: string; table_type: string }>(
        `SELECT table_schema, table_name, table_type FROM information_schema.tables
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY table_schema, table_name`,
      ),
    );
    return rows.map((r) => ({
      name: r.table_schema === 'public' ? r.table_name : `${r.table_schema}.${r.table_name}`,
      type: r.table_type === 'VIEW' ? 'view' : 'table',
      schema: r.table_schema,
      table: r.table_name,
    }));
  }

  async describe(name: string): Promise<string | undefined> {
    // Matched against the real table list first; schema and table are then bound as parameters.
    const table = (await this.tables()).find((t) => t.name === name);
    if (!table) return undefined;
    const { rows } = await this.readOnly((c) =>
      c.query<{ column_name: string; data_type: string; is_nullable: string; column_default: string | null }>(
        `SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns
         WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
        [table.schema, table.table],
      ),
    );
    const cols = rows.map(
      (r) =>
        `  ${r.column_name} ${r.data_type}${r.is_nullable === 'NO' ? ' NOT NULL' : ''}${r.column_default ? ` DEFAULT ${r.column_default}` : ''}`,
    );
    return `${table.type} ${name}\ncolumns:\n${cols.join('\n')}`;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
