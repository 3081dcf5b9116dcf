// Versioned migrations: plain SQL files per dialect under ./migrations/<dialect>/, named
// NNNN_description.sql and numbered 1, 2, 3... without gaps. Applied migrations are recorded in
// `schema_migrations`; an applied migration must never be edited, only followed by a new one.
// (A build that bundles src/ must copy the .sql files next to this module.)
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { StoreError } from './errors.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  /** SHA-256 of the SQL, recorded for diagnosis when a schema looks wrong. */
  checksum: string;
}

const cache = new Map<Dialect, Migration[]>();

export function loadMigrations(dialect: Dialect): Migration[] {
  const cached = cache.get(dialect);
  if (cached) return cached;
  const dir = fileURLToPath(new URL(`./migrations/${dialect}/`, import.meta.url));
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.sql'));
  } catch (error) {
    throw new StoreError('migration_failed', `cannot read the ${dialect} migrations in ${dir}`, { cause: error });
  }
  const migrations: Migration[] = [];
  for (const name of names) {
    const m = /^(\d{4})_([a-z0-9_]+)\.sql$/.exec(name);
    if (!m) throw new StoreError('migration_failed', `migration file ${name} is not named NNNN_name.sql`);
    const sql = readFileSync(`${dir}/${name}`, 'utf8');
    migrations.push({
      version: Number(m[1]),
      name: m[2]!,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  migrations.sort((a, b) => a.version - b.version);
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new StoreError('migration_failed', `${dialect} migrations must be numbered 1, 2, 3...; found ${m.version} at position ${i + 1}`);
    }
  });
  cache.set(dialect, migrations);
  return migrations;
}

/** The newest schema version this code knows for a dialect. */
export function latestVersion(dialect: Dialect): number {
  return loadMigrations(dialect).length;
}

export function schemaTooNew(found: number, known: number): StoreError {
  return new StoreError(
    'schema_too_new',
    `the store's schema is at version ${found}, but this Sluice only knows versions up to ${known}: ` +
      'a newer Sluice has migrated this database. Upgrade Sluice, or point it at another store.',
  );
}
