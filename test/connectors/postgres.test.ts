import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import pg from 'pg';
import { createPostgresConnector, parseCommandTag, redactSecrets, type PostgresConnectorOptions } from '../../src/connectors/postgres.js';
import type { Connector } from '../../src/connectors/connector.js';
import { startScramServer, type ScramServer } from './helpers/scram-postgres.js';

// The shared server from the environment: trust auth on 127.0.0.1:5432.
const LOCAL = { host: '127.0.0.1', port: 5432, database: 'test', user: 'postgres' };
const ctx = { session: 'pg-test' };
// Unique per run: test files run concurrently against the same server.
const schema = `sluice_pgconn_${process.pid}_${Date.now().toString(36)}`;
const appName = `sluice-test-${process.pid}`;

const connectors: Connector[] = [];
function connector(overrides: Partial<PostgresConnectorOptions> = {}): Connector {
  const c = createPostgresConnector({ ...LOCAL, applicationName: appName, ...overrides });
  connectors.push(c);
  return c;
}

let admin: pg.Client;

before(async () => {
  admin = new pg.Client(LOCAL);
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
});

after(async () => {
  await Promise.allSettled(connectors.map((c) => c.close()));
  await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.end();
});

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 1));
    });
  });
}

void describe('postgres connector: results', () => {
  void it('returns columns with types and rows as arrays, converting only lossless types', async () => {
    const r = await connector().execute(
      `SELECT 1::int4 AS a, 'x'::text AS b, NULL::int AS c, true AS d, 1.5::float8 AS e, '{"k":[1,2]}'::jsonb AS f,
              12345678901234567::int8 AS g, 1.10::numeric AS h, '2024-01-02 03:04:05'::timestamp AS i,
              'NaN'::float8 AS j`,
      ctx,
    );
    assert.equal(r.ok, true, r.error?.message);
    assert.deepEqual(r.columns, [
      { name: 'a', type: 'int4' },
      { name: 'b', type: 'text' },
      { name: 'c', type: 'int4' },
      { name: 'd', type: 'bool' },
      { name: 'e', type: 'float8' },
      { name: 'f', type: 'jsonb' },
      { name: 'g', type: 'int8' },
      { name: 'h', type: 'numeric' },
      { name: 'i', type: 'timestamp' },
      { name: 'j', type: 'float8' },
    ]);
    assert.deepEqual(r.rows, [[1, 'x', null, true, 1.5, { k: [1, 2] }, '12345678901234567', '1.10', '2024-01-02 03:04:05', 'NaN']]);
    assert.equal(r.rowCount, 1);
    assert.equal(r.commandTag, 'SELECT');
    assert.equal(r.truncated, false);
  });

  void it('reports the last statement that returned rows in a multi-statement text', async () => {
    const c = connector();
    const r = await c.execute('SELECT 1 AS first; SELECT 2 AS second, 3 AS third', ctx);
    assert.deepEqual(r.columns?.map((col) => col.name), ['second', 'third']);
    assert.deepEqual(r.rows, [[2, 3]]);

    const table = `${schema}.multi`;
    const mixed = await c.execute(
      `CREATE TABLE ${table} (id int PRIMARY KEY, v text); INSERT INTO ${table} VALUES (1,'a'),(2,'b');
       SELECT id, v FROM ${table} ORDER BY id; UPDATE ${table} SET v = 'c' WHERE id = 1`,
      ctx,
    );
    assert.equal(mixed.ok, true, mixed.error?.message);
    assert.equal(mixed.commandTag, 'SELECT');
    assert.deepEqual(mixed.rows, [[1, 'a'], [2, 'b']]);
    assert.equal(mixed.rowCount, 2);

    const writesOnly = await c.execute(`INSERT INTO ${table} VALUES (3,'x'); DELETE FROM ${table} WHERE id >= 2`, ctx);
    assert.equal(writesOnly.commandTag, 'DELETE');
    assert.equal(writesOnly.rowCount, 2);
    assert.equal(writesOnly.columns, undefined);
  });

  void it('reports rows affected by writes', async () => {
    const c = connector();
    const table = `${schema}.writes`;
    await c.execute(`CREATE TABLE ${table} (id int, status text)`, ctx);
    const insert = await c.execute(`INSERT INTO ${table} VALUES (1,'a'),(2,'a'),(3,'b')`, ctx);
    assert.deepEqual([insert.ok, insert.commandTag, insert.rowCount], [true, 'INSERT', 3]);
    const update = await c.execute(`UPDATE ${table} SET status = 'z' WHERE status = 'a'`, ctx);
    assert.deepEqual([update.commandTag, update.rowCount], ['UPDATE', 2]);
    const ddl = await c.execute(`CREATE INDEX ON ${table} (id)`, ctx);
    assert.deepEqual([ddl.ok, ddl.commandTag, ddl.rowCount], [true, 'CREATE INDEX', undefined]);
  });

  void it('keeps at most maxRows rows, counts the rest and marks the result truncated', async () => {
    const r = await connector({ maxRows: 10 }).execute('SELECT g FROM generate_series(1, 100000) AS g', ctx);
    assert.equal(r.ok, true);
    assert.equal(r.truncated, true);
    assert.equal(r.rows?.length, 10);
    assert.deepEqual(r.rows?.[9], [10]);
    assert.equal(r.rowCount, 100000);
    const exact = await connector({ maxRows: 3 }).execute('SELECT g FROM generate_series(1, 3) AS g', ctx);
    assert.equal(exact.truncated, false);
    assert.equal(exact.rows?.length, 3);
  });

  void it('handles an empty command and COPY FROM STDIN without wedging the connection', async () => {
    const c = connector({ maxConnections: 1 });
    const empty = await c.execute('-- nothing', ctx);
    assert.equal(empty.ok, true);
    await c.execute(`CREATE TABLE ${schema}.copyin (v text)`, ctx);
    const copy = await c.execute(`COPY ${schema}.copyin FROM STDIN`, ctx);
    assert.equal(copy.ok, false);
    assert.equal(copy.error?.code, '57014');
    const after = await c.execute('SELECT 42', ctx);
    assert.deepEqual(after.rows, [[42]]);
  });
});

