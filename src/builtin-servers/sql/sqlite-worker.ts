// Child process that owns the SQLite connection (better-sqlite3 is synchronous and cannot be interrupted,
// so a runaway query must be killable without stopping the gateway). Opened read-only with query_only.
import Database from 'better-sqlite3';
import type { WorkerReply, WorkerRequest } from './types.js';
import { toCell } from './types.js';

const file = process.argv[2];
const db = new Database(file, { readonly: true, fileMustExist: true });
db.pragma('query_only = ON');
db.pragma('trusted_schema = OFF'); // functions in views/triggers cannot have side effects

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
      stmt.raw(true);
      const columns = stmt.columns().map((c) => c.name);
      const rows: unknown[][] = [];
      let bytes = 0;
      let truncated = false;
      for (const row of stmt.iterate() as Iterable<unknown[]>) {
        const cells = row.map(toCell);
        bytes += JSON.stringify(cells).length;
        if (rows.length >= req.maxRows || bytes > req.maxBytes) {
          truncated = true;
          break;
        }
        rows.push(cells);
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
