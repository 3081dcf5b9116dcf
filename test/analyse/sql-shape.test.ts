// The statement-shape scanner (src/analyse/sql-shape.ts): what it replaces, what it keeps,
// every bail-out; and the differential test that guards the security property: an Intent
// served from the shape cache deep-equals a fresh full analysis of the same text, for every
// SQL statement under test/analyse and literal variants of it.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import ts from 'typescript';
import { CachingAnalyser, LruCache } from '../../src/analyse/cache.js';
import { createPostgresAnalyser, type PostgresAnalyser } from '../../src/analyse/postgres.js';
import { MAX_SHAPE_INPUT, postgresShape } from '../../src/analyse/sql-shape.js';
import type { Intent } from '../../src/gate/types.js';

/** [text, expected shape]. */
const REPLACED: [string, string][] = [
  ['SELECT abalance FROM pgbench_accounts WHERE aid = 48213;', 'SELECT abalance FROM pgbench_accounts WHERE aid = $n;'],
  ["SELECT * FROM t WHERE name = 'it''s'", 'SELECT * FROM t WHERE name = $s'],
  ['select * from t where a <> 1 and b != 2 or c < 3 and d > 4 and e <= 5.5 and f >= 1e9', 'select * from t where a <> $n and b != $n or c < $n and d > $n and e <= $n and f >= $n'],
  ['SELECT * FROM s.t WHERE s.t.c = .5 AND "Odd ""Col""" = \'x\'', 'SELECT * FROM s.t WHERE s.t.c = $n AND "Odd ""Col""" = $s'],
  ['SELECT * FROM t WHERE a=1', 'SELECT * FROM t WHERE a=$n'],
  ['SELECT *\r\n\tFROM t\fWHERE a =\n1', 'SELECT *\r\n\tFROM t\fWHERE a =\n$n'],
  ['SELECT * FROM t WHERE id IN (1, 2, 3) AND k NOT IN (\'a\',\'b\')', 'SELECT * FROM t WHERE id IN ($n, $n, $n) AND k NOT IN ($s,$s)'],
  ['SELECT * FROM t ORDER BY a LIMIT 10 OFFSET 20', 'SELECT * FROM t ORDER BY a LIMIT $n OFFSET $n'],
  ['SELECT * FROM t WHERE a = 1 ORDER BY b', 'SELECT * FROM t WHERE a = $n ORDER BY b'],
  ['SELECT * FROM t WHERE a = 1 GROUP BY b HAVING c = 2 LIMIT 3', 'SELECT * FROM t WHERE a = $n GROUP BY b HAVING c = $n LIMIT $n'],
  ['SELECT * FROM t WHERE a = 1 FOR UPDATE', 'SELECT * FROM t WHERE a = $n FOR UPDATE'],
  ['SELECT * FROM t WHERE a = 1 UNION SELECT * FROM u WHERE b = 2', 'SELECT * FROM t WHERE a = $n UNION SELECT * FROM u WHERE b = $n'],
  ['SELECT * FROM t JOIN u ON u.k = 5 WHERE t.a = 1', 'SELECT * FROM t JOIN u ON u.k = $n WHERE t.a = $n'],
  // Inside parentheses when no UPDATE, DELETE or MERGE is in the text.
  ['SELECT * FROM t WHERE x IN (SELECT y FROM u WHERE z = 5)', 'SELECT * FROM t WHERE x IN (SELECT y FROM u WHERE z = $n)'],
  ['SELECT * FROM t WHERE (a = 1 OR b = 2)', 'SELECT * FROM t WHERE (a = 1 OR b = $n)'],
  ['WITH c AS (SELECT * FROM t WHERE a = 1 LIMIT 2) SELECT * FROM c', 'WITH c AS (SELECT * FROM t WHERE a = $n LIMIT $n) SELECT * FROM c'],
  // DML: outside parentheses only.
  ['UPDATE t SET a = 1 WHERE id = 2 RETURNING *', 'UPDATE t SET a = 1 WHERE id = $n RETURNING *'],
  ['DELETE FROM t WHERE id = 2 AND (a = 1) = (a = 1)', 'DELETE FROM t WHERE id = $n AND (a = 1) = (a = 1)'],
  ['DELETE FROM t WHERE id IN (1, 2)', 'DELETE FROM t WHERE id IN ($n, $n)'],
  ['SELECT * FROM t WHERE a = 1 AND x IN (SELECT y FROM u WHERE z = 5) FOR UPDATE', 'SELECT * FROM t WHERE a = $n AND x IN (SELECT y FROM u WHERE z = 5) FOR UPDATE'],
  ['INSERT INTO t SELECT * FROM u WHERE a = 1', 'INSERT INTO t SELECT * FROM u WHERE a = $n'],
  ['VALUES (1) LIMIT 1', 'VALUES (1) LIMIT $n'],
  ['SELECT * FROM t WHERE doc = \'{"a": [1]}\' AND "we{ird}" = 1', 'SELECT * FROM t WHERE doc = $s AND "we{ird}" = $n'],
];

