// PostgreSQL is read-only by privilege, not by blocklist: the sql server refuses a superuser (or a role
// that reads server files, runs programs or signals sessions) unless allow_superuser is set, saying so in
// /readyz; as a reader role, functions the blocklist never sees are stopped by the database itself; and
// no session state (advisory locks, settings) survives a query on a pooled connection.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectInProcess, text, type Connected } from '../builtin-servers/helpers.js';
import { connectClient, startGateway, type RunningGateway } from '../helpers/gateway.js';

const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/test';
const tag = `sb_priv_${process.pid}`;
const reader = `${tag}_reader`; // LOGIN, pg_read_all_data: the documented role
const signaller = `${tag}_signal`; // reader rights plus pg_signal_backend
const login = `${tag}_login`; // an unprivileged login that may SET ROLE to the reader
const urlAs = (role: string) => `postgres://${role}@127.0.0.1:5432/test`;
const admin = new pg.Client({ connectionString: ADMIN_URL });

beforeAll(async () => {
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS ${tag} CASCADE;
    DROP ROLE IF EXISTS ${reader}; DROP ROLE IF EXISTS ${signaller}; DROP ROLE IF EXISTS ${login};
    CREATE ROLE ${reader} LOGIN; GRANT pg_read_all_data TO ${reader};
    CREATE ROLE ${signaller} LOGIN; GRANT pg_read_all_data, pg_signal_backend TO ${signaller};
    CREATE ROLE ${login} LOGIN NOINHERIT; GRANT ${reader} TO ${login};
    CREATE SCHEMA ${tag};
    GRANT USAGE ON SCHEMA ${tag} TO PUBLIC;
    -- Functions whose names are on no blocklist, wrapping what the blocklist exists for. Plain SQL
    -- functions run with the caller's rights, as any function an application defines would.
    CREATE FUNCTION ${tag}.peek(p text) RETURNS text LANGUAGE sql AS 'SELECT pg_read_file(p)';
    CREATE FUNCTION ${tag}.ls() RETURNS SETOF text LANGUAGE sql AS $$SELECT pg_ls_dir('.')$$;
    CREATE FUNCTION ${tag}.kill(p int) RETURNS boolean LANGUAGE sql AS 'SELECT pg_terminate_backend(p)';
    CREATE FUNCTION ${tag}.hold() RETURNS text LANGUAGE sql AS 'SELECT pg_advisory_lock(8642)::text';
    CREATE FUNCTION ${tag}.stick() RETURNS text LANGUAGE sql
      AS $$SELECT set_config('switchboard.probe', 'leaked', false)$$;
    CREATE FUNCTION ${tag}.escalate() RETURNS text LANGUAGE sql
      AS $$SELECT set_config('role', 'postgres', false)$$;`);
});
afterAll(async () => {
  await admin.query(`DROP SCHEMA IF EXISTS ${tag} CASCADE;
    DROP ROLE IF EXISTS ${login}; DROP ROLE IF EXISTS ${reader}; DROP ROLE IF EXISTS ${signaller};`);
  await admin.end();
});

const query = async (c: Connected, sql: string) => {
  const result = await c.client.callTool({ name: 'run_sql_query', arguments: { query: sql } });
  return { isError: result.isError === true, text: text(result) };
};

describe('the sql server refuses roles that reach outside the database', () => {
  it('a superuser is refused at start-up with the option and the fix named', async () => {
    await expect(connectInProcess('sql', { url: ADMIN_URL })).rejects.toThrow(
      /refusing to serve PostgreSQL as role "postgres": it is a superuser.*GRANT pg_read_all_data TO switchboard_reader.*allow_superuser: true/,
    );
  });

  it('a role holding pg_signal_backend is refused, naming the right', async () => {
    await expect(connectInProcess('sql', { url: urlAs(signaller) })).rejects.toThrow(
      new RegExp(`as role "${signaller}": it holds pg_signal_backend`),
    );
  });

  it('SET ROLE from a superuser login is refused: set_config could switch back', async () => {
    await expect(connectInProcess('sql', { url: ADMIN_URL, role: reader })).rejects.toThrow(
      /role "postgres" \(the login; SET ROLE .* can be undone/,
    );
  });

  it('a role the login cannot switch to fails start-up naming the role: option', async () => {
    await expect(connectInProcess('sql', { url: urlAs(reader), role: signaller })).rejects.toThrow(
      `sql: cannot switch to the role "${signaller}" (role:): permission denied to set role "${signaller}"`,
    );
  });

  it('allow_superuser: true serves as a superuser (the explicit opt-in)', async () => {
    const c = await connectInProcess('sql', { url: ADMIN_URL, allow_superuser: true });
    try {
      expect(await query(c, 'SELECT current_user AS u')).toMatchObject({ isError: false });
    } finally {
      await c.close();
    }
  });

  it('an unprivileged login with role: runs every query as that role', async () => {
    const c = await connectInProcess('sql', { url: urlAs(login), role: reader });
    try {
      const result = await query(c, 'SELECT current_user AS u, session_user AS s');
      expect(result.text).toContain(`${reader} | ${login}`);
    } finally {
      await c.close();
    }
  });

  it('the refusal is the upstream error in /readyz, and the other upstreams keep serving', async () => {
    const gw: RunningGateway = await startGateway({
      upstreams: {
        pgsuper: { builtin: 'sql', url: ADMIN_URL },
        pgreader: { builtin: 'sql', url: urlAs(reader) },
      },
    });
    try {
      const ready = (await (await fetch(gw.url.replace(/\/mcp$/, '/readyz'))).json()) as {
        upstreams: Record<string, { state: string; error?: string }>;
      };
      expect(ready.upstreams.pgsuper.state).toBe('down');
      expect(ready.upstreams.pgsuper.error).toMatch(/it is a superuser.*allow_superuser: true/);
      expect(ready.upstreams.pgreader.state).toBe('ready');
      const client = await connectClient(gw.url);
      const result = await client.callTool({
        name: 'pgreader__run_sql_query',
        arguments: { query: 'SELECT 1 AS one' },
      });
      expect(result.isError).toBeFalsy();
      await client.close();
    } finally {
      await gw.close();
    }
  });
});

describe('as the reader role, the database stops what the blocklist misses', () => {
  let c: Connected;
  beforeAll(async () => {
    c = await connectInProcess('sql', { url: urlAs(reader), statement_timeout_ms: 2000 });
  });
  afterAll(async () => c?.close());

  it.each([
    [
      'reading a server file through a wrapper function',
      `SELECT ${tag}.peek('/etc/hostname')`,
      /permission denied for function pg_read_file/,
    ],
    [
      'listing a server directory through a wrapper function',
      `SELECT * FROM ${tag}.ls()`,
      /permission denied for function pg_ls_dir/,
    ],
    [
      'switching back to a superuser through set_config',
      `SELECT ${tag}.escalate()`,
      /permission denied to set role "postgres"/,
    ],
  ])('%s is refused by the database', async (_name, sql, message) => {
    const result = await query(c, sql);
    expect(result.isError).toBe(true);
    expect(result.text).toMatch(message);
  });

  it("ending another role's session through a wrapper function is refused, and that session lives on", async () => {
    const pid = (await admin.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const result = await query(c, `SELECT ${tag}.kill(${pid})`);
    expect(result.isError).toBe(true);
    expect(result.text).toMatch(/permission denied to terminate process|must be a superuser to terminate/);
    expect((await admin.query('SELECT 1 AS ok')).rows[0].ok).toBe(1);
  });

  it('SQL text run by ts_stat never reaches the database: the parser refuses the function', async () => {
    const result = await query(
      c,
      `SELECT * FROM ts_stat('SELECT to_tsvector(${tag}.peek(''/etc/hostname''))')`,
    );
    expect(result).toMatchObject({ isError: true, text: expect.stringMatching(/ts_stat has side effects/) });
  });

  it('a session-level advisory lock taken by a query is gone once the query returns', async () => {
    const result = await query(c, `SELECT ${tag}.hold() AS locked`);
    expect(result.isError).toBe(false);
    const held = await admin.query(
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = 8642",
    );
    expect(held.rows[0].n).toBe(0);
  });

  it('a session setting made with set_config(..., false) does not reach the next query on any pooled connection', async () => {
    expect((await query(c, `SELECT ${tag}.stick() AS v`)).text).toContain('leaked');
    // Several queries at once check out every pooled connection, the dirty one among them.
    const probes = await Promise.all(
      Array.from({ length: 8 }, () =>
        query(c, "SELECT coalesce(current_setting('switchboard.probe', true), '') AS v"),
      ),
    );
    for (const probe of probes) expect(probe.text).not.toContain('leaked');
  });
});
