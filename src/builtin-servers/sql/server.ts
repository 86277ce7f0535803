// The `sql` built-in server: read-only queries against SQLite (`sqlite:` path) or PostgreSQL
// (`postgres://`). Read-only in depth: parser gate (guard.ts), then a read-only connection (engines).
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { BuiltinContext, BuiltinDefinition } from '../definition.js';
import { capText, guarded, guardedRead, textResult, ToolError } from '../results.js';
import { loadGuard } from '../../policy/guards/sql.js';
import { PostgresEngine } from './postgres.js';
import { SqliteEngine } from './sqlite.js';
import type { QueryResult, SqlEngine } from './types.js';

export const sqlOptions = z.strictObject({
  /** `sqlite:PATH` (relative to the config file's folder; `sqlite:///abs/path` too) or `postgres://...`. */
  url: z.string().regex(/^(sqlite:|postgres(ql)?:\/\/)/, 'must start with sqlite: or postgres://'),
  /** Default and ceiling of run_sql_query's max_rows. Default 500. */
  max_rows: z.number().int().positive().max(100_000).default(500),
  /** A query is cancelled after this long. Default 5000 ms. */
  statement_timeout_ms: z.number().int().positive().default(5000),
  /** Rows stop once their JSON passes this many bytes. Default 1 MiB. */
  max_result_bytes: z
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  /** PostgreSQL: SET ROLE to this role in every transaction (the login must be unprivileged too). */
  role: z.string().min(1).optional(),
  /** PostgreSQL: serve as a superuser or a role that reads server files, runs programs or signals sessions. */
  allow_superuser: z.boolean().default(false),
});
export type SqlOptions = z.infer<typeof sqlOptions>;

const MAX_CELL_CHARS = 200; // in the text table only; structuredContent keeps the whole value

function renderTable({ columns, rows, truncated }: QueryResult, maxRows: number): string {
  const cell = (v: unknown) => {
    const s = v === null || v === undefined ? 'NULL' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    const flat = s.replace(/\s+/g, ' ');
    return flat.length > MAX_CELL_CHARS ? `${flat.slice(0, MAX_CELL_CHARS)}…` : flat;
  };
  const body = rows.map((r) => r.map(cell));
  const widths = columns.map((c, i) =>
    Math.min(MAX_CELL_CHARS, Math.max(c.length, ...body.map((r) => r[i].length))),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]))
      .join(' | ')
      .trimEnd();
  const out = [line(columns), widths.map((w) => '-'.repeat(w)).join('-+-'), ...body.map(line)];
  out.push(
    `(${rows.length} row${rows.length === 1 ? '' : 's'}${truncated ? `; cut at the limit of ${Math.min(rows.length, maxRows)} rows or the byte cap` : ''})`,
  );
  return out.join('\n');
}

/** Rows as objects; a repeated column name gets a _2, _3... suffix so no value is lost. */
function rowObjects({ columns, rows }: QueryResult): Record<string, unknown>[] {
  const seen = new Map<string, number>();
  const keys = columns.map((c) => {
    const n = (seen.get(c) ?? 0) + 1;
    seen.set(c, n);
    return n === 1 ? c : `${c}_${n}`;
  });
  return rows.map((r) => Object.fromEntries(keys.map((k, i) => [k, r[i]])));
}

async function openEngine(options: SqlOptions, baseDir: string): Promise<SqlEngine> {
  if (options.url.startsWith('sqlite:')) {
    let file = options.url.slice('sqlite:'.length);
    if (file.startsWith('//')) file = file.slice(2); // sqlite:///abs/path and sqlite://relative
    if (!file) throw new Error('sql: the sqlite: URL names no file');
    const abs = path.resolve(baseDir, file);
    // Said here, before a worker starts: the user sees the file, not a worker's exit.
    const stat = await fs.stat(abs).catch(() => undefined);
    if (!stat) throw new Error(`sql: SQLite database file ${abs} does not exist (url: ${options.url})`);
    if (!stat.isFile()) throw new Error(`sql: SQLite database ${abs} is not a file (url: ${options.url})`);
    const engine = new SqliteEngine(abs, options.statement_timeout_ms, options.max_result_bytes);
    await engine.start();
    return engine;
  }
  const engine = new PostgresEngine(options.url, {
    timeoutMs: options.statement_timeout_ms,
    maxBytes: options.max_result_bytes,
    role: options.role,
    allowSuperuser: options.allow_superuser,
  });
  await engine.start().catch(async (err: Error) => {
    await engine.close();
    if (err.message.startsWith('sql:')) throw err;
    if (options.role && /role/.test(err.message))
      throw new Error(
        `sql: cannot switch to the role ${JSON.stringify(options.role)} (role:): ${err.message}`,
      );
    throw new Error(`sql: cannot connect to PostgreSQL: ${err.message}`);
  });
  return engine;
}