/** Texts with a shape in which some literals stay as written: [text, expected shape]. */
const KEPT: [string, string][] = [
  // Not a comparison of a column with a lone literal.
  ["SELECT * FROM t WHERE a = 1 AND pg_read_file('/etc/passwd') = 'x'", 'SELECT * FROM t WHERE a = $n AND pg_read_file(\'/etc/passwd\') = \'x\''],
  ['SELECT * FROM t WHERE 1 = 1 AND a = 2', 'SELECT * FROM t WHERE 1 = 1 AND a = $n'],
  ['SELECT * FROM t WHERE a = 1 AND b = 2::int', 'SELECT * FROM t WHERE a = $n AND b = 2::int'],
  ['SELECT * FROM t WHERE a = 1 AND b = 2 + c', 'SELECT * FROM t WHERE a = $n AND b = 2 + c'],
  ['SELECT * FROM t WHERE a = 1 AND b = -2', 'SELECT * FROM t WHERE a = $n AND b = -2'],
  ['SELECT * FROM t WHERE a = 1 AND b =-2', 'SELECT * FROM t WHERE a = $n AND b =-2'],
  ["SELECT * FROM t WHERE a = 1 AND b = 'x' COLLATE \"C\"", 'SELECT * FROM t WHERE a = $n AND b = \'x\' COLLATE "C"'],
  ['SELECT * FROM t WHERE a = 1 AND b = 2 IS TRUE', 'SELECT * FROM t WHERE a = $n AND b = 2 IS TRUE'],
  ['SELECT * FROM t WHERE a = 1 AND NOT b = 2', 'SELECT * FROM t WHERE a = $n AND NOT b = 2'],
  ['SELECT * FROM t WHERE a = 1 AND f(b) = 2', 'SELECT * FROM t WHERE a = $n AND f(b) = 2'],
  ['SELECT * FROM t WHERE a = 1 AND b[1] = 2', 'SELECT * FROM t WHERE a = $n AND b[1] = 2'],
  ['SELECT * FROM t WHERE a = 1 AND true = 2', 'SELECT * FROM t WHERE a = $n AND true = 2'],
  ['SELECT * FROM t WHERE a = 1 AND b LIKE \'x%\'', 'SELECT * FROM t WHERE a = $n AND b LIKE \'x%\''],
  ["SELECT * FROM t WHERE a = 1 AND b = date '2020-01-01'", "SELECT * FROM t WHERE a = $n AND b = date '2020-01-01'"],
  ["SELECT * FROM t WHERE a = 1 AND b = 'x'\n'y'", "SELECT * FROM t WHERE a = $n AND b = 'x'\n'y'"],
  ['SELECT a = 1, b FROM t WHERE c = 2', 'SELECT a = 1, b FROM t WHERE c = $n'],
  ['SELECT * FROM t WHERE a IN (1, b) AND c = 2', 'SELECT * FROM t WHERE a IN (1, b) AND c = $n'],
  ['SELECT * FROM t WHERE a IN (1, 2) IS NULL AND c = 2', 'SELECT * FROM t WHERE a IN (1, 2) IS NULL AND c = $n'],
  ['SELECT * FROM t WHERE c = 2 OFFSET 1 ROWS', 'SELECT * FROM t WHERE c = $n OFFSET 1 ROWS'],
  ['SELECT * FROM t WHERE c = 2 FETCH FIRST 5 ROWS ONLY', 'SELECT * FROM t WHERE c = $n FETCH FIRST 5 ROWS ONLY'],
  ['INSERT INTO t VALUES (1, \'a\') RETURNING (SELECT 1 WHERE b = 2)', "INSERT INTO t VALUES (1, 'a') RETURNING (SELECT 1 WHERE b = $n)"],
  // The tautology checks compare operands: in DML texts nothing inside parentheses changes.
  ['DELETE FROM t WHERE (SELECT x FROM u WHERE id = 1) = (SELECT x FROM u WHERE id = 2) AND a = 3', 'DELETE FROM t WHERE (SELECT x FROM u WHERE id = 1) = (SELECT x FROM u WHERE id = 2) AND a = $n'],
  ['DELETE FROM t WHERE (a = 1) IS NULL OR (a = 2) IS NOT NULL OR b = 3', 'DELETE FROM t WHERE (a = 1) IS NULL OR (a = 2) IS NOT NULL OR b = $n'],
  ['UPDATE t SET a = 1 WHERE b = 2 AND (SELECT 1 LIMIT 3) = (SELECT 1 LIMIT 3)', 'UPDATE t SET a = 1 WHERE b = $n AND (SELECT 1 LIMIT 3) = (SELECT 1 LIMIT 3)'],
  ['DELETE FROM t WHERE a = 1 IS NOT DISTINCT FROM a = 1 AND c = 4', 'DELETE FROM t WHERE a = 1 IS NOT DISTINCT FROM a = 1 AND c = $n'],
];