void describe('postgres connector: errors', () => {
  void it('returns the SQLSTATE and the server message for SQL errors', async () => {
    const c = connector();
    const missing = await c.execute('SELECT * FROM sluice_no_such_table_xyz', ctx);
    assert.equal(missing.ok, false);
    assert.equal(missing.error?.code, '42P01');
    assert.match(missing.error?.message ?? '', /relation "sluice_no_such_table_xyz" does not exist \(at character 15\)/);
    const syntax = await c.execute('SELEC 1', ctx);
    assert.equal(syntax.error?.code, '42601');
    const zero = await c.execute('SELECT 1/0', ctx);
    assert.equal(zero.error?.code, '22012');
  });

  void it('rolls back the whole text when a later statement fails, and leaves out row data in DETAIL', async () => {
    const c = connector();
    const table = `${schema}.atomic`;
    await c.execute(`CREATE TABLE ${table} (email text UNIQUE)`, ctx);
    await c.execute(`INSERT INTO ${table} VALUES ('alice@example.com')`, ctx);
    const r = await c.execute(`INSERT INTO ${table} VALUES ('bob@example.com'); INSERT INTO ${table} VALUES ('alice@example.com')`, ctx);
    assert.equal(r.error?.code, '23505');
    assert.doesNotMatch(r.error?.message ?? '', /alice@example\.com/);
    const rows = await c.execute(`SELECT email FROM ${table} ORDER BY 1`, ctx);
    assert.deepEqual(rows.rows, [['alice@example.com']]);
  });

  void it('reports an unreachable upstream as upstream_unavailable without the password', async () => {
    const port = await freePort();
    const password = 'Sup3r-Secret-Pw!';
    const r = await connector({ port, password, connectTimeoutMs: 2000 }).execute('SELECT 1', ctx);
    assert.equal(r.ok, false);
    assert.equal(r.error?.code, 'upstream_unavailable');
    assert.match(r.error?.message ?? '', new RegExp(`cannot connect to the upstream database at 127\\.0\\.0\\.1:${port}: connection refused`));
    assert.ok(!JSON.stringify(r).includes(password));
  });

  void it('reports an unknown database as upstream_unavailable with its SQLSTATE', async () => {
    const r = await connector({ database: 'sluice_no_such_db' }).execute('SELECT 1', ctx);
    assert.equal(r.error?.code, 'upstream_unavailable');
    assert.match(r.error?.message ?? '', /sluice_no_such_db.*3D000/);
  });

  void it('reports a pool whose connections all stay busy as upstream_busy', async () => {
    const c = connector({ maxConnections: 1, connectTimeoutMs: 300 });
    const slow = c.execute('SELECT pg_sleep(1)', ctx);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const r = await c.execute('SELECT 1', ctx);
    assert.equal(r.error?.code, 'upstream_busy');
    assert.match(r.error?.message ?? '', /all 1 connections .* busy for 300 ms/);
    assert.equal((await slow).ok, true);
  });

  void it('rejects invalid options at construction', () => {
    assert.throws(() => createPostgresConnector({ ...LOCAL, port: 0 }), TypeError);
    assert.throws(() => createPostgresConnector({ ...LOCAL, host: '' }), TypeError);
    assert.throws(() => createPostgresConnector({ ...LOCAL, maxRows: 0 }), TypeError);
    assert.throws(() => createPostgresConnector({ ...LOCAL, statementTimeoutMs: -1 }), TypeError);
  });
});

