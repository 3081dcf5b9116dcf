// A fresh PostgreSQL database per test file (test files run concurrently against one server),
// dropped afterwards. The server is real: 127.0.0.1:5432 with trust auth, or SLUICE_TEST_PG_ADMIN.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const ADMIN_URLS = process.env.SLUICE_TEST_PG_ADMIN
  ? [process.env.SLUICE_TEST_PG_ADMIN]
  : ['postgres://root@127.0.0.1:5432/postgres', 'postgres://postgres@127.0.0.1:5432/postgres'];

export interface TestDatabase {
  name: string;
  /** URL of the new database, for PostgresStore. */
  url: string;
  /** Runs SQL on the test database directly, bypassing Sluice. */
  sql<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<T>>;
  drop(): Promise<void>;
}

async function adminClient(): Promise<{ client: pg.Client; url: string }> {
  let last: unknown;
  for (const url of ADMIN_URLS) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
      return { client, url };
    } catch (error) {
      last = error;
      await client.end().catch(() => undefined);
    }
  }
  throw new Error(`no PostgreSQL for the tests (tried ${ADMIN_URLS.join(', ')}): ${(last as Error)?.message}`);
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `sluice_test_${randomBytes(6).toString('hex')}`;
  const { client: admin, url: adminUrl } = await adminClient();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  pool.on('error', () => undefined);
  return {
    name,
    url,
    sql: (text, values) => pool.query(text, values),
    async drop() {
      await pool.end().catch(() => undefined);
      const { client } = await adminClient();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