/** Texts without a shape, by reason. */
const UNSHAPED: [reason: string, text: string][] = [
  ['nothing to replace', 'SELECT * FROM t'],
  ['nothing to replace', 'SELECT 1'],
  ['empty', ''],
  ['blank', '  \n'],
  ['line comment', 'SELECT * FROM t WHERE a = 1 -- x'],
  ['block comment', 'SELECT * FROM t WHERE a = 1 /* x */'],
  ['comment glued to an operator', 'SELECT * FROM t WHERE a =/**/1'],
  ['dollar quote', 'SELECT * FROM t WHERE a = $$x$$'],
  ['parameter', 'SELECT * FROM t WHERE a = $1'],
  ['dollar in an identifier', 'SELECT * FROM t$x WHERE a = 1'],
  ['backslash', "SELECT * FROM t WHERE a = 'x\\'"],
  ['dollar in a string', "SELECT * FROM t WHERE a = '$1'"],
  ['non-ASCII in an identifier', 'SELECT * FROM t WHERE "é" = 1'],
  ['backslash in an identifier', 'SELECT * FROM "a\\b" WHERE a = 1'],
  ['E string', "SELECT * FROM t WHERE a = E'x' AND b = 1"],
  ['e string', "SELECT * FROM t WHERE a = e'x' AND b = 1"],
  ['U& string', "SELECT * FROM t WHERE a = U&'x' AND b = 1"],
  ['U& identifier', 'SELECT * FROM t WHERE U&"a" = 1'],
  ['bit string', "SELECT * FROM t WHERE a = B'01' AND b = 1"],
  ['hex string', "SELECT * FROM t WHERE a = X'ff' AND b = 1"],
  ['national string', "SELECT * FROM t WHERE a = N'x' AND b = 1"],
  ['unterminated string', "SELECT * FROM t WHERE a = 'x"],
  ['unterminated identifier', 'SELECT * FROM "t WHERE a = 1'],
  ['zero-length identifier', 'SELECT * FROM "" WHERE a = 1'],
  ['non-ASCII', "SELECT * FROM t WHERE a = 'é'"],
  ['non-ASCII identifier', 'SELECT * FROM tä WHERE a = 1'],
  ['NUL', 'SELECT * FROM t WHERE a = 1\u0000; DROP TABLE t'],
  ['control character', 'SELECT * FROM t WHERE a = 1\u0001'],
  ['DEL', 'SELECT * FROM t WHERE a = 1\u007f'],
  ['vertical tab', 'SELECT * FROM t WHERE a =\u000b1'],
  ['hex number', 'SELECT * FROM t WHERE a = 0x1F'],
  ['octal number', 'SELECT * FROM t WHERE a = 0o17'],
  ['binary number', 'SELECT * FROM t WHERE a = 0b101'],
  ['underscored number', 'SELECT * FROM t WHERE a = 1_000'],
  ['trailing junk', 'SELECT * FROM t WHERE a = 1abc'],
  ['incomplete exponent', 'SELECT * FROM t WHERE a = 1e'],
  ['two dots', 'SELECT * FROM t WHERE a = 1..2'],
  ['number glued to a dot', 'SELECT * FROM t WHERE a = t.5'],
  ['number glued to a string', "SELECT * FROM t WHERE a = 1'x'"],
  ['unknown character', 'SELECT * FROM t WHERE a = 1 {'],
  ['unbalanced parenthesis', 'SELECT * FROM t WHERE (a = 1'],
  ['unbalanced parenthesis', 'SELECT * FROM t WHERE a = 1)'],
  ['unbalanced bracket', 'SELECT a[1 FROM t WHERE a = 1'],
  ['two statements', 'SELECT * FROM t WHERE a = 1; SELECT 2'],
  ['two statements', 'SELECT * FROM t WHERE a = 1; SET ROLE admin'],
  ['BETWEEN', 'SELECT * FROM t WHERE a = 1 AND b BETWEEN 2 AND c'],
  ['too long', `SELECT * FROM t WHERE a = 1 AND b = '${'x'.repeat(MAX_SHAPE_INPUT)}'`],
  ['SET', "SET client_encoding = 'UTF8'"],
  ['SET ROLE', "SET role = 'admin'"],
  ['SHOW', 'SHOW x'],
  ['COPY', "COPY (SELECT * FROM t WHERE a = 1) TO '/tmp/x'"],
  ['CALL', 'CALL p(1)'],
  ['DO', "DO 'BEGIN END'"],
  ['PREPARE', 'PREPARE p AS SELECT * FROM t WHERE a = 1'],
  ['EXECUTE', 'EXECUTE p(1)'],
  ['EXPLAIN', 'EXPLAIN SELECT * FROM t WHERE a = 1'],
  ['MERGE', 'MERGE INTO t USING s ON t.id = 1 WHEN MATCHED THEN DELETE'],
  ['TABLE', 'TABLE t'],
  ['parenthesised', '(SELECT * FROM t WHERE a = 1)'],
  ['quoted first word', '"SELECT" * FROM t WHERE a = 1'],
  ['not a string', 42 as unknown as string],
];

