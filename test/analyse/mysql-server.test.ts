// The MySQL analyser against a real server: each statement runs on MariaDB (127.0.0.1:3306,
// root without a password, or SLUICE_TEST_MYSQL_URL) in a scratch database of its own, and
// the test checks both what the server really did (a table dropped, rows deleted) and that
// the analyser's verdict covers it. Version comments, comment rules and quoting are where a
// gate and the server most easily disagree, so that is what is run here.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import type { IntentClass } from '../../src/gate/types.js';
import { createMysqlAnalyser, type MysqlAnalyser, type MysqlAnalysisSession } from '../../src/analyse/mysql.js';
import { checkIntent, type Expect } from './helpers.js';

const URL_TEXT = process.env.SLUICE_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

/** What the server did to the scratch table t1 (3 rows before each case) and t2 (3 rows). */
interface Effect {
  /** Rows of t1 left with a non-zero value, or 'dropped'. */
  t1: number | 'dropped';
  t2?: number | 'dropped';
  /** The server rejected the input (possibly after running earlier statements). */
  error?: boolean;
}

interface ServerCase {
  name: string;
  /** `{db}` is replaced by the scratch database. */
  sql: string;
  /** What the server must have done. */
  effect: Effect;
  /** The analyser's verdict without knowing the server (every build's reading counts). */
  cls: IntentClass;
  expect?: Expect;
  /** The verdict when the analyser knows this server's version, if different. */
  withVersion?: { cls: IntentClass; expect?: Expect };
  /** The session's sql_mode as a door knows it from the server's status flags. */
  knownMode?: boolean;
}