void describe('postgres connector: cancellation and timeouts', () => {
  async function activeSleeps(): Promise<number> {
    const r = await admin.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' AND query LIKE '%pg_sleep%'`,
      [appName],
    );
    return (r.rows[0] as { n: number }).n;
  }

  /** The server sends the cancel's ErrorResponse before it marks the backend idle: allow it 2 s to get there. */
  async function activeSleepsSettled(): Promise<number> {
    let active = await activeSleeps();
    for (let i = 0; active > 0 && i < 40; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      active = await activeSleeps();
    }
    return active;
  }

  void it('cancels a running query on the server when the caller aborts', async () => {
    const c = connector({ maxConnections: 1 });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 300);
    const r = await c.execute('SELECT pg_sleep(30)', { session: 's', signal: controller.signal });
    const elapsed = Date.now() - started;
    assert.equal(r.ok, false);
    assert.equal(r.error?.code, 'aborted');
    assert.ok(elapsed < 3000, `returned after ${elapsed} ms`);
    assert.equal(await activeSleepsSettled(), 0, 'the backend no longer runs the query');
    const next = await c.execute('SELECT 7', ctx);
    assert.deepEqual(next.rows, [[7]], 'the connector stays usable');
  });

  void it('does not run a command whose signal is already aborted', async () => {
    const r = await connector().execute('SELECT 1', { session: 's', signal: AbortSignal.abort() });
    assert.equal(r.error?.code, 'aborted');
  });

  void it('applies statement_timeout on every connection', async () => {
    const c = connector({ statementTimeoutMs: 300 });
    const r = await c.execute('SELECT pg_sleep(5)', ctx);
    assert.equal(r.ok, false);
    assert.equal(r.error?.code, '57014');
    assert.match(r.error?.message ?? '', /statement timeout/);
  });

  void it('enforces the timeout client-side when the command turns statement_timeout off', async () => {
    const c = connector({ statementTimeoutMs: 300, maxConnections: 1 });
    const started = Date.now();
    const r = await c.execute('SET statement_timeout = 0; SELECT pg_sleep(20)', ctx);
    const elapsed = Date.now() - started;
    assert.equal(r.error?.code, 'timeout');
    assert.equal(r.timedOut, true);
    assert.ok(elapsed >= 1200 && elapsed < 5000, `returned after ${elapsed} ms`);
    assert.equal(await activeSleepsSettled(), 0);
  });
});