describe('postgresShape', () => {
  it('replaces literals compared with a column, IN lists and LIMIT/OFFSET counts', () => {
    for (const [text, shape] of REPLACED) assert.equal(postgresShape(text), shape, text);
  });

  it('keeps every other literal as written', () => {
    for (const [text, shape] of KEPT) assert.equal(postgresShape(text), shape, text);
  });

  it('gives no shape for anything unusual', () => {
    for (const [reason, text] of UNSHAPED) assert.equal(postgresShape(text), undefined, `${reason}: ${text}`);
  });

  it('never lets a shape key equal a shaped text (placeholders use $, which no shaped text has)', () => {
    const shape = postgresShape('SELECT * FROM t WHERE a = 1') as string;
    assert.equal(postgresShape(shape), undefined);
    for (const [text] of REPLACED) assert.ok(!text.includes('$'));
  });
});

// --- the differential test -----------------------------------------------------------------

/** Every string literal (and template literal without substitutions) in test/analyse. */
function testStrings(): string[] {
  const dir = join(import.meta.dirname, '.');
  const out = new Set<string>();
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.ts')).sort()) {
    const file = ts.createSourceFile(name, readFileSync(join(dir, name), 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) out.add(node.text);
      ts.forEachChild(node, visit);
    };
    visit(file);
  }
  return [...out];
}