const cases: ServerCase[] = [
  {
    name: 'a version comment after a statement runs as a second statement',
    sql: 'SELECT 1; /*!50000 DROP TABLE {db}.t1 */',
    effect: { t1: 'dropped' },
    cls: 'schema',
    expect: { flags: ['multi_statement'], tables: ['w:{db}.t1'] },
  },
  {
    name: 'a version comment without digits is code',
    sql: '/*!DELETE FROM {db}.t1*/',
    effect: { t1: 0 },
    cls: 'write',
    expect: { flags: ['no_where'], onlyTables: ['w:{db}.t1'] },
  },
  {
    name: 'a MariaDB comment with a version below the server is code',
    sql: '/*M!100000 DELETE FROM {db}.t1 */',
    effect: { t1: 0 },
    cls: 'write',
    expect: { flags: ['version_dependent'] },
    withVersion: { cls: 'write', expect: { not: ['version_dependent'] } },
  },
  {
    name: 'MariaDB skips /*! comments for MySQL 5.7+ versions (MySQL 8 would run this one)',
    sql: '/*!80000 DELETE FROM {db}.t1 */',
    effect: { t1: 3 },
    cls: 'write',
    expect: { flags: ['version_dependent'] },
    withVersion: { cls: 'read', expect: { kinds: ['EMPTY'] } },
  },
  {
    name: 'a version comment for a future server hides a WHERE from this one',
    sql: 'UPDATE {db}.t1 SET a = 0 /*!999999 WHERE a = 1 */',
    effect: { t1: 0 },
    cls: 'write',
    expect: { flags: ['no_where'] },
    withVersion: { cls: 'write', expect: { flags: ['no_where'] } },
  },
  {
    name: 'a skipped version comment may hold one nested comment',
    sql: 'SELECT 1 /*!999999 /* inner */ ; DELETE FROM {db}.t1 */ ; DELETE FROM {db}.t2',
    effect: { t1: 3, t2: 0 },
    cls: 'write',
    expect: { tables: ['w:{db}.t2'] },
    withVersion: { cls: 'write', expect: { onlyTables: ['w:{db}.t2'] } },
  },
  {
    name: "a ';' inside a version comment is rejected by MariaDB (and read otherwise by MySQL)",
    sql: 'SELECT 1 /*!50000 ; DROP TABLE {db}.t1 */',
    effect: { t1: 3, error: true },
    cls: 'unknown',
  },
  {
    name: 'an unterminated version comment is a syntax error',
    sql: 'SELECT 1 /*!50000 ; DELETE FROM {db}.t1',
    effect: { t1: 3, error: true },
    cls: 'unknown',
  },
  {
    name: 'tokens do not join across a version comment',
    sql: 'DR/*!50000 OP*/ TABLE {db}.t1',
    effect: { t1: 3, error: true },
    cls: 'unknown',
  },
  {
    name: 'a # comment inside a version comment runs to the end of the line',
    sql: 'SELECT 1 /*!50000 + 1 # */ ; DELETE FROM {db}.t1\n*/; DELETE FROM {db}.t2',
    effect: { t1: 3, t2: 0 },
    cls: 'write',
    expect: { onlyTables: ['w:{db}.t2'] },
  },
  {
    name: "'--' without a space is not a comment",
    sql: 'SELECT 1--1; DELETE FROM {db}.t1',
    effect: { t1: 0 },
    cls: 'write',
    expect: { flags: ['multi_statement', 'no_where'] },
  },
  {
    name: "'-- ' with a space is a comment",
    sql: 'SELECT 1 -- ; DELETE FROM {db}.t1',
    effect: { t1: 3 },
    cls: 'read',
  },
  {
    name: "'--' before a tab is a comment",
    sql: 'SELECT 1 --\t; DELETE FROM {db}.t1',
    effect: { t1: 3 },
    cls: 'read',
  },
  {
    name: "'#' comments end at the newline",
    sql: "SELECT 1 # ' \n; DELETE FROM {db}.t1 -- '",
    effect: { t1: 0 },
    cls: 'write',
  },
  {
    name: 'a backslash escapes the quote in the default sql_mode',
    sql: "SELECT 'a\\'; DELETE FROM {db}.t1; -- '",
    effect: { t1: 3 },
    cls: 'read',
    knownMode: true,
  },
  {
    name: 'without the sql_mode, the NO_BACKSLASH_ESCAPES reading counts too',
    sql: "SELECT 'a\\'; DELETE FROM {db}.t1; -- '",
    effect: { t1: 3 },
    cls: 'write',
    expect: { flags: ['sql_mode_dependent'] },
  },
  {
    name: 'a doubled quote stays inside the string',
    sql: "SELECT 'a'';DROP TABLE {db}.t1;--'",
    effect: { t1: 3 },
    cls: 'read',
    expect: { onlyTables: [] },
  },
  {
    name: 'an escaped backslash ends the string',
    sql: "SELECT 'a\\\\'; DELETE FROM {db}.t1; -- '",
    effect: { t1: 0 },
    cls: 'write',
  },
  {
    name: 'NO_BACKSLASH_ESCAPES set earlier in the input changes where the string ends',
    sql: "SET sql_mode = 'NO_BACKSLASH_ESCAPES'; SELECT 'a\\'; DELETE FROM {db}.t1; -- '",
    effect: { t1: 0 },
    cls: 'write',
    expect: { kinds: ['SET', 'SELECT', 'DELETE'] },
  },
  {
    name: 'a string that mentions a version comment is only a string',
    sql: "SELECT '/*!50000 DELETE FROM {db}.t1 */'",
    effect: { t1: 3 },
    cls: 'read',
  },
  {
    name: 'a version comment can supply a keyword of the statement',
    sql: '/*!50000 DELETE */ FROM {db}.t1 WHERE a = 1',
    effect: { t1: 2 },
    cls: 'write',
    expect: { onlyTables: ['w:{db}.t1'], not: ['no_where'] },
  },
  {
    name: 'PREPARE from a literal, then EXECUTE',
    sql: "PREPARE s FROM 'DELETE FROM {db}.t1 WHERE a > 1'; EXECUTE s; DEALLOCATE PREPARE s",
    effect: { t1: 1 },
    cls: 'write',
    expect: { flags: ['dynamic_sql'], tables: ['w:{db}.t1'] },
  },
  {
    name: 'multi-table DELETE writes only its targets',
    sql: 'DELETE x FROM {db}.t1 AS x JOIN {db}.t2 AS y ON x.a = y.a WHERE y.a = 2',
    effect: { t1: 2, t2: 3 },
    cls: 'write',
    expect: { onlyTables: ['w:{db}.t1', 'r:{db}.t2'] },
  },
  {
    name: 'multi-table UPDATE with a comma join',
    sql: 'UPDATE {db}.t1, {db}.t2 SET t2.a = 0 WHERE t1.a = t2.a',
    effect: { t1: 3, t2: 0 },
    cls: 'write',
    expect: { tables: ['w:{db}.t2'] },
  },
  {
    name: 'SELECT ... FOR UPDATE locks rows',
    sql: 'SELECT * FROM {db}.t1 FOR UPDATE',
    effect: { t1: 3 },
    cls: 'write',
    expect: { flags: ['row_lock'] },
  },
  {
    name: 'DELETE hidden after a string that ends where a naive lexer would not expect',
    sql: "SELECT \"x\\\"\" ; DELETE FROM {db}.t1",
    effect: { t1: 0 },
    cls: 'write',
  },
];

