// Shared test helpers: temp dirs, a throwaway embedded store, a unique PostgreSQL table.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openStore } from '../src/store/open.js';
import type { Store } from '../src/store/store.js';

export function tempDir(prefix = 'sluice-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export async function tempStore(): Promise<{ store: Store; dir: string; file: string; cleanup(): Promise<void> }> {
  const dir = tempDir('sluice-store-');
  const file = join(dir.path, 'sluice.db');
  const store = await openStore(`sqlite:${file}`);
  return {
    store,
    dir: dir.path,
    file,
    async cleanup() {
      await store.close().catch(() => undefined);
      dir.remove();
    },
  };
}

export const PG = { host: '127.0.0.1', port: 5432, database: 'test', user: 'root' };

export function uniqueName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

/** Runs SQL directly on the test database, bypassing Sluice (setup and checks). */
export async function directSql<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<T>> {
  const client = new pg.Client(PG);
  await client.connect();
  try {
    return await client.query<T>(sql, params);
  } finally {
    await client.end();
  }
}
