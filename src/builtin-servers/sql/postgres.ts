// PostgreSQL engine: read-only by privilege (start-up refuses a role that could read server files, run
// programs or signal other sessions), then per query a READ ONLY transaction with a statement timeout,
// rows read through a cursor with the caps applied while reading, and the session reset afterwards.
import pg from 'pg';
import Cursor from 'pg-cursor';
import { ToolError } from '../results.js';
import { toCell, type QueryResult, type SqlEngine, type TableInfo } from './types.js';

export interface PostgresOptions {
  timeoutMs: number;
  maxBytes: number;
  /** SET ROLE to this role inside every transaction. */
  role?: string;
  /** Serve even when the role (or the login) holds the rights below. */
  allowSuperuser: boolean;
}

/** Rights that reach outside the database; a read-only server must hold none of them. */
const DANGEROUS = [
  'pg_read_server_files',
  'pg_write_server_files',
  'pg_execute_server_program',
  'pg_signal_backend',
];
/** One cursor read holds at most about this much: each row is at most max_result_bytes (checked by the server). */
const BATCH_BYTES = 8 * 1024 * 1024;
/** The server's own refusal of an oversized row (see query()); matched to give a clear error. */
const ROW_CHECK = /switchboard: a row of (\d+) bytes/;

const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** bytea is sent as hex (two characters a byte, plus `\x`); octet_length reads its size without copying. */
const BYTEA = 17;

/**
 * The query with each row's size checked by the server itself (the driver would buffer an oversized row
 * whole): its columns renamed c0..cN (no name of theirs can stand in for them), and a last column whose
 * cast of a non-constant string fails only for a row over the cap. OFFSET 0 keeps the planner from
 * inlining the query, which would compute each value twice.
 */
function cappedQuery(sql: string, types: number[]): string {
  const cols = types.map((_, i) => `c${i}`);
  // octet_length of text reads the size from the value's header (no decompression); other types are
  // measured in the text form they are sent in.
  const size =
    types
      .map((type, i) =>
        type === BYTEA
          ? `coalesce(2 * octet_length(c${i})::bigint + 2, 0)`
          : `coalesce(octet_length(c${i}::text)::bigint, 0)`,
      )
      .join(' + ') || '0';
  return (
    `SELECT ${[...cols, ''].join(', ')}CASE WHEN ${size} > $2 THEN ('switchboard: a row of ' || (${size}) || ' bytes')::int END ` +
    `FROM (SELECT * FROM (\n${sql}\n) AS u OFFSET 0) AS switchboard_query${cols.length ? `(${cols.join(', ')})` : ''} LIMIT $1`
  );
}

export class PostgresEngine implements SqlEngine {
  readonly dialect = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly begin: string;
  private readonly batch: number;

  constructor(
    url: string,
    private readonly options: PostgresOptions,
  ) {
    this.pool = new pg.Pool({
      connectionString: url,
      max: 4,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
    });
    this.pool.on('error', () => undefined); // an idle client dropped by the server; the next checkout reconnects
    // Validated integers and a quoted identifier from the options, never user text; one round trip.
    this.begin =
      `BEGIN TRANSACTION READ ONLY; SET LOCAL statement_timeout = ${Math.trunc(options.timeoutMs)}` +
      (options.role ? `; SET LOCAL ROLE ${quoteIdent(options.role)}` : '');
    this.batch = Math.max(1, Math.min(200, Math.floor(BATCH_BYTES / options.maxBytes)));
  }