function fill(text: string, db: string): string {
  return text.replace(/\{db\}/g, db);
}

function fillExpect(e: Expect | undefined, db: string): Expect | undefined {
  if (e === undefined) return undefined;
  const map = (xs?: string[]): string[] | undefined => xs?.map((x) => fill(x, db));
  const out: Expect = { ...e };
  if (e.tables) out.tables = map(e.tables) as string[];
  if (e.onlyTables) out.onlyTables = map(e.onlyTables) as string[];
  return out;
}

describe('mysql analyser against a real MariaDB server', () => {
  let conn: mysql.Connection | undefined;
  let skip: string | false = false;
  let version = '';
  let generic: MysqlAnalyser;
  let exact: MysqlAnalyser;
  const db = `sluice_analyse_${process.pid}_${randomBytes(4).toString('hex')}`;

  before(async () => {
    generic = await createMysqlAnalyser();
    try {
      const u = new URL(URL_TEXT);
      conn = await mysql.createConnection({
        host: u.hostname,
        port: Number(u.port || 3306),
        user: decodeURIComponent(u.username || 'root'),
        password: decodeURIComponent(u.password),
        multipleStatements: true,
        connectTimeout: 3_000,
      });
    } catch (e) {
      skip = `no MySQL/MariaDB server at ${URL_TEXT}: ${e instanceof Error ? e.message : String(e)}`;
      return;
    }
    const [rows] = await conn.query('SELECT VERSION() AS v');
    version = String((rows as Array<{ v: string }>)[0]?.v ?? '');
    exact = await createMysqlAnalyser({ serverVersion: version });
    await conn.query(`CREATE DATABASE ${db}`);
    // Multi-table DELETE resolves its aliases in the default database.
    await conn.query(`USE ${db}`);
  });

  after(async () => {
    if (conn === undefined) return;
    await conn.query(`DROP DATABASE IF EXISTS ${db}`).catch(() => undefined);
    await conn.end();
  });

  async function count(table: string): Promise<number | 'dropped'> {
    const c = conn as mysql.Connection;
    const [rows] = await c.query('SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = ? AND table_name = ?', [db, table]);
    if (Number((rows as Array<{ n: number }>)[0]?.n) === 0) return 'dropped';
    const [r2] = await c.query(`SELECT COUNT(*) AS n FROM ${db}.${table} WHERE a <> 0`);
    return Number((r2 as Array<{ n: number }>)[0]?.n);
  }

  for (const c of cases) {
    it(c.name, async (t) => {
      if (skip) return t.skip(skip);
      const cn = conn as mysql.Connection;
      // A fresh session state for each case: sql_mode and prepared statements reset.
      await cn.query(`SET SESSION sql_mode = DEFAULT; DROP TABLE IF EXISTS ${db}.t1, ${db}.t2; CREATE TABLE ${db}.t1 (a INT); CREATE TABLE ${db}.t2 (a INT); INSERT INTO ${db}.t1 VALUES (1), (2), (3); INSERT INTO ${db}.t2 VALUES (1), (2), (3)`);
      const sql = fill(c.sql, db);

      // What the analyser says, before anything runs (a session, as a door would keep one).
      const session = (): MysqlAnalysisSession =>
        c.knownMode === true ? { prepared: new Map(), sqlMode: { backslashEscapes: true, ansiQuotes: false } } : { prepared: new Map() };
      checkIntent(generic.analyse(sql, session()), c.cls, fillExpect(c.expect, db), sql);
      const v = c.withVersion ?? { cls: c.cls, expect: c.expect };
      checkIntent(exact.analyse(sql, session()), v.cls, fillExpect(v.expect, db), `${sql} (server ${version})`);

      // What the server does.
      let error = false;
      try {
        await cn.query(sql);
      } catch {
        error = true;
      }
      await cn.query('SET SESSION sql_mode = DEFAULT');
      assert.equal(error, c.effect.error ?? false, `server error for ${sql}`);
      assert.equal(await count('t1'), c.effect.t1, `t1 after ${sql}`);
      if (c.effect.t2 !== undefined) assert.equal(await count('t2'), c.effect.t2, `t2 after ${sql}`);

      // A read verdict must mean nothing changed (the reverse need not hold: a verdict
      // covers every reading, and this server takes one of them).
      if (c.cls === 'read') {
        assert.equal(await count('t1'), 3);
        assert.equal(await count('t2'), 3);
      }
    });
  }

  it('reads the server version the way the analyser expects', (t) => {
    if (skip) return t.skip(skip);
    assert.match(version, /^\d+\.\d+\.\d+/);
  });
});
