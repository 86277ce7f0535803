// SQLite engine: talks to sqlite-worker in a child process; a query past the statement timeout kills the
// child (the only way to stop better-sqlite3 mid-query) and the next call starts a fresh one.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ToolError } from '../results.js';
import type { QueryResult, SqlEngine, TableInfo, WorkerReply, WorkerRequest } from './types.js';

type Pending = { resolve(v: unknown): void; reject(e: Error): void; timer: NodeJS.Timeout };
type Request = WorkerRequest extends infer R ? (R extends WorkerRequest ? Omit<R, 'id'> : never) : never;

// Under tsx (tests, `node --import tsx`) the worker is a .ts file and the child needs the same loader.
const workerUrl = new URL(
  import.meta.url.endsWith('.ts') ? './sqlite-worker.ts' : './sqlite-worker.js',
  import.meta.url,
);
const execArgv = import.meta.url.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [];

export class SqliteEngine implements SqlEngine {
  readonly dialect = 'sqlite' as const;
  private child: ChildProcess | undefined;
  private ready: Promise<void> | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(
    private readonly file: string,
    private readonly timeoutMs: number,
    private readonly maxBytes: number,
  ) {}

  /** Starts the worker and waits until the database is open (fails clearly when it cannot be). */
  start(): Promise<void> {
    if (this.ready) return this.ready;
    const child = fork(fileURLToPath(workerUrl), [this.file], {
      execArgv,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    this.ready = new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => {
        const said = /^switchboard-sqlite: (.*)$/m.exec(stderr)?.[1];
        reject(
          new Error(
            `sql: could not open SQLite database ${this.file}: ${said ?? `the worker exited with code ${code}`}`,
          ),
        );
      });
    });
    child.on('message', (reply: WorkerReply) => {
      const waiter = this.pending.get(reply.id);
      if (!waiter) return;
      this.pending.delete(reply.id);
      clearTimeout(waiter.timer);
      if (reply.ok) waiter.resolve(reply.result);
      else waiter.reject(new ToolError(reply.error));
    });
    child.on('exit', () => {
      if (this.child === child) this.reset();
      for (const [id, waiter] of this.pending) {
        clearTimeout(waiter.timer);
        waiter.reject(new ToolError('the SQLite worker stopped while running the query (out of memory?)'));
        this.pending.delete(id);
      }
    });
    return this.ready;
  }

  private reset(): void {
    this.child = undefined;
    this.ready = undefined;
  }

  private async call(req: Request): Promise<unknown> {
    await this.start();
    const child = this.child!;
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.reset();
        child.kill('SIGKILL');
        reject(
          new ToolError(
            `the query ran longer than the statement timeout (${this.timeoutMs} ms) and was stopped`,
          ),
        );
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      child.send({ ...req, id } as WorkerRequest);
    });
  }

  async query(sql: string, maxRows: number): Promise<QueryResult> {
    return (await this.call({ op: 'query', sql, maxRows, maxBytes: this.maxBytes })) as QueryResult;
  }

  async tables(): Promise<TableInfo[]> {
    return ((await this.call({ op: 'tables' })) as { tables: TableInfo[] }).tables;
  }

  async describe(name: string): Promise<string | undefined> {
    const r = (await this.call({ op: 'describe', name })) as
      | { found: false }
      | {
          found: true;
          type: string;
          sql: string;
          columns: { name: string; type: string; not_null: number; pk: number }[];
        };
    if (!r.found) return undefined;
    const cols = r.columns.map(
      (c) => `  ${c.name} ${c.type || 'ANY'}${c.not_null ? ' NOT NULL' : ''}${c.pk ? ' PRIMARY KEY' : ''}`,
    );
    return `${r.type} ${name}\ncolumns:\n${cols.join('\n')}\n\n${r.sql};`;
  }

  async close(): Promise<void> {
    const child = this.child;
    this.reset();
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
  }
}