void describe('postgres connector: session isolation', () => {
  void it('resets session state and never reuses a connection left in a transaction', async () => {
    const c = connector({ maxConnections: 1, statementTimeoutMs: 4000 });
    const table = `${schema}.iso`;
    await c.execute(`CREATE TABLE ${table} (v int)`, ctx);
    const set = await c.execute(`SET search_path TO ${schema}; SET statement_timeout = 0; SHOW search_path`, ctx);
    assert.deepEqual(set.rows, [[schema]]);
    const shown = await c.execute('SHOW search_path', ctx);
    assert.deepEqual(shown.rows, [['"$user", public']]);
    const timeout = await c.execute('SHOW statement_timeout', ctx);
    assert.deepEqual(timeout.rows, [['4s']], 'back to the configured statement_timeout');

    const open = await c.execute(`BEGIN; INSERT INTO ${table} VALUES (1)`, ctx);
    assert.equal(open.ok, true);
    const status = await c.execute(`SELECT count(*)::int FROM ${table}`, ctx);
    assert.deepEqual(status.rows, [[0]], 'the uncommitted insert was rolled back');
  });

  void it('runs commands concurrently up to maxConnections', async () => {
    const c = connector({ maxConnections: 3 });
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => c.execute(`SELECT ${i}, pg_sleep(0.3)`, ctx)));
    assert.deepEqual(results.map((r) => r.rows?.[0]?.[0]), [0, 1, 2, 3, 4, 5]);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 1700, `6 × 300 ms on 3 connections took ${elapsed} ms`);
  });

  void it('close() cancels running queries and returns promptly', async () => {
    const c = connector();
    const running = c.execute('SELECT pg_sleep(30)', ctx);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    await c.close();
    assert.ok(Date.now() - started < 3000);
    const r = await running;
    assert.equal(r.error?.code, 'aborted');
  });

  void it('refuses commands after close()', async () => {
    const c = connector();
    await c.execute('SELECT 1', ctx);
    await c.close();
    const r = await c.execute('SELECT 1', ctx);
    assert.equal(r.error?.code, 'closed');
  });
});

void describe('postgres connector: credential injection (SCRAM-SHA-256 server)', () => {
  let server: ScramServer | undefined;
  before(async () => {
    server = await startScramServer();
  });
  after(async () => {
    await server?.stop();
  });

  void it('connects with the configured password, which never appears in results', async (t) => {
    if (!server) return t.skip('PostgreSQL server binaries not installed');
    const c = connector({ host: server.host, port: server.port, database: server.database, user: server.user, password: server.password });
    const r = await c.execute("SELECT current_user, (SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' LIMIT 1)", ctx);
    assert.equal(r.ok, true, r.error?.message);
    assert.deepEqual(r.rows, [[server.user, 'scram-sha-256']]);
    assert.ok(!JSON.stringify(r).includes(server.password));
  });

  void it('reports a wrong or missing password as upstream_unavailable, naming neither password nor user', async (t) => {
    if (!server) return t.skip('PostgreSQL server binaries not installed');
    const base = { host: server.host, port: server.port, database: server.database, user: server.user };
    const wrong = await connector({ ...base, password: `${server.password}-wrong` }).execute('SELECT 1', ctx);
    assert.equal(wrong.error?.code, 'upstream_unavailable');
    assert.match(wrong.error?.message ?? '', /rejected the gateway's credentials \(SQLSTATE 28P01\)/);
    assert.ok(!JSON.stringify(wrong).includes(server.password));
    assert.ok(!JSON.stringify(wrong).includes(server.user));

    // With no password configured the gateway's own PGPASSWORD must not be used either.
    process.env.PGPASSWORD = server.password;
    try {
      const missing = await connector(base).execute('SELECT 1', ctx);
      assert.equal(missing.ok, false);
      assert.equal(missing.error?.code, 'upstream_unavailable');
    } finally {
      delete process.env.PGPASSWORD;
    }
  });
});

void describe('postgres connector: helpers', () => {
  void it('parses command tags', () => {
    assert.deepEqual(parseCommandTag('SELECT 5'), { tag: 'SELECT', count: 5 });
    assert.deepEqual(parseCommandTag('INSERT 0 3'), { tag: 'INSERT', count: 3 });
    assert.deepEqual(parseCommandTag('CREATE TABLE'), { tag: 'CREATE TABLE' });
    assert.deepEqual(parseCommandTag('COPY 12'), { tag: 'COPY', count: 12 });
  });

  void it('redacts secrets and URL passwords', () => {
    assert.equal(redactSecrets('auth failed for hunter2 and hunter2', ['hunter2']), 'auth failed for [redacted] and [redacted]');
    assert.equal(redactSecrets('postgres://app:s3cr3t@db:5432/x', []), 'postgres://app:[redacted]@db:5432/x');
  });
});
