// Audit stores opened twice: once as Sluice opens them, once with the raw write access an
// attacker with database access has, on SQLite and PostgreSQL, for the tests that tamper with
// the ledger behind the store's back.
import { join } from 'node:path';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { createTestDatabase, type TestDatabase } from '../store/pg-helper.js';
import { openRawSqlite } from '../store/raw-sqlite.js';
import { tempDir } from '../helpers.js';

export interface RawAuditAccess {
  /** Runs SQL with `?` placeholders; `audit` and `meta` name the store's own tables. */
  run(sql: string, params?: unknown[]): Promise<void>;
  /** Lifts the append-only triggers (what an attacker with write access does first). */
  unlock(): Promise<void>;
}

export interface RawAuditStore {
  store: Store;
  raw: RawAuditAccess;
  close(): Promise<void>;
}

/** The embedded store in `file`, and a second connection to the same file. */
export async function openRawSqliteStore(file: string): Promise<RawAuditStore> {
  const store = await openStore(file);
  const db = openRawSqlite(file);
  return {
    store,
    raw: {
      run: async (sql, params = []) => {
        db.prepare(sql).run(...params);
      },
      unlock: async () => {
        db.exec('DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;');
      },
    },
    close: async () => {
      db.close();
      await store.close();
    },
  };
}

/** A PostgreSQL store in `schema` of the test database, and raw SQL on that schema's tables. */
export async function openRawPostgresStore(db: TestDatabase, schema: string): Promise<RawAuditStore> {
  const store = await openStore(db.url, { schema });
  const qualify = (sql: string) => {
    let n = 0;
    return sql.replace(/\baudit\b/g, `${schema}.audit`).replace(/\bmeta\b/g, `${schema}.meta`).replace(/\?/g, () => `$${++n}`);
  };
  return {
    store,
    raw: {
      run: async (sql, params = []) => {
        await db.sql(qualify(sql), params);
      },
      unlock: async () => {
        await db.sql(`ALTER TABLE ${schema}.audit DISABLE TRIGGER USER`);
      },
    },
    close: () => store.close(),
  };
}

/**
 * A runner for tests that each want a fresh target: `build` gets a new name (`prefix1`,
 * `prefix2`, ...) for every test, and the target is closed whatever the test does.
 */
export function freshTargets<T extends { close(): Promise<void> }>(prefix: string, build: (name: string) => Promise<T>): (fn: (t: T) => Promise<void>) => Promise<void> {
  let counter = 0;
  return async (fn) => {
    const t = await build(`${prefix}${++counter}`);
    try {
      await fn(t);
    } finally {
      await t.close();
    }
  };
}

/**
 * The stores of one test file: raw SQLite stores in temporary folders, raw PostgreSQL stores in
 * schemas of one test database made on first use; `cleanUp` removes them all.
 */
export function rawAuditStores(dirPrefix: string): {
  sqlite(): Promise<RawAuditStore>;
  postgres(schema: string): Promise<RawAuditStore>;
  /** The test database itself, for tests that need more than a store in it. */
  database(): Promise<TestDatabase>;
  cleanUp(): Promise<void>;
} {
  const dirs: { remove(): void }[] = [];
  let db: TestDatabase | undefined;
  const database = async () => (db ??= await createTestDatabase());
  return {
    sqlite: () => {
      const dir = tempDir(dirPrefix);
      dirs.push(dir);
      return openRawSqliteStore(join(dir.path, 'sluice.db'));
    },
    postgres: async (schema) => openRawPostgresStore(await database(), schema),
    database,
    cleanUp: async () => {
      for (const d of dirs) d.remove();
      await db?.drop();
    },
  };
}
