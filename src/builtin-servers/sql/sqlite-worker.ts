// Child process that owns the SQLite connection (better-sqlite3 is synchronous and cannot be interrupted,
// so a runaway query must be killable without stopping the gateway). Opened read-only with query_only;
// rows are read one at a time, and SQLite itself refuses a row over the byte cap before we copy it.
import Database from 'better-sqlite3';
import type { WorkerReply, WorkerRequest } from './types.js';
import { toCell } from './types.js';

const file = process.argv[2];
let db: Database.Database;
try {
  db = new Database(file, { readonly: true, fileMustExist: true });
  db.pragma('query_only = ON');
  db.pragma('trusted_schema = OFF'); // functions in views/triggers cannot have side effects
  db.prepare('SELECT count(*) FROM sqlite_schema').get(); // opening is lazy: a file that is no database fails here
} catch (err) {
  // One line the engine shows (an uncaught throw would end stderr with Node's version line instead).
  process.stderr.write(`switchboard-sqlite: ${(err as Error).message}\n`);
  process.exit(1);
}
const OVER_CAP = 'switchboard: a row is over the byte cap';
db.function('switchboard_row_over_cap', () => {
  throw new Error(OVER_CAP);
});

/**
 * The query with each row's size checked by SQLite: its columns renamed c0..cN by a CTE column list (so
 * no column name, duplicate or odd, can shadow them) and a last column that raises for a row over the cap.
 */
function capped(sql: string, width: number, maxBytes: number): string {
  const cols = Array.from({ length: width }, (_, i) => `c${i}`);
  const size = cols.map((c) => `coalesce(length(CAST(${c} AS BLOB)), 0)`).join(' + ');
  return (
    `WITH switchboard_query(${cols.join(', ')}) AS (\n${statementText(sql)}\n) ` +
    `SELECT ${cols.join(', ')}, CASE WHEN ${size} > ${Math.trunc(maxBytes)} THEN switchboard_row_over_cap() END ` +
    'FROM switchboard_query'
  );
}

/**
 * The statement without what may follow it (`;`, comments, blanks), which would break it inside the CTE:
 * one pass that skips quoted text and comments and remembers where the last real token ended.
 */
function statementText(sql: string): string {
  let end = 0;
  for (let i = 0; i < sql.length;) {
    const c = sql[i];
    if (c === '-' && sql[i + 1] === '-') {
      const eol = sql.indexOf('\n', i);
      i = eol === -1 ? sql.length : eol;
    } else if (c === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      i = close === -1 ? sql.length : close + 2;
    } else if (c === ';' || /\s/.test(c)) {
      i++;
    } else {
      const closer = c === "'" || c === '"' || c === '`' ? c : c === '[' ? ']' : undefined;
      if (closer) {
        // A doubled quote inside quoted text is an escaped quote: keep scanning past it.
        let j = i + 1;
        for (;;) {
          const at = sql.indexOf(closer, j);
          if (at === -1) return sql; // unterminated: let SQLite report it
          if (closer !== ']' && sql[at + 1] === closer) j = at + 2;
          else {
            i = at + 1;
            break;
          }
        }
      } else i++;
      end = i;
    }
  }
  return sql.slice(0, end);
}

function tables(): { name: string; type: string }[] {
  return db
    .prepare(
      "SELECT name, type FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .all() as { name: string; type: string }[];
}

function handle(req: WorkerRequest): unknown {
  switch (req.op) {
    case 'query': {
      const stmt = db.prepare(req.sql); // throws on a second statement
      // SQLite's own compiler is the second gate: it must return rows and write nothing.
      if (!stmt.reader) throw new Error('the statement returns no rows; only SELECT queries are allowed');
      if (!stmt.readonly) throw new Error('the statement would write; only reads are allowed');
      const columns = stmt.columns().map((c) => c.name);
      const wrapped = db.prepare(capped(req.sql, columns.length, req.maxBytes)).raw(true);
      const rows: unknown[][] = [];
      let bytes = 0;
      let truncated = false;
      try {
        for (const row of wrapped.iterate() as Iterable<unknown[]>) {
          const cells = row.slice(0, -1).map(toCell);
          bytes += JSON.stringify(cells).length;
          if (rows.length >= req.maxRows || bytes > req.maxBytes) {
            truncated = true;
            break;
          }
          rows.push(cells);
        }
      } catch (err) {
        if (!(err as Error).message.includes(OVER_CAP)) throw err;
        // The whole query is refused (as on PostgreSQL), so the answer never depends on batch sizes.
        throw new Error(
          `a row is over the ${req.maxBytes}-byte result cap (max_result_bytes); ` +
            'select fewer or shorter columns, e.g. substr(column, 1, 1000)',
        );
      }
      return { columns, rows, truncated };
    }
    case 'tables':
      return { tables: tables() };
    case 'describe': {
      // The name is matched against the real table list, then only ever bound as a parameter.
      const table = tables().find((t) => t.name === req.name);
      if (!table) return { found: false };
      const { sql } = db.prepare('SELECT sql FROM sqlite_schema WHERE name = ?').get(table.name) as {
        sql: string;
      };
      const columns = db
        .prepare('SELECT name, type, "notnull" AS not_null, pk FROM pragma_table_info(?)')
        .all(table.name);
      return { found: true, type: table.type, sql, columns };
    }
  }
}

process.on('message', (req: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    reply = { id: req.id, ok: true, result: handle(req) };
  } catch (err) {
    reply = { id: req.id, ok: false, error: (err as Error).message };
  }
  process.send?.(reply);
});
process.on('disconnect', () => process.exit(0));
process.send?.({ id: 0, ok: true, result: { ready: true } });
