// The slice of pg-cursor's API the PostgreSQL engine uses (the package ships no types).
declare module 'pg-cursor' {
  import type { FieldDef, Submittable } from 'pg';

  export default class Cursor implements Submittable {
    constructor(text: string, values?: unknown[], config?: { rowMode?: 'array' });
    submit: Submittable['submit'];
    read(
      rows: number,
      cb: (err: Error | undefined, rows: unknown[][], result: { fields: FieldDef[] }) => void,
    ): void;
    close(): Promise<void>;
  }
}