async function create(options: SqlOptions, ctx: BuiltinContext) {
  if (options.url.startsWith('sqlite:') && (options.role || options.allow_superuser))
    throw new Error('sql: role and allow_superuser apply to PostgreSQL only');
  const engine = await openEngine(options, ctx.baseDir);
  const check = await loadGuard(engine.dialect);
  const name = ctx.publicName ?? ((tool: string) => tool);
  const server = new McpServer(
    { name: 'switchboard-sql', version: '0.1.0' },
    {
      instructions:
        `Read-only SQL (${engine.dialect}). List tables with \`${name('list_tables')}\` or read schema://database ` +
        `first, then query with \`${name('run_sql_query')}\`.`,
    },
  );

  server.registerTool(
    'run_sql_query',
    {
      description:
        `Run one read-only SELECT (${engine.dialect === 'postgres' ? 'PostgreSQL' : 'SQLite'} dialect). ` +
        'Returns a text table, and the rows in structuredContent. Writes, several statements and side-effect functions are refused.',
      inputSchema: {
        query: z.string().min(1).max(100_000).describe('one SELECT statement'),
        max_rows: z.number().int().min(1).optional().describe(`default and maximum ${options.max_rows}`),
      },
      annotations: { readOnlyHint: true },
    },
    guarded('run_sql_query', async ({ query, max_rows }) => {
      const limit = Math.min(max_rows ?? options.max_rows, options.max_rows);
      const result = await engine.query(check(query), limit);
      return textResult(capText(renderTable(result, limit), 200_000), {
        columns: result.columns,
        rows: rowObjects(result),
        row_count: result.rows.length,
        truncated: result.truncated,
      });
    }),
  );

  server.registerTool(
    'list_tables',
    {
      description: 'List the tables and views of the database.',
      inputSchema: {},
      annotations: { readOnlyHint: true },
    },
    guarded('list_tables', async () => {
      const tables = await engine.tables();
      const text = tables.length
        ? tables.map((t) => `${t.name} (${t.type})`).join('\n')
        : 'the database has no tables';
      return textResult(text, { tables: tables.map(({ name, type }) => ({ name, type })) });
    }),
  );

  server.registerResource(
    'schema',
    'schema://database',
    { description: 'The schema of every table and view', mimeType: 'text/plain' },
    (uri) =>
      guardedRead('reading the schema', async () => {
        const parts: string[] = [];
        for (const t of await engine.tables()) parts.push((await engine.describe(t.name)) ?? t.name);
        return {
          contents: [
            {
              uri: uri.href,
              mimeType: 'text/plain',
              text: parts.join('\n\n') || 'the database has no tables',
            },
          ],
        };
      }),
  );

  server.registerResource(
    'table-schema',
    new ResourceTemplate('schema://database/{table_name}', {
      list: async () => ({
        resources: (await engine.tables()).map((t) => ({
          uri: `schema://database/${encodeURIComponent(t.name)}`,
          name: t.name,
          mimeType: 'text/plain',
        })),
      }),
    }),
    { description: 'The schema of one table or view', mimeType: 'text/plain' },
    (uri, variables) =>
      guardedRead('reading the table schema', async () => {
        const raw = String(variables.table_name);
        let name: string;
        try {
          name = decodeURIComponent(raw);
        } catch {
          throw new ToolError(`invalid table name in URI: ${JSON.stringify(raw)}`);
        }
        const text = await engine.describe(name);
        if (text === undefined) throw new ToolError(`no table or view named ${JSON.stringify(name)}`);
        return { contents: [{ uri: uri.href, mimeType: 'text/plain', text }] };
      }),
  );

  return {
    server,
    close: async () => {
      await server.close();
      await engine.close();
    },
  };
}

export const sql: BuiltinDefinition<SqlOptions> = { optionsSchema: sqlOptions, create };
