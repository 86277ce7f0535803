// The SQL read-only gate, of the built-in sql server and of the `sql` guard on any upstream's tools: a real SQL
// parser (libpg-query for PostgreSQL, node-sql-parser for SQLite) must see exactly one plain SELECT, with no
// writes anywhere inside and no side-effect function.
import { ToolError } from './tool-error.js';

// The parsers load only for the dialect in use (node-sql-parser's SQLite build, libpg-query's WASM).
type Parse = (query: string) => unknown;
let pgParse: Parse | undefined;
let sqliteParse: Parse | undefined;

/** Functions with side effects outside the query: files, large objects, remote links, sleeps, config, signals. */
const PG_DENY_EXACT = new Set([
  'pg_read_file',
  'pg_read_binary_file',
  'pg_stat_file',
  'pg_ls_dir',
  'pg_sleep',
  'pg_sleep_for',
  'pg_sleep_until',
  'pg_terminate_backend',
  'pg_cancel_backend',
  'pg_reload_conf',
  'pg_rotate_logfile',
  'pg_promote',
  'pg_switch_wal',
  'pg_create_restore_point',
  'pg_notify',
  'set_config',
  'loread',
  'lowrite',
  'nextval',
  'setval',
  'txid_current',
  'pg_current_xact_id',
  'pg_import_system_collations',
  'pg_drop_replication_slot',
  'pg_logdir_ls',
  'pg_backup_start',
  'pg_backup_stop',
  'pg_wal_replay_pause',
  'pg_wal_replay_resume',
  'ts_stat', // runs the SQL text it is given, which this gate never sees
  'ts_rewrite',
]);
const PG_DENY_PREFIX = [
  'lo_',
  'dblink',
  'pg_ls_',
  'pg_file_',
  'pg_read_',
  'pg_advisory',
  'pg_try_advisory',
  'pg_logical_',
  'pg_replication_',
  'pg_create_',
  'pg_stat_reset',
  'query_to_xml',
  'cursor_to_xml',
  'table_to_xml',
  'schema_to_xml',
  'database_to_xml',
];
const SQLITE_DENY = new Set([
  'load_extension',
  'readfile',
  'writefile',
  'edit',
  'fts3_tokenizer',
  'sqlite_dbpage',
]);

function pgDenied(name: string): boolean {
  return PG_DENY_EXACT.has(name) || PG_DENY_PREFIX.some((p) => name.startsWith(p));
}

/**
 * Loads the parser of a dialect and returns its checker: it throws ToolError unless the query is exactly
 * one plain read, and returns the text to run (PostgreSQL: the statement without a trailing `;`).
 */
export async function loadGuard(dialect: 'sqlite' | 'postgres'): Promise<(query: string) => string> {
  if (dialect === 'postgres') {
    const pg = await import('libpg-query');
    await pg.loadModule(); // WASM: loaded once before the first synchronous parse
    pgParse = pg.parseSync;
    return checkPostgres;
  }
  const { default: sqlParser } = await import('node-sql-parser/build/sqlite.js');
  const parser = new sqlParser.Parser();
  sqliteParse = (query) => parser.astify(query, { database: 'sqlite' });
  return (query) => {
    checkSqlite(query);
    return query;
  };
}

/** Visits every object in a parse tree with the key it sits under. */
function walkTree(
  node: unknown,
  visit: (key: string, value: Record<string, unknown>) => void,
  key = '',
): void {
  if (Array.isArray(node)) {
    for (const item of node) walkTree(item, visit, key);
  } else if (node && typeof node === 'object') {
    visit(key, node as Record<string, unknown>);
    for (const [k, v] of Object.entries(node)) walkTree(v, visit, k);
  }
}

/** Checks a PostgreSQL query; returns the text of its one statement (without a trailing `;`). */
function checkPostgres(query: string): string {
  let tree: { stmts?: { stmt: Record<string, unknown>; stmt_location?: number; stmt_len?: number }[] };
  try {
    tree = pgParse!(query) as typeof tree;
  } catch (err) {
    throw new ToolError(`the query does not parse as PostgreSQL: ${(err as Error).message}`);
  }
  const stmts = tree.stmts ?? [];
  if (stmts.length !== 1)
    throw new ToolError(`exactly one statement is allowed; the query has ${stmts.length}`);
  const [kind] = Object.keys(stmts[0].stmt);
  if (kind !== 'SelectStmt') throw new ToolError(`only SELECT queries are allowed; this is ${kind}`);
  walkTree(stmts[0].stmt, (key, value) => {
    for (const k of Object.keys(value)) {
      if (k.endsWith('Stmt') && k !== 'SelectStmt')
        throw new ToolError(`only reads are allowed; the query contains ${k}`);
      if (k === 'intoClause' || k === 'IntoClause')
        throw new ToolError('SELECT INTO creates a table; not allowed');
      if (k === 'lockingClause' || k === 'LockingClause')
        throw new ToolError('row locks (FOR UPDATE/SHARE) are not allowed');
      if (k === 'ParamRef') throw new ToolError('query parameters ($1) are not supported');
    }
    if (key === 'FuncCall') {
      const parts = (value.funcname as { String?: { sval?: string } }[]).map((p) => p.String?.sval ?? '');
      const name = parts[parts.length - 1].toLowerCase();
      if (pgDenied(name))
        throw new ToolError(`function ${parts.join('.')} has side effects outside the query; refused`);
    }
  });
  const { stmt_location: start = 0, stmt_len: len = 0 } = stmts[0];
  return query.slice(start, len ? start + len : undefined);
}

const SQLITE_STATEMENT_TYPES = new Set([
  'insert',
  'replace',
  'update',
  'delete',
  'create',
  'drop',
  'alter',
  'attach',
  'detach',
  'pragma',
  'vacuum',
  'truncate',
  'rename',
  'transaction',
  'set',
  'use',
  'lock',
  'unlock',
  'call',
  'exec',
  'load_data',
  'grant',
  'revoke',
]);

/** Checks a SQLite query with node-sql-parser (SQLite dialect). */
function checkSqlite(query: string): void {
  let ast: unknown;
  try {
    ast = sqliteParse!(query);
  } catch (err) {
    throw new ToolError(
      `the query does not parse as a SQLite SELECT: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  const stmts = (Array.isArray(ast) ? ast : [ast]) as { type?: string }[];
  if (stmts.length !== 1)
    throw new ToolError(`exactly one statement is allowed; the query has ${stmts.length}`);
  if (stmts[0].type !== 'select')
    throw new ToolError(`only SELECT queries are allowed; this is ${stmts[0].type ?? 'unknown'}`);
  walkTree(stmts[0], (_key, value) => {
    const type = value.type;
    if (typeof type === 'string' && SQLITE_STATEMENT_TYPES.has(type.toLowerCase())) {
      throw new ToolError(`only reads are allowed; the query contains ${type.toUpperCase()}`);
    }
    if (type === 'function' || type === 'aggr_func') {
      const raw = value.name as string | { name?: { value?: string }[] };
      const name = (
        typeof raw === 'string' ? raw : (raw?.name ?? []).map((p) => p.value ?? '').join('.')
      ).toLowerCase();
      if (SQLITE_DENY.has(name.split('.').pop() ?? ''))
        throw new ToolError(`function ${name} has side effects outside the query; refused`);
    }
  });
}