/** Statements built to flip the analyser's value-dependent checks if the scanner were wrong. */
const ATTACKS: string[] = [
  'DELETE FROM t WHERE (a = 1) = (a = 1)',
  'DELETE FROM t WHERE (a = 1) = (a = 2) AND b = 3',
  'DELETE FROM t WHERE (SELECT x FROM u WHERE id = 1) = (SELECT x FROM u WHERE id = 1)',
  'DELETE FROM t WHERE (SELECT x FROM u WHERE id = 1) = (SELECT x FROM u WHERE id = 2) OR c = 1',
  'DELETE FROM t WHERE (a IN (1, 2)) = (a IN (1, 2))',
  'DELETE FROM t WHERE (a = 1) IS NULL OR (a = 1) IS NOT NULL',
  'DELETE FROM t WHERE (a = 1) IS NULL OR (a = 2) IS NOT NULL OR b = 3',
  'DELETE FROM t WHERE a = 1 IS NOT DISTINCT FROM a = 1',
  'DELETE FROM t WHERE a = 1 IS NOT DISTINCT FROM a = 2 AND b = 3',
  'DELETE FROM t WHERE x = NOT a = 1',
  'UPDATE t SET a = 1 WHERE (SELECT 1 FROM u LIMIT 1) = (SELECT 1 FROM u LIMIT 1)',
  'UPDATE t SET a = 1 WHERE (SELECT 1 FROM u WHERE k = 1 LIMIT 1) >= (SELECT 1 FROM u WHERE k = 2 LIMIT 1) AND c = 5',
  'WITH d AS (DELETE FROM t WHERE (a = 1) = (a = 1) RETURNING *) SELECT * FROM d WHERE id = 5',
  'SELECT * FROM t WHERE a = 1 OR false',
  "SELECT * FROM t WHERE a = 'f' OR b = 'off'",
  "UPDATE t SET a = 1 WHERE id = 1 OR id = 'false'",
  "SELECT set_config('search_path', 'public', false) FROM t WHERE a = 1",
  "SELECT set_config('app.tenant', 'x', false) WHERE a = 1",
  "SELECT * FROM t WHERE a = 1 AND pg_read_file('/etc/passwd') = 'x'",
  "SELECT pg_read_file(path) FROM files WHERE path = '/etc/passwd'",
  'SELECT * FROM t WHERE 1 = 1 AND a = 2',
  'DELETE FROM t WHERE 1 = 1 AND a = 2',
  'DELETE FROM t WHERE a = 1 OR 1 = 1',
  'DELETE FROM t WHERE id = 3 LIMIT 1',
  'SELECT * FROM t WHERE a = 1 LIMIT 1, 2',
  'SELECT * FROM t WHERE a = 1 2',
  "SELECT * FROM t WHERE a = 'x' 'y'",
  'SELECT * FROM t WHERE a IN (1, 2) AND b NOT IN (3)',
  "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;",
  'DELETE FROM t WHERE t.id = 1 AND u.x = 2',
  'DELETE FROM t USING u WHERE u.x = 1',
  'UPDATE t SET a = 1 WHERE id IN (1, 1) AND b NOT IN (2)',
  'DELETE FROM t WHERE id = 1 OR id <> 1',
  "DELETE FROM t WHERE a = 'x' RETURNING a = 'x'",
  'SELECT * FROM t WHERE a = 1 AND b IN (1, 2) LIMIT 1 OFFSET 2 FOR UPDATE',
  'SELECT * FROM t WHERE "a" = 1 AND s.t.c = \'x\' AND (SELECT 1 WHERE x = 2) = (SELECT 1 WHERE x = 2)',
  "SELECT set_config('search_path', 'pg_temp,public', false) WHERE a = 1",
  'INSERT INTO t VALUES (1) ON CONFLICT (a) DO UPDATE SET b = 2 WHERE t.c = 3',
  'INSERT INTO t SELECT * FROM u WHERE (a = 1) = (a = 1) AND b = 2',
  'WITH x AS (UPDATE t SET a = 1 WHERE (b = 1) = (b = 1) RETURNING *) SELECT * FROM x WHERE c = 1',
];

