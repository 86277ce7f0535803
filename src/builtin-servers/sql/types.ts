// Shapes shared by the sql server, its engines and the SQLite worker process.

export interface QueryResult {
  columns: string[];
  rows: unknown[][];
  truncated: boolean; // cut by max_rows or the byte cap
}

export interface TableInfo {
  name: string; // as used in schema://database/{table_name} (PostgreSQL: schema.table outside `public`)
  type: string;
  schema?: string; // PostgreSQL: the parts of the name, kept apart (names may contain dots)
  table?: string;
}

export interface SqlEngine {
  readonly dialect: 'sqlite' | 'postgres';
  /** Runs a query that already passed the parser gate. */
  query(sql: string, maxRows: number): Promise<QueryResult>;
  tables(): Promise<TableInfo[]>;
  /** Describes a table named exactly as in tables(); undefined when there is none. */
  describe(name: string): Promise<string | undefined>;
  close(): Promise<void>;
}

export type WorkerRequest =
  | { id: number; op: 'query'; sql: string; maxRows: number; maxBytes: number }
  | { id: number; op: 'tables' }
  | { id: number; op: 'describe'; name: string };

export type WorkerReply =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** A JSON-safe cell: big integers as strings, binary as a short description. */
export function toCell(value: unknown): unknown {
  if (typeof value === 'bigint')
    return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Uint8Array) return `<binary ${value.length} bytes>`;
  if (value instanceof Date) return value.toISOString();
  return value;
}
