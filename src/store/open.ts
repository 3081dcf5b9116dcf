// Opens the store named by a URL and brings its schema up to date.
//
//   postgres://user:pass@host:5432/db   PostgresStore (postgresql:// too)
//   sqlite:PATH  sqlite://PATH  file:PATH  file:///abs/path  or a plain PATH   SqliteStore
//   sqlite::memory:  or  :memory:                                              in-memory SQLite
import { fileURLToPath } from 'node:url';
import type { Store } from './store.js';
import { StoreError, redactUrl } from './errors.js';
import { latestVersion, schemaTooNew } from './migrations.js';
import { PostgresStore, type PostgresStoreOptions } from './postgres.js';
import { SqliteStore, type SqliteStoreOptions } from './sqlite.js';

export interface OpenStoreOptions {
  /** PostgreSQL only: schema for Sluice's tables (default `sluice`). */
  schema?: string;
  postgres?: Omit<PostgresStoreOptions, 'connectionString' | 'schema'>;
  sqlite?: Omit<SqliteStoreOptions, 'path'>;
  /** Skip migrate() (tools that only inspect); the schema version is still checked. */
  migrate?: boolean;
}

export type StoreTarget = { kind: 'postgres'; url: string } | { kind: 'sqlite'; path: string };

/** Works out which store a URL names, without opening it. */
export function parseStoreUrl(url: string): StoreTarget {
  if (typeof url !== 'string' || url.trim().length === 0) {
    throw new StoreError('invalid', 'the store URL is empty');
  }
  const u = url.trim();
  if (/^postgres(ql)?:\/\//i.test(u)) return { kind: 'postgres', url: u };
  if (/^sqlite:/i.test(u)) {
    let rest = u.slice('sqlite:'.length);
    if (rest.startsWith('//')) rest = rest.slice(2); // sqlite:///abs -> /abs, sqlite://rel -> rel
    if (rest.length === 0) throw new StoreError('invalid', 'sqlite: URL without a path');
    return { kind: 'sqlite', path: rest };
  }
  if (/^file:/i.test(u)) {
    if (/^file:\/\//i.test(u)) {
      try {
        return { kind: 'sqlite', path: fileURLToPath(u) };
      } catch {
        throw new StoreError('invalid', `cannot use the file URL ${redactUrl(u)}`);
      }
    }
    const rest = u.slice('file:'.length);
    if (rest.length === 0) throw new StoreError('invalid', 'file: URL without a path');
    return { kind: 'sqlite', path: rest };
  }
  const scheme = /^([a-z][a-z0-9+.-]+):\/\//i.exec(u);
  if (scheme) {
    throw new StoreError(
      'invalid',
      `unsupported store URL ${redactUrl(u)}: use postgres://..., sqlite:PATH, file:PATH or a file path`,
    );
  }
  return { kind: 'sqlite', path: u };
}

/**
 * Opens and migrates the store `url` names. Refuses (StoreError `schema_too_new`) a database
 * a newer Sluice has migrated, and reports an unreachable server as `unavailable`, with any
 * password in the URL replaced by ***.
 */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  const target = parseStoreUrl(url);
  const store =
    target.kind === 'postgres'
      ? new PostgresStore({ ...options.postgres, connectionString: target.url, schema: options.schema ?? 'sluice' })
      : new SqliteStore({ ...options.sqlite, path: target.path });
  try {
    if (options.migrate === false) {
      const version = await store.schemaVersion();
      const known = latestVersion(store.kind);
      if (version > known) throw schemaTooNew(version, known);
    } else {
      await store.migrate();
    }
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  return store;
}