/** Literals (plain numbers and strings) found by a scan independent of sql-shape.ts. */
function literals(text: string): { start: number; end: number; kind: 'num' | 'str' }[] {
  const re = /"(?:[^"]|"")*"|--[^\n]*|\/\*[\s\S]*?\*\/|\$[A-Za-z0-9_]*\$?|[A-Za-z_][A-Za-z0-9_$]*|(')(?:[^']|'')*'|(\d+(?:\.\d+)?)/g;
  const out: { start: number; end: number; kind: 'num' | 'str' }[] = [];
  for (const m of text.matchAll(re)) {
    if (m[1] !== undefined) out.push({ start: m.index, end: m.index + m[0].length, kind: 'str' });
    else if (m[2] !== undefined) out.push({ start: m.index, end: m.index + m[0].length, kind: 'num' });
  }
  return out;
}

/** Value schemes: for the i-th literal of a kind, its replacement. */
const SCHEMES: ((kind: 'num' | 'str', i: number, original: string) => string)[] = [
  (k) => (k === 'num' ? '1' : "'a'"), // all equal: tautologies hold
  (k, i) => (k === 'num' ? String(i + 2) : `'b${i}'`), // all different
  (k) => (k === 'num' ? '0' : "'f'"), // false-looking
  (k) => (k === 'num' ? '48213' : "'/etc/passwd'"),
  (k) => (k === 'num' ? '99999999999999999999' : "'it''s'"),
  (k) => (k === 'num' ? '1.5' : "''"),
  (k) => (k === 'num' ? '2' : "'off'"),
  (k, i, o) => (i % 2 === 0 ? o : k === 'num' ? '1' : "'a'"), // every other one changed
  (k, i, o) => (i % 2 === 1 ? o : k === 'num' ? '7' : "'true'"),
];

function variants(text: string): string[] {
  const lits = literals(text);
  const out = new Set<string>([text]);
  for (const scheme of SCHEMES) {
    let v = '';
    let at = 0;
    let n = 0;
    let s = 0;
    for (const l of lits) {
      v += text.slice(at, l.start) + scheme(l.kind, l.kind === 'num' ? n++ : s++, text.slice(l.start, l.end));
      at = l.end;
    }
    out.add(v + text.slice(at));
  }
  return [...out];
}

describe('shape cache differential', () => {
  let pg: PostgresAnalyser;
  before(async () => {
    pg = await createPostgresAnalyser();
  });

  it('serves through the shape cache exactly what a full analysis of the same text gives', () => {
    const statements = [...new Set([...testStrings(), ...ATTACKS])];
    let shaped = 0;
    let hits = 0;
    let pairs = 0;
    const fresh = new Map<string, Intent>();
    const full = (text: string): Intent => {
      let i = fresh.get(text);
      if (i === undefined) {
        i = pg.analyseCacheable(text).intent;
        fresh.set(text, i);
      }
      return i;
    };
    for (const statement of statements) {
      const vs = variants(statement);
      const shapes = vs.map((v) => postgresShape(v));
      if (shapes[0] !== undefined) shaped++;
      for (let a = 0; a < vs.length; a++) {
        for (let b = 0; b < vs.length; b++) {
          if (a === b || shapes[a] === undefined || shapes[a] !== shapes[b]) continue;
          pairs++;
          const cache = new CachingAnalyser(pg, new LruCache<Intent>(), { shape: postgresShape });
          cache.analyse(vs[a] as string);
          const got = cache.analyseCacheable(vs[b] as string);
          hits += cache.shapeCache?.hits ?? 0;
          assert.deepEqual(got.intent, full(vs[b] as string), `warmed with ${vs[a]}\nserved ${vs[b]}`);
        }
      }
    }
    // Not vacuous: hundreds of statements have shapes and were served from the shape cache.
    console.log(`${statements.length} strings, ${shaped} shaped, ${pairs} pairs, ${hits} shape hits`);
    assert.ok(shaped >= 80, `only ${shaped} statements had a shape`);
    assert.ok(hits >= 2000, `only ${hits} shape hits in ${pairs} pairs`);
  });
});