  private async readOnly<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query(this.begin);
      return await fn(client);
    } finally {
      try {
        await client.query('ROLLBACK');
        // What a query can leave on the session past its transaction (advisory locks, set_config(..., false),
        // LISTEN, prepared statements): gone before the connection serves anyone else.
        await client.query('DISCARD ALL');
      } catch (err) {
        broken = err as Error;
      }
      client.release(broken); // a connection that could not be reset is closed, never reused
    }
  }

  /** Checks the server is reachable and the role harmless, so both fail at start-up, clearly. */
  async start(): Promise<void> {
    const { rows } = await this.readOnly((c) =>
      c.query<{ who: string; rolname: string; rolsuper: boolean; held: string[] }>(
        `SELECT w.who, r.rolname, r.rolsuper,
           ARRAY(SELECT d FROM unnest($1::text[]) AS d WHERE pg_has_role(r.oid, d, 'MEMBER')) AS held
         FROM (VALUES ('login', session_user), ('role', current_user)) AS w(who, name)
         JOIN pg_roles r ON r.rolname = w.name`,
        [DANGEROUS],
      ),
    );
    if (this.options.allowSuperuser) return;
    for (const row of rows) {
      const rights = row.rolsuper ? 'is a superuser' : row.held.length ? `holds ${row.held.join(', ')}` : '';
      if (!rights) continue;
      const via =
        row.who === 'login' && this.options.role
          ? ` (the login; SET ROLE ${this.options.role} can be undone by SQL that runs set_config('role', ...))`
          : '';
      throw new Error(
        `sql: refusing to serve PostgreSQL as role "${row.rolname}"${via}: it ${rights}, so a query could ` +
          'read server files, run programs or end other sessions. Connect as a role with read rights only ' +
          '(CREATE ROLE switchboard_reader LOGIN; GRANT pg_read_all_data TO switchboard_reader;), ' +
          'or set allow_superuser: true to accept the risk',
      );
    }
  }

  async query(sql: string, maxRows: number): Promise<QueryResult> {
    const { maxBytes, timeoutMs } = this.options;
    return this.readOnly(async (client) => {
      // `sql` is exactly one SELECT checked by the parser gate; $1/$2 are ours (the gate refuses ParamRef).
      // LIMIT 0 learns its columns (names and types) without running it.
      const probe = await client
        .query({ text: `SELECT * FROM (\n${sql}\n) AS switchboard_query LIMIT 0`, rowMode: 'array' })
        .catch((err: Error) => {
          throw new ToolError(`PostgreSQL: ${err.message}`);
        });
      const columns = probe.fields.map((f) => f.name);
      const text = cappedQuery(
        sql,
        probe.fields.map((f) => f.dataTypeID),
      );
      const cursor = client.query(new Cursor(text, [maxRows + 1, maxBytes], { rowMode: 'array' }));
      const rows: unknown[][] = [];
      let bytes = 0;
      let truncated = false;
      let finished = false;
      // statement_timeout counts per cursor read; this bounds the whole query.
      const deadline = Date.now() + timeoutMs;
      try {
        reading: for (;;) {
          const want = Math.min(this.batch, maxRows + 1 - rows.length);
          const batch = await new Promise<unknown[][]>((resolve, reject) =>
            cursor.read(want, (err, got) => (err ? reject(err) : resolve(got))),
          );
          for (const row of batch) {
            const cells = row.slice(0, -1).map(toCell);
            bytes += JSON.stringify(cells).length;
            if (rows.length >= maxRows || bytes > maxBytes) {
              truncated = true;
              break reading;
            }
            rows.push(cells);
          }
          if (batch.length < want) {
            finished = true;
            break;
          }
          if (Date.now() > deadline) {
            throw new ToolError(
              `the query ran longer than the statement timeout (${timeoutMs} ms) and was stopped`,
            );
          }
        }
      } catch (err) {
        finished = true; // the server already ended the portal
        if (err instanceof ToolError) throw err;
        const big = ROW_CHECK.exec((err as Error).message);
        if (!big) throw new ToolError(`PostgreSQL: ${(err as Error).message}`);
        // The whole query is refused: rows of the batch the server stopped in are lost anyway.
        throw new ToolError(
          `a row of ${big[1]} bytes is over the ${maxBytes}-byte result cap (max_result_bytes); ` +
            'select fewer or shorter columns, e.g. left(column, 1000)',
        );
      } finally {
        if (!finished) await cursor.close().catch(() => undefined);
      }
      return { columns, rows, truncated };
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
