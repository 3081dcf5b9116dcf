// A direct libsql connection to a store's file, bypassing Sluice (tampering, checks).
import { createRequire } from 'node:module';
import type LibsqlDatabase from 'libsql';

const require = createRequire(import.meta.url);
const Libsql = require('libsql') as typeof LibsqlDatabase;

export type RawSqlite = LibsqlDatabase.Database;

export function openRawSqlite(file: string): RawSqlite {
  return new Libsql(file);
}
