// MySQL/MariaDB intent analyser: every class, version comments and comment rules, quoting
// under sql_mode, harmless look-alikes, session state, robustness. Each row asserts the class
// and what matters about flags and objects. The server build is not configured unless a test
// says so: the analyser then reads the text as every supported build would.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CachingAnalyser } from '../../src/analyse/cache.js';
import { MAX_MYSQL_INPUT, createMysqlAnalyser, type MysqlAnalyser, type MysqlAnalysisSession } from '../../src/analyse/mysql.js';
import { checkAll, checkIntent, rng, type Case } from './helpers.js';

const reads: Case[] = [
  ['SELECT 1', 'read', { kinds: ['SELECT'], onlyTables: [] }],
  ['select * from users', 'read', { onlyTables: ['r:users'] }],
  ['SELECT a, b FROM shop.accounts WHERE id = 1', 'read', { onlyTables: ['r:shop.accounts'] }],
  ['SELECT * FROM `Weird Table`', 'read', { onlyTables: ['r:Weird Table'] }],
  ['SELECT * FROM `db`.`t``x`', 'read', { onlyTables: ['r:db.t`x'] }],
  ['SELECT * FROM a JOIN b ON a.id = b.a_id LEFT JOIN c USING (id)', 'read', { onlyTables: ['r:a', 'r:b', 'r:c'] }],
  ['SELECT * FROM a STRAIGHT_JOIN b ON a.x = b.x NATURAL JOIN c CROSS JOIN d', 'read', { onlyTables: ['r:a', 'r:b', 'r:c', 'r:d'] }],
  ['SELECT * FROM (SELECT * FROM t) AS d JOIN LATERAL (SELECT * FROM u WHERE u.a = d.a) AS l', 'read', { onlyTables: ['r:t', 'r:u'] }],
  ['SELECT count(*), sum(x), avg(x), min(x), max(x) FROM t GROUP BY y HAVING count(*) > 1', 'read', { functions: ['count', 'sum'] }],
  ['SELECT lower(name), upper(name), coalesce(a, b), ifnull(a, b), greatest(a, b) FROM t', 'read', { functions: ['lower', 'ifnull'] }],
  ['SELECT NOW(), CURRENT_TIMESTAMP, CURDATE(), USER(), CURRENT_USER, DATABASE(), LAST_INSERT_ID()', 'read'],
  ["SELECT DATE_FORMAT(d, '%Y'), DATE_ADD(d, INTERVAL 1 DAY), d - INTERVAL 2 HOUR FROM t", 'read'],
  ["SELECT a->'$.x', a->>'$.y', JSON_EXTRACT(a, '$.z'), JSON_OBJECT('k', 1) FROM t", 'read'],
  ["SELECT BINARY 'a', 'a' COLLATE utf8mb4_bin, a REGEXP 'x', a RLIKE 'y' FROM t", 'read'],
  ['SELECT CASE WHEN a THEN 1 ELSE 2 END, IF(a, 1, 2), a DIV b, a XOR b, a % 2 FROM t', 'read'],
  ['SELECT ROW(1, 2), (1, 2) = (3, 4), EXISTS (SELECT 1), a IS NOT NULL, a BETWEEN 1 AND 2 FROM t', 'read'],
  ['SELECT SUM(a) OVER (PARTITION BY b ORDER BY c ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), RANK() OVER w FROM t WINDOW w AS (ORDER BY a)', 'read'],
  ["SELECT GROUP_CONCAT(DISTINCT a ORDER BY a SEPARATOR ',') FROM t GROUP BY b", 'read'],
  ['SELECT a, SUM(b) FROM t GROUP BY a WITH ROLLUP', 'read', { onlyTables: ['r:t'] }],
  ["SELECT * FROM JSON_TABLE('[1]', '$[*]' COLUMNS (c INT PATH '$', d FOR ORDINALITY)) AS jt", 'read', { onlyTables: [] }],
  ['SELECT CAST(a AS CHAR(10)), CONVERT(a, SIGNED), CONVERT(a USING utf8mb4), EXTRACT(YEAR FROM d) FROM t', 'read'],
  ["SELECT TRIM(LEADING 'x' FROM a), SUBSTRING(a FROM 1 FOR 2), POSITION('a' IN b), LOCATE('a', b) FROM t", 'read'],
  ["SELECT MATCH(a, b) AGAINST ('x' IN BOOLEAN MODE) FROM t", 'read'],
  ['SELECT DISTINCT SQL_CALC_FOUND_ROWS a FROM t LIMIT 10 OFFSET 5', 'read'],
  ['SELECT a FROM t LIMIT 5, 10', 'read'],
  ['SELECT HIGH_PRIORITY a FROM t', 'read'],
  ["SELECT a FROM t WHERE b LIKE 'x%' ESCAPE '!' AND c NOT IN (SELECT d FROM u) AND e > ANY (SELECT f FROM v)", 'read', { onlyTables: ['r:t', 'r:u', 'r:v'] }],
  ["SELECT _utf8mb4'x', N'y', X'41', 0x41, b'01', TRUE, NULL, 1.5e3", 'read'],
  ['WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r', 'read', { onlyTables: [] }],
  ['WITH x AS (SELECT * FROM t) SELECT * FROM x', 'read', { onlyTables: ['r:t'] }],
  // A CTE does not hide a real table of the same name inside its own body.
  ['WITH secrets AS (SELECT * FROM secrets) SELECT * FROM secrets', 'read', { onlyTables: ['r:secrets'] }],
  ['WITH x AS (SELECT 1) SELECT * FROM db.x', 'read', { onlyTables: ['r:db.x'] }],
  ['SELECT * FROM t1 UNION SELECT * FROM t2 EXCEPT SELECT * FROM t3 INTERSECT SELECT * FROM t4', 'read', { onlyTables: ['r:t1', 'r:t2', 'r:t3', 'r:t4'] }],
  ['(SELECT a FROM t) UNION (SELECT b FROM u) ORDER BY 1', 'read', { onlyTables: ['r:t', 'r:u'] }],
  ['VALUES ROW(1, 2), ROW(3, 4)', 'read', { kinds: ['VALUES'] }],
  ['TABLE t', 'read', { onlyTables: ['r:t'], kinds: ['TABLE'] }],
  ['TABLE t ORDER BY a LIMIT 1', 'read', { onlyTables: ['r:t'] }],
  ['SELECT * FROM t PARTITION (p0) FORCE INDEX (i) IGNORE INDEX FOR ORDER BY (j)', 'read'],
  ['SELECT * FROM t PARTITION (p0) USE INDEX (i) WHERE a = 1', 'read', { onlyTables: ['r:t'] }],
  ['SELECT JSON_ARRAYAGG(a), JSON_OBJECTAGG(k, v) FROM t', 'read'],
  ['SELECT ST_Distance(POINT(1, 2), POINT(3, 4)), ST_AsText(g) FROM t', 'read'],
  ['SELECT COUNT(*) FROM information_schema.tables', 'read', { onlyTables: ['r:information_schema.tables'] }],
  ['SELECT user, host FROM mysql.user', 'read', { onlyTables: ['r:mysql.user'] }],
  ['SELECT a FROM t WHERE a = ? AND b = ?', 'read'],
  ['SELECT * FROM t WHERE (a, b) IN ((1, 2), (3, 4))', 'read'],
  ['SELECT @a, @@version, @@GLOBAL.max_connections, @@session.sql_mode', 'read'],
  ['SELECT UUID(), RAND(), MD5(a), SHA2(a, 256), AES_ENCRYPT(a, k), TO_BASE64(a), HEX(a) FROM t', 'read'],
  ['SELECT FOUND_ROWS(), ROW_COUNT(), CONNECTION_ID(), VERSION()', 'read'],
  ['SELECT IS_FREE_LOCK(\'x\'), IS_USED_LOCK(\'x\')', 'read'],
  ['SELECT INET_ATON(ip), INET6_NTOA(b), UUID_TO_BIN(u) FROM t', 'read'],
  ['SELECT `lower`(name), LOWER(name), Lower(name) FROM t', 'read', { functions: ['lower'] }],
  ['SHOW TABLES', 'read', { kinds: ['SHOW TABLES'] }],
  ["SHOW VARIABLES LIKE 'sql_mode'", 'read'],
  ['SHOW CREATE TABLE db.t', 'read', { onlyTables: ['r:db.t'], kinds: ['SHOW CREATE TABLE'] }],
  ['SHOW TABLES FROM db LIKE \'x%\'', 'read', { kinds: ['SHOW TABLES'] }],
  ['SHOW FULL PROCESSLIST', 'read', { kinds: ['SHOW FULL PROCESSLIST'] }],
  ['DESCRIBE SELECT * FROM t', 'read', { onlyTables: ['r:t'] }],
  ['SHOW FULL COLUMNS FROM t FROM db', 'read', { onlyTables: ['r:db.t'] }],
  ['SHOW INDEX FROM t', 'read', { onlyTables: ['r:t'] }],
  ['SHOW GRANTS FOR CURRENT_USER', 'read'],
  ['SHOW GRANTS FOR CURRENT_USER()', 'read', { kinds: ['SHOW GRANTS'] }],
  ['SHOW COUNT(*) WARNINGS', 'read'],
  ['SHOW PROCESSLIST', 'read'],
  ['SHOW ENGINE INNODB STATUS', 'read'],
  ['SHOW SLAVE STATUS', 'read'],
  ['SHOW BINLOG EVENTS', 'read'],
  ["SHOW DATABASES WHERE `Database` LIKE 'x%'", 'read'],
  ["SHOW COLUMNS FROM t WHERE Field = load_file('/x')", 'admin', { flags: ['file_access'] }],
  ['DESCRIBE t', 'read', { onlyTables: ['r:t'] }],
  ['DESC db.t', 'read', { onlyTables: ['r:db.t'] }],
  ['EXPLAIN SELECT * FROM t', 'read', { kinds: ['EXPLAIN'], not: ['explain_analyze'] }],
  ['EXPLAIN DELETE FROM t', 'read', { onlyTables: ['r:t'], not: ['no_where'] }],
  ['EXPLAIN FORMAT=JSON UPDATE t SET a = 1', 'read', { onlyTables: ['r:t'] }],
  ['EXPLAIN ANALYZE SELECT * FROM t', 'read', { flags: ['explain_analyze'] }],
  ['EXPLAIN FOR CONNECTION 12', 'read'],
  ['HELP \'SELECT\'', 'read'],
  ['DO 1', 'read', { kinds: ['DO'] }],
  ['HANDLER t OPEN', 'read', { onlyTables: ['r:t'], kinds: ['HANDLER OPEN'] }],
  ['HANDLER t OPEN AS h', 'read', { onlyTables: ['r:t'] }],
  ['HANDLER h READ FIRST', 'read'],
  ["HANDLER h READ idx = (1) WHERE b > 2 LIMIT 5", 'read'],
  ['SELECT SLEEP(1)', 'read', { flags: ['sleep', 'side_effect_function'] }],
  ['SELECT BENCHMARK(1000000, MD5(\'x\'))', 'read', { flags: ['sleep', 'side_effect_function'] }],
  ['DO SLEEP(1)', 'read', { flags: ['sleep'] }],
  ['SELECT MASTER_POS_WAIT(\'log\', 4)', 'read', { flags: ['sleep'] }],
  ['SELECT LASTVAL(s)', 'read'],
];

// Harmless text that mentions dangerous things: must stay reads.
const lookAlikes: Case[] = [
  ["SELECT 'a'';DROP TABLE t;--'", 'read', { onlyTables: [], kinds: ['SELECT'] }],
  ["SELECT 'DELETE FROM users'", 'read', { onlyTables: [] }],
  ['SELECT "DROP TABLE users; --"', 'read', { onlyTables: [] }],
  ["SELECT '/*!50000 DROP TABLE t */'", 'read', { onlyTables: [] }],
  ["SELECT '/*M! DELETE FROM t */' AS x", 'read', { onlyTables: [] }],
  ["SELECT 'x' FROM t WHERE c = '*/ DROP TABLE t; /*'", 'read', { onlyTables: ['r:t'] }],
  ['SELECT 1 -- DELETE FROM users', 'read'],
  ['SELECT 1 # DELETE FROM users', 'read'],
  ['-- DROP TABLE users\nSELECT 1', 'read', { kinds: ['SELECT'] }],
  ['# DROP TABLE users\nSELECT 1', 'read', { kinds: ['SELECT'] }],
  ['SELECT /* ; DROP TABLE x; */ 1', 'read'],
  ['SELECT 1 /* DELETE FROM t */ FROM dual', 'read'],
  ['/* a comment that mentions DELETE and DROP */ SELECT 1', 'read'],
  ['SELECT 1 /*+ MAX_EXECUTION_TIME(1000) */', 'read'],
  ['SELECT /*+ BKA(t) */ * FROM t', 'read', { onlyTables: ['r:t'] }],
  ['SELECT 1 /*m! DROP TABLE t */', 'read', { onlyTables: [] }],
  ['SELECT `DELETE` FROM t', 'read', { onlyTables: ['r:t'] }],
  ['SELECT * FROM `drop table users`', 'read', { onlyTables: ['r:drop table users'] }],
  ['SELECT 1 AS `load_file`', 'read', { functions: [] }],
  ["SELECT 'load_file(''/etc/passwd'')'", 'read'],
  ["SELECT * FROM t WHERE note = 'x'' OR 1=1; TRUNCATE t; --'", 'read', { onlyTables: ['r:t'] }],
  ["SELECT 'INTO OUTFILE ''/tmp/x'''", 'read', { not: ['file_access'] }],
  ['SELECT `into`, `outfile` FROM t', 'read'],
  ['SELECT 1; -- ; DROP TABLE x', 'read'],
  ['SELECT 1; # ; DROP TABLE x', 'read'],
  ["SELECT 1 -- '\n", 'read'],
  ['SELECT 1 --\tDROP TABLE t', 'read'],
  ['SELECT 1 --\nFROM dual', 'read'],
  ["SELECT '#' , '--' , '/*' FROM t", 'read', { onlyTables: ['r:t'] }],
  ['SELECT "it\'s" FROM t', 'read'],
  ['   ', 'read', { kinds: ['EMPTY'] }],
  [';;', 'read', { kinds: ['EMPTY'] }],
  ['/* only a comment */', 'read', { kinds: ['EMPTY'] }],
  ['SELECT 1;', 'read', { kinds: ['SELECT'], not: ['multi_statement'] }],
];

const writes: Case[] = [
  ["INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')", 'write', { onlyTables: ['w:t'], kinds: ['INSERT'] }],
  ['INSERT IGNORE INTO db.t SELECT * FROM u WHERE x > 1', 'write', { onlyTables: ['w:db.t', 'r:u'] }],
  ['INSERT INTO t SET a = 1, b = (SELECT max(x) FROM u)', 'write', { onlyTables: ['w:t', 'r:u'] }],
  ['INSERT LOW_PRIORITY INTO t VALUES (DEFAULT)', 'write', { onlyTables: ['w:t'] }],
  ['INSERT INTO t (a) VALUES (1) ON DUPLICATE KEY UPDATE a = VALUES(a) + 1', 'write', { flags: ['upsert'], onlyTables: ['w:t'] }],
  ['REPLACE INTO t VALUES (1)', 'write', { flags: ['replace'], kinds: ['REPLACE'], onlyTables: ['w:t'] }],
  ['REPLACE INTO t SELECT * FROM u', 'write', { onlyTables: ['w:t', 'r:u'] }],
  ['UPDATE t SET a = 1 WHERE id = 2', 'write', { onlyTables: ['w:t'], not: ['no_where'] }],
  ['UPDATE t SET a = 1', 'write', { flags: ['no_where'], onlyTables: ['w:t'] }],
  ['UPDATE t SET a = 1 ORDER BY id LIMIT 1', 'write', { flags: ['no_where'] }],
  ['UPDATE LOW_PRIORITY IGNORE t SET a = a + 1 WHERE id IN (SELECT id FROM u)', 'write', { onlyTables: ['w:t', 'r:u'] }],
  ['UPDATE t1, t2 SET t1.a = t2.a WHERE t1.id = t2.id', 'write', { onlyTables: ['w:t1', 'r:t2'] }],
  ['UPDATE t1 AS x JOIN t2 AS y ON x.id = y.id SET x.a = 1, y.b = 2 WHERE x.c = 3', 'write', { onlyTables: ['w:t1', 'w:t2'] }],
  // An unqualified column may belong to any table of the join: all are written.
  ['UPDATE t1 JOIN t2 ON t1.id = t2.id SET a = 1 WHERE t1.x = 1', 'write', { onlyTables: ['w:t1', 'w:t2'] }],
  ['UPDATE db.t1 JOIN db.t2 ON t1.id = t2.id SET t1.a = 1', 'write', { flags: ['no_where'], tables: ['w:db.t1'] }],
  ['UPDATE t1, (SELECT a, b FROM u) x SET t1.a = x.b WHERE t1.id = x.a', 'write', { onlyTables: ['w:t1', 'r:u'] }],
  ['DELETE FROM t WHERE id = 1', 'write', { onlyTables: ['w:t'], not: ['no_where'] }],
  ['DELETE FROM t', 'write', { flags: ['no_where'], onlyTables: ['w:t'] }],
  ['DELETE QUICK IGNORE FROM t WHERE a < 5 ORDER BY id LIMIT 10', 'write', { onlyTables: ['w:t'] }],
  ['DELETE FROM t PARTITION (p0)', 'write', { flags: ['no_where'] }],
  ['DELETE t1 FROM t1 JOIN t2 ON t1.id = t2.id WHERE t2.x = 1', 'write', { onlyTables: ['w:t1', 'r:t2'] }],
  ['DELETE t1, t2 FROM t1 JOIN t2 ON t1.id = t2.id WHERE t1.x = 1', 'write', { onlyTables: ['w:t1', 'w:t2'] }],
  ['DELETE a FROM t1 AS a JOIN t2 AS b ON a.id = b.id', 'write', { flags: ['no_where'], onlyTables: ['w:t1', 'r:t2'] }],
  ['DELETE FROM t1, t2 USING t1 JOIN t2 ON t1.id = t2.id JOIN t3 WHERE t1.a = 1', 'write', { onlyTables: ['w:t1', 'w:t2', 'r:t3'] }],
  ['DELETE t1.* FROM t1, t2 WHERE t1.id = t2.id', 'write', { tables: ['w:t1', 'r:t2'] }],
  ['WITH x AS (SELECT id FROM u) DELETE t FROM t JOIN x ON t.id = x.id', 'write', { onlyTables: ['w:t', 'r:u'] }],
  ['WITH x AS (SELECT 1 AS id) UPDATE t JOIN x ON t.id = x.id SET t.a = 1', 'write', { onlyTables: ['w:t'] }],
  ['TRUNCATE t', 'write', { flags: ['no_where', 'truncate'], onlyTables: ['w:t'] }],
  ['TRUNCATE TABLE db.t', 'write', { flags: ['truncate'], onlyTables: ['w:db.t'] }],
  ['SELECT * FROM t WHERE id = 1 FOR UPDATE', 'write', { flags: ['row_lock'], onlyTables: ['r:t'] }],
  ['SELECT * FROM t FOR UPDATE SKIP LOCKED', 'write', { flags: ['row_lock'] }],
  ['SELECT * FROM t FOR SHARE NOWAIT', 'write', { flags: ['row_lock'] }],
  ['SELECT * FROM t LOCK IN SHARE MODE', 'write', { flags: ['row_lock'], onlyTables: ['r:t'] }],
  ['SELECT * FROM t WHERE a IN (SELECT b FROM u) FOR UPDATE', 'write', { flags: ['row_lock'] }],
  ['LOCK TABLES t READ, u WRITE', 'write', { flags: ['table_lock'], onlyTables: ['r:t', 'w:u'] }],
  ['LOCK TABLE t WRITE', 'write', { flags: ['table_lock'], onlyTables: ['w:t'] }],
  ['LOCK TABLES t AS x READ LOCAL', 'write', { flags: ['table_lock'] }],
  ['SELECT NEXTVAL(s)', 'write', { flags: ['side_effect_function'] }],
  ['INSERT INTO t VALUES (SLEEP(5))', 'write', { flags: ['sleep'] }],
  ['INSERT DELAYED INTO t VALUES (1)', 'write', { onlyTables: ['w:t'] }],
  ['REPLACE t SET a = 1', 'write', { flags: ['replace'] }],
  ['SELECT SETVAL(s, 10)', 'write'],
  ['EXPLAIN ANALYZE DELETE FROM t', 'write', { flags: ['explain_analyze', 'no_where'], onlyTables: ['w:t'] }],
  ['ANALYZE DELETE FROM t WHERE a = 1', 'write', { flags: ['explain_analyze'], onlyTables: ['w:t'] }],
  ['ANALYZE FORMAT=JSON UPDATE t SET a = 1', 'write', { flags: ['explain_analyze', 'no_where'] }],
  ['SET STATEMENT max_statement_time = 1 FOR DELETE FROM t', 'write', { flags: ['no_where'], onlyTables: ['w:t'] }],
];

const schema: Case[] = [
  ["CREATE TABLE t (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(20) NOT NULL DEFAULT 'x', KEY k (name)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4", 'schema', { onlyTables: ['w:t'], kinds: ['CREATE TABLE'] }],
  ['CREATE TEMPORARY TABLE IF NOT EXISTS t (a INT)', 'schema', { onlyTables: ['w:t'] }],
  ['CREATE TABLE t2 AS SELECT * FROM t', 'schema', { onlyTables: ['w:t2', 'r:t'] }],
  ['CREATE TABLE t2 SELECT * FROM t', 'schema', { onlyTables: ['w:t2', 'r:t'] }],
  ['CREATE TABLE t2 LIKE t', 'schema', { onlyTables: ['w:t2', 'r:t'] }],
  ['CREATE TABLE t (a INT) ENGINE=MyISAM', 'schema'],
  ['ALTER TABLE t ADD COLUMN b INT AFTER a, DROP COLUMN c, ADD INDEX (b)', 'schema', { onlyTables: ['w:t'] }],
  ['ALTER TABLE t MODIFY a VARCHAR(10)', 'schema'],
  ['ALTER TABLE t CHANGE a b INT', 'schema'],
  ['ALTER TABLE db.t RENAME TO u', 'schema', { onlyTables: ['w:db.t', 'w:u'] }],
  ['ALTER TABLE t RENAME AS db2.u, ADD COLUMN x INT', 'schema', { onlyTables: ['w:t', 'w:db2.u'] }],
  ['DROP TABLE t1, t2', 'schema', { onlyTables: ['w:t1', 'w:t2'], kinds: ['DROP TABLE'] }],
  ['DROP TEMPORARY TABLE IF EXISTS t', 'schema', { onlyTables: ['w:t'] }],
  ['DROP TABLE IF EXISTS a, db.b CASCADE', 'schema', { flags: ['cascade'], onlyTables: ['w:a', 'w:db.b'] }],
  ['DROP VIEW v', 'schema', { onlyTables: ['w:v'] }],
  ['CREATE INDEX i ON t (a)', 'schema', { onlyTables: ['w:t'] }],
  ['CREATE UNIQUE INDEX i USING BTREE ON t (a, b DESC)', 'schema'],
  ['DROP INDEX i ON t', 'schema', { onlyTables: ['w:t'] }],
  ['RENAME TABLE a TO b, c TO d', 'schema', { onlyTables: ['w:a', 'w:b', 'w:c', 'w:d'] }],
  ['CREATE VIEW v AS SELECT * FROM t', 'schema', { onlyTables: ['w:v', 'r:t'], flags: ['security_definer'] }],
  ['CREATE OR REPLACE ALGORITHM=MERGE SQL SECURITY INVOKER VIEW v AS SELECT a FROM t', 'schema', { onlyTables: ['w:v', 'r:t'], not: ['security_definer'] }],
  ['CREATE PROCEDURE p() SELECT 1', 'schema', { flags: ['security_definer'] }],
  ['CREATE DEFINER = CURRENT_USER PROCEDURE p() SELECT 1', 'schema', { not: ['definer'] }],
  ['CREATE SPATIAL INDEX g ON t (geo)', 'schema', { onlyTables: ['w:t'], kinds: ['CREATE INDEX'] }],
  ['CREATE FULLTEXT INDEX f ON db.t (body)', 'schema', { onlyTables: ['w:db.t'] }],
  ['CREATE SPATIAL REFERENCE SYSTEM 4120 NAME \'x\' DEFINITION \'y\'', 'admin'],
  ['CREATE FUNCTION f() RETURNS INT DETERMINISTIC RETURN 1', 'schema'],
  ['CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1', 'schema'],
  ['DROP PROCEDURE IF EXISTS p', 'schema'],
  ['DROP FUNCTION f', 'schema'],
  ['DROP TRIGGER tr', 'schema'],
  ['DROP EVENT e', 'schema'],
  ['ALTER VIEW v AS SELECT b FROM u', 'schema', { tables: ['w:v', 'r:u'] }],
];

const privilege: Case[] = [
  ["GRANT SELECT ON db.* TO 'u'@'%'", 'privilege', { kinds: ['GRANT'] }],
  ['GRANT ALL PRIVILEGES ON *.* TO u WITH GRANT OPTION', 'privilege'],
  ['GRANT SELECT, UPDATE ON db.t TO u', 'privilege', { onlyTables: ['w:db.t'] }],
  ['REVOKE SELECT ON db.t FROM u', 'privilege', { onlyTables: ['w:db.t'] }],
  ['GRANT r TO u', 'privilege'],
  ["GRANT PROXY ON 'a'@'%' TO 'b'@'%'", 'privilege', { flags: ['proxy'] }],
  ["CREATE USER 'u'@'%' IDENTIFIED BY 'p'", 'privilege', { kinds: ['CREATE USER'] }],
  ['ALTER USER u IDENTIFIED BY \'x\'', 'privilege'],
  ['DROP USER u', 'privilege'],
  ['RENAME USER a TO b', 'privilege'],
  ['CREATE ROLE r', 'privilege'],
  ['DROP ROLE r', 'privilege'],
  ["SET PASSWORD FOR u = 'x'", 'privilege'],
  ["SET PASSWORD = 'x'", 'privilege'],
  ['SET ROLE ALL', 'privilege', { flags: ['role_change'] }],
  ['SET ROLE r', 'privilege', { flags: ['role_change'] }],
  ['SET DEFAULT ROLE r TO u', 'privilege'],
  ['CREATE OR REPLACE ALGORITHM=MERGE DEFINER=root@localhost SQL SECURITY DEFINER VIEW v AS SELECT a FROM t', 'privilege', { flags: ['definer'] }],
  ["CREATE DEFINER='admin'@'%' PROCEDURE p() SELECT 1", 'privilege', { flags: ['definer'] }],
];

const admin: Case[] = [
  ['SET GLOBAL max_connections = 10', 'admin', { kinds: ['SET GLOBAL'] }],
  ['SET @@global.max_connections = 10', 'admin'],
  ['SET PERSIST max_connections = 10', 'admin'],
  ['SET PERSIST_ONLY max_connections = 10', 'admin'],
  ['SET @@persist.x = 1', 'admin'],
  ['SET @a = 1, GLOBAL x = 2', 'admin'],
  // A scope keyword applies to the assignments after it.
  ['SET GLOBAL a = 1, b = 2', 'admin'],
  ['SET sql_log_bin = 0', 'admin'],
  ['SET @@session.sql_log_bin = 0', 'admin'],
  ['SET gtid_next = \'AUTOMATIC\'', 'admin'],
  ['FLUSH PRIVILEGES', 'admin'],
  ['FLUSH TABLES t WITH READ LOCK', 'admin'],
  ['FLUSH LOGS', 'admin'],
  ['KILL 5', 'admin'],
  ['KILL QUERY 5', 'admin'],
  ['KILL CONNECTION 5', 'admin'],
  ['SHUTDOWN', 'admin'],
  ['RESTART', 'admin'],
  ["INSTALL PLUGIN x SONAME 'x.so'", 'admin', { flags: ['plugin'] }],
  ["INSTALL SONAME 'ha_connect'", 'admin', { flags: ['plugin'] }],
  ['UNINSTALL PLUGIN x', 'admin', { flags: ['plugin'] }],
  ["CREATE FUNCTION sys_exec RETURNS INT SONAME 'lib_mysqludf_sys.so'", 'admin', { flags: ['plugin'] }],
  ['CREATE DATABASE d', 'admin'],
  ['CREATE SCHEMA IF NOT EXISTS d', 'admin'],
  ['DROP DATABASE IF EXISTS d', 'admin'],
  ['ALTER DATABASE d CHARACTER SET utf8mb4', 'admin'],
  ["CREATE SERVER s FOREIGN DATA WRAPPER mysql OPTIONS (HOST 'h')", 'admin', { flags: ['network'] }],
  ['RESET MASTER', 'admin'],
  ["PURGE BINARY LOGS TO 'mysql-bin.010'", 'admin'],
  ["CHANGE MASTER TO MASTER_HOST = 'h'", 'admin'],
  ['START SLAVE', 'admin'],
  ['STOP REPLICA', 'admin'],
  ["BINLOG 'AAAA'", 'admin'],
  ['OPTIMIZE TABLE t', 'admin'],
  ['REPAIR TABLE t', 'admin'],
  ['CHECK TABLE t', 'admin'],
  ['CHECKSUM TABLE t', 'admin'],
  ['ANALYZE TABLE t', 'admin', { onlyTables: ['r:t'] }],
  ['LOCK INSTANCE FOR BACKUP', 'admin'],
  ['CACHE INDEX t IN k', 'admin'],
  ['LOAD INDEX INTO CACHE t', 'admin'],
  ['CREATE TABLE t (a INT) ENGINE=FEDERATED CONNECTION=\'mysql://u@h/db/t\'', 'admin', { flags: ['network'] }],
  ['CREATE TABLE t (a INT) ENGINE=CONNECT TABLE_TYPE=CSV FILE_NAME=\'/etc/passwd\'', 'admin', { flags: ['file_access'] }],
  ["CREATE TABLE t (a INT) DATA DIRECTORY = '/tmp'", 'admin', { flags: ['file_access'], paths: ['w:/tmp'] }],
  ['ALTER TABLE t ENGINE=FEDERATED', 'admin', { flags: ['network'] }],
  ['ALTER TABLE t DISCARD TABLESPACE', 'admin', { flags: ['file_access'] }],
  ['ALTER TABLE t IMPORT TABLESPACE', 'admin', { flags: ['file_access'] }],
  ["IMPORT TABLE FROM '/tmp/t.sdi'", 'admin', { flags: ['file_access'] }],
];

const fileAccess: Case[] = [
  ["SELECT * FROM t INTO OUTFILE '/tmp/x'", 'admin', { flags: ['file_access'], paths: ['w:/tmp/x'], onlyTables: ['r:t'], kinds: ['SELECT INTO OUTFILE'] }],
  ["SELECT a INTO OUTFILE '/tmp/x' FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\n' FROM t", 'admin', { flags: ['file_access'], paths: ['w:/tmp/x'], onlyTables: ['r:t'] }],
  ["SELECT a FROM t INTO DUMPFILE '/var/lib/mysql-files/x'", 'admin', { flags: ['file_access'], paths: ['w:/var/lib/mysql-files/x'] }],
  ["SELECT * FROM t UNION SELECT * FROM u INTO OUTFILE '/tmp/y' CHARACTER SET utf8mb4", 'admin', { onlyTables: ['r:t', 'r:u'] }],
  ["SELECT LOAD_FILE('/etc/passwd')", 'admin', { flags: ['file_access', 'side_effect_function'], paths: ['r:/etc/passwd'], functions: ['load_file'] }],
  ["SELECT `load_file`('/etc/passwd')", 'admin', { flags: ['file_access'] }],
  ["SELECT Load_File('/etc/shadow')", 'admin', { flags: ['file_access'] }],
  ["LOAD DATA INFILE '/etc/passwd' INTO TABLE t", 'admin', { flags: ['file_access'], paths: ['r:/etc/passwd'], onlyTables: ['w:t'], not: ['local_infile'] }],
  ["LOAD DATA LOCAL INFILE 'x.csv' INTO TABLE db.t FIELDS TERMINATED BY ',' (a, @b) SET c = UPPER(@b)", 'write', { flags: ['file_access', 'local_infile'], paths: ['r:x.csv'], onlyTables: ['w:db.t'] }],
  ["LOAD DATA LOW_PRIORITY LOCAL INFILE 'x.csv' REPLACE INTO TABLE t IGNORE 1 LINES", 'write', { flags: ['file_access', 'replace'] }],
  ["LOAD XML LOCAL INFILE 'x.xml' INTO TABLE t ROWS IDENTIFIED BY '<row>'", 'write', { flags: ['file_access'] }],
  ["LOAD DATA LOCAL INFILE 'x.csv' INTO TABLE t (a) SET b = (SELECT secret FROM s)", 'write', { tables: ['w:t', 'r:s'] }],
  ["LOAD DATA LOCAL INFILE 'x.csv' INTO TABLE t (a) SET b = sys_exec('id')", 'unknown', { flags: ['file_access'] }],
];

const execute: Case[] = [
  ['CALL p()', 'execute', { kinds: ['CALL'], functions: ['p'] }],
  ['CALL db.p(@a, 1)', 'execute', { functions: ['db.p'] }],
  // Reading a server file is riskier than calling the procedure.
  ['CALL p(load_file(\'/x\'))', 'admin', { flags: ['file_access'], functions: ['p', 'load_file'] }],
  ['CREATE EVENT e ON SCHEDULE AT CURRENT_TIMESTAMP DO DELETE FROM t', 'execute', { flags: ['scheduled', 'no_where'], tables: ['w:t'] }],
  ['CREATE EVENT e ON SCHEDULE EVERY 1 HOUR DO SELECT 1', 'execute', { flags: ['scheduled'] }],
  ['ALTER EVENT e ENABLE', 'execute', { flags: ['scheduled'] }],
];

const session: Case[] = [
  ['SET @a = 1', 'session', { kinds: ['SET'] }],
  ['SET @a := 1, @b := (@c := 2)', 'session'],
  ['SELECT @a := 1', 'session'],
  ['SELECT a INTO @x FROM t', 'session', { onlyTables: ['r:t'] }],
  ['SELECT a FROM t INTO @x, @y', 'session'],
  ["SET SESSION sql_mode = 'ANSI'", 'session'],
  ['SET SESSION a = 1, b = 2', 'session'],
  ['SET autocommit = 0', 'session'],
  ['SET foreign_key_checks = 0', 'session', { flags: ['checks_off'] }],
  ['SET unique_checks = OFF', 'session', { flags: ['checks_off'] }],
  ["SET time_zone = '+00:00'", 'session'],
  ['SET @@x = 1', 'session'],
  ['SET NAMES utf8mb4', 'session'],
  ["SET NAMES 'utf8mb4' COLLATE 'utf8mb4_bin'", 'session'],
  ['SET CHARACTER SET utf8mb4', 'session'],
  ['SET transaction_read_only = 0', 'session', { flags: ['read_write'] }],
  ['USE db', 'session'],
  ['UNLOCK TABLES', 'session'],
  ['DEALLOCATE PREPARE s', 'session'],
  ['DROP PREPARE s', 'session'],
  ["SELECT GET_LOCK('x', 10)", 'session', { flags: ['advisory_lock', 'side_effect_function'] }],
  ["DO RELEASE_LOCK('x')", 'session', { flags: ['advisory_lock'] }],
  ['SELECT LAST_INSERT_ID(5)', 'session', { flags: ['side_effect_function'] }],
  ['HANDLER h CLOSE', 'session'],
  ['GET DIAGNOSTICS @n = NUMBER', 'session'],
  ['SET STATEMENT max_statement_time = 1 FOR SELECT * FROM t', 'session', { onlyTables: ['r:t'] }],
  ['SET TRANSACTION READ WRITE', 'transaction', { flags: ['read_write'] }],
  ['SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'transaction'],
  ['START TRANSACTION', 'transaction', { kinds: ['START TRANSACTION'] }],
  ['START TRANSACTION READ ONLY', 'transaction'],
  ['START TRANSACTION WITH CONSISTENT SNAPSHOT, READ WRITE', 'transaction', { flags: ['read_write'] }],
  ['BEGIN', 'transaction', { kinds: ['BEGIN'] }],
  ['BEGIN WORK', 'transaction'],
  ['COMMIT', 'transaction'],
  ['COMMIT AND CHAIN', 'transaction'],
  ['ROLLBACK', 'transaction'],
  ['ROLLBACK TO SAVEPOINT a', 'transaction'],
  ['SAVEPOINT a', 'transaction'],
  ['RELEASE SAVEPOINT a', 'transaction'],
  ["XA START 'x'", 'transaction'],
  ["XA COMMIT 'x'", 'transaction'],
];

// Executable comments: the server runs their content, so the analyser does too.
const versionComments: Case[] = [
  ['/*!DELETE FROM t*/', 'write', { flags: ['no_where'], onlyTables: ['w:t'], kinds: ['DELETE'] }],
  ['/*!50000 DROP TABLE t */', 'schema', { onlyTables: ['w:t'] }],
  ['SELECT 1; /*!50000 DROP TABLE t */', 'schema', { flags: ['multi_statement'], kinds: ['SELECT', 'DROP TABLE'] }],
  ['SELECT 1 /*!50000 , load_file(\'/etc/passwd\') */', 'admin', { flags: ['file_access'] }],
  ['SELECT 1 /*!40101 FROM secrets */', 'read', { onlyTables: ['r:secrets'] }],
  ['SELECT 1 /*!32302 FROM secrets */', 'read', { onlyTables: ['r:secrets'] }],
  // A `;` inside an executable comment: MySQL ends the statement there, MariaDB rejects it.
  ['SELECT 1 /*!50000 ; DROP TABLE t */', 'unknown', { error: /version comment/ }],
  ['SELECT 1 /*!; DROP TABLE t */', 'unknown'],
  ['/*!DELETE FROM t; */', 'unknown'],
  // Executed by MySQL 8 (80000 <= 8.0.x), ignored by MariaDB: both readings count.
  ['SELECT 1 /*!80000 , load_file(\'x\') */', 'admin', { flags: ['version_dependent', 'file_access'] }],
  ['/*!80000 DROP TABLE t */', 'schema', { flags: ['version_dependent'] }],
  // MariaDB-only comments.
  ['/*M!100000 DROP TABLE t */', 'schema', { flags: ['version_dependent'] }],
  ['/*M! DROP TABLE t */', 'schema', { flags: ['version_dependent'] }],
  ['SELECT 1 /*M!100000 , load_file(\'/etc/passwd\') */', 'admin', { flags: ['file_access'] }],
  // A version no server has: 99.99.99 for MariaDB and MySQL 8.4+ (6 digits); MySQL 8.0
  // reads 9.99.99, which is newer than itself.
  ['SELECT 1 /*!999999 , load_file(\'x\') */', 'read', { not: ['file_access'] }],
  // 9.99.99: skipped by MariaDB (5.7+ range) and by MySQL up to now, but run by a MySQL that
  // new, so it counts.
  ['SELECT 1 /*!99999 , load_file(\'x\') */ LIMIT 0', 'admin', { flags: ['version_dependent'] }],
  // A future version hides a WHERE from older servers: the no-WHERE reading counts.
  ['UPDATE t SET a = 1 /*!99999 WHERE id = 1 */', 'write', { flags: ['no_where', 'version_dependent'] }],
  ['DELETE FROM t /*!99999 WHERE 1 = 0 */', 'write', { flags: ['no_where'] }],
  // Six digits: MariaDB reads 6, MySQL 8.0 reads 5 and runs the rest ("0 + 1"), which
  // is a syntax error there: not every reading parses.
  ['SELECT 1 /*!100000 + 1 */', 'unknown', { flags: ['version_dependent'] }],
  // No digits, or fewer than five: always executed.
  ['SELECT 1 /*!5000 , load_file(\'x\') */', 'unknown'],
  ['SELECT 1 /*!, load_file(\'x\') */', 'admin', { flags: ['file_access'], not: ['version_dependent'] }],
  // A skipped version comment may contain one nested comment.
  ['SELECT 1 /*!99999 /* inner */ , load_file(\'x\') */ FROM t', 'admin'],
  // Comments inside executable comments.
  ['SELECT 1 /*!50000 /* ; DROP TABLE t; */ + 1 */', 'read'],
  ['SELECT 1 /*!50000 + 1 # */ ; DROP TABLE t\n*/', 'read'],
  ['SELECT 1 /*!50000 + 1 -- */ , load_file(\'x\')\n */', 'read', { not: ['file_access'] }],
  ['SELECT 1 /*!50000 , \'*/\' , load_file(\'x\') */', 'admin', { flags: ['file_access'] }],
  // Nested executable comments and unterminated ones.
  ['SELECT 1 /*!50000 + /*!50000 2 */ */', 'unknown'],
  ['SELECT 1 /*!50000 + 1', 'unknown'],
  ['SELECT 1 /* unterminated', 'unknown'],
  ['SELECT 1 /*!99999 unterminated', 'unknown'],
  // Tokens do not merge across comments.
  ['DR/*!50000 OP*/ TABLE t', 'unknown'],
  ['DROP/**/TABLE t', 'schema', { onlyTables: ['w:t'] }],
  ['SELECT/*!50000*/1', 'read'],
  ['/*!50000 SELECT */ * FROM t', 'read', { onlyTables: ['r:t'] }],
  ['/*!40101 SET NAMES utf8mb4 */', 'session'],
  ["/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */", 'session'],
  ['/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`%`*/ /*!50003 TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1 */', 'privilege', { flags: ['definer'] }],
  ['SELECT 1 /*!50000 FROM t */ /*!50000 WHERE a = 1 */', 'read', { onlyTables: ['r:t'] }],
];

// Comment and quoting rules where the server and naive lexers differ.
const lexing: Case[] = [
  // `--` starts a comment only before a space or control character.
  ['SELECT 1--1; DROP TABLE t', 'schema', { flags: ['multi_statement'] }],
  ['SELECT 1 --1; DROP TABLE t', 'schema'],
  ['SELECT 1---1; DROP TABLE t', 'schema'],
  ['SELECT 1--x; DROP TABLE t', 'schema'],
  // `--;` is two minus signs: a syntax error that stops the server before the DROP.
  ['SELECT 1 --; DROP TABLE t', 'unknown'],
  ['SELECT 1 -- ; DROP TABLE t', 'read'],
  ['SELECT 1 --\u000b; DROP TABLE t', 'read'],
  ['SELECT 1--', 'read'],
  // `#` runs to the end of the line, even inside what looks like a string after it.
  ["SELECT 1 # '\n; DROP TABLE t -- '", 'schema'],
  ['SELECT 1 #\r; DROP TABLE t', 'read'],
  // Backslash escapes: whether `\'` ends the string depends on NO_BACKSLASH_ESCAPES. Unless
  // the session's mode is known, both readings count (see the session test for known modes).
  ["SELECT 'a\\'; DROP TABLE t; -- '", 'schema', { flags: ['sql_mode_dependent'] }],
  ["SELECT 'it\\'s' FROM t", 'read', { onlyTables: ['r:t'], not: ['sql_mode_dependent'] }],
  ["INSERT INTO t VALUES ('O\\'Brien', 'x\\\\y')", 'write', { onlyTables: ['w:t'] }],
  ["SELECT 'a\\\\'; DROP TABLE t; -- '", 'schema'],
  ['SELECT "a\\"; DROP TABLE t; -- "', 'schema', { flags: ['sql_mode_dependent'] }],
  ["SELECT 'a''; DROP TABLE t; -- '", 'read'],
  ['SELECT `a``; DROP TABLE t; -- ` FROM x', 'read', { onlyTables: ['r:x'] }],
  ["SELECT 'unterminated", 'unknown'],
  ['SELECT `unterminated', 'unknown'],
  ['SELECT 1\u0000; DROP TABLE t', 'unknown'],
  ["SELECT '\u00e9t\u00e9', `caf\u00e9` FROM t\u00e9", 'read', { onlyTables: ['r:t\u00e9'] }],
  // MySQL 9 reads $a$ as the start of a quoted string (unterminated here); others as a name.
  ['SELECT $a$ FROM t', 'unknown', { flags: ['version_dependent'] }],
  ['SELECT $a FROM t', 'read'],
  ["SELECT $$ ' $$; DROP TABLE t; -- '", 'schema', { flags: ['version_dependent'] }],
  ["SELECT $x$ ; DROP TABLE t; $x$", 'unknown', { flags: ['version_dependent'], tables: ['w:t'] }],
];

const unknowns: Case[] = [
  ['SELEC 1', 'unknown', { error: /parse error/ }],
  ['SELECT FROM', 'unknown'],
  ['SELECT myfunc(1)', 'unknown', { flags: ['unknown_function'], functions: ['myfunc'] }],
  ['SELECT db.myfunc(1)', 'unknown', { functions: ['db.myfunc'] }],
  ['SELECT sys.format_path(\'x\')', 'unknown'],
  ["SELECT sys_exec('id')", 'unknown', { flags: ['program_exec'] }],
  ["SELECT sys_eval('id')", 'unknown', { flags: ['program_exec'] }],
  ['SELECT a FROM t WHERE b = f(a)', 'unknown', { tables: ['r:t'] }],
  ['SELECT * FROM t WHERE a = 1 UNION SELECT udf(1)', 'unknown'],
  ['SELECT a INTO x FROM t', 'unknown'],
  ['EXECUTE s', 'unknown', { flags: ['dynamic_sql'] }],
  ['PREPARE s FROM @sql', 'unknown', { flags: ['dynamic_sql'] }],
  ['EXECUTE IMMEDIATE @sql', 'unknown', { flags: ['dynamic_sql'] }],
  ['BEGIN NOT ATOMIC DELETE FROM t; END', 'unknown'],
  ['IF 1 THEN DROP TABLE t; END IF', 'unknown'],
  ['WHILE 1 DO SELECT 1; END WHILE', 'unknown'],
  ['lbl: LOOP SELECT 1; END LOOP', 'unknown'],
  ['CREATE DEFINER=`root`@`%` PROCEDURE p() BEGIN DELETE FROM t; END', 'unknown'],
  ['SIGNAL SQLSTATE \'45000\'', 'unknown'],
  ['DELIMITER //', 'unknown'],
  ['SET NAMES gbk', 'unknown', { error: /character set/ }],
  ['SET CHARACTER SET big5', 'unknown'],
  ['SET character_set_client = sjis', 'unknown'],
  ["SET sql_mode = 'ORACLE'", 'unknown'],
  ['SET sql_mode = @old; DELETE FROM t', 'unknown', { error: /sql_mode/ }],
  ['CREATE TABLE t (a INT) ENGINE=NoSuchEngine', 'unknown'],
  ['SELECT a SOUNDS LIKE b FROM t', 'unknown'],
  ['SELECT * FROM t1, LATERAL udf_table(1) AS x', 'unknown'],
  ['SELECT NEXT VALUE FOR s', 'unknown'],
];

// Several statements: each analysed, the input as risky as the riskiest.
const multi: Case[] = [
  ['SELECT 1; SELECT 2', 'read', { flags: ['multi_statement'], kinds: ['SELECT', 'SELECT'] }],
  ['SELECT * FROM t; DELETE FROM t', 'write', { flags: ['multi_statement', 'no_where'], onlyTables: ['r:t', 'w:t'] }],
  ['BEGIN; UPDATE t SET a = 1 WHERE id = 1; COMMIT', 'write', { kinds: ['BEGIN', 'UPDATE', 'COMMIT'] }],
  ['SELECT 1;\nDROP TABLE t;', 'schema'],
  ['SELECT 1; GRANT ALL ON *.* TO u', 'privilege'],
  ['SELECT 1; SELECT myudf()', 'unknown'],
  ["SELECT 1; SELECT 'unterminated", 'unknown', { kinds: ['SELECT', 'UNKNOWN'] }],
  ['SET @a = 1; SELECT @a', 'session'],
  ["PREPARE s FROM 'DELETE FROM t'; EXECUTE s", 'write', { flags: ['dynamic_sql', 'no_where', 'prepared'], onlyTables: ['w:t'] }],
  ["PREPARE s FROM 'SELECT * FROM t'; EXECUTE s; DEALLOCATE PREPARE s; EXECUTE s", 'unknown'],
  ["SET sql_mode = 'NO_BACKSLASH_ESCAPES'; SELECT 'a\\'; DROP TABLE t; -- '", 'schema', { kinds: ['SET', 'SELECT', 'DROP TABLE'] }],
  ["SET sql_mode = 'ANSI_QUOTES'; SELECT \"a\" FROM t", 'session', { kinds: ['SET', 'SELECT'] }],
  ["SET sql_mode = ''; SELECT 'a\\'; DROP TABLE t; -- '", 'session', { kinds: ['SET', 'SELECT'] }],
];

const prepareCases: Case[] = [
  ["PREPARE s FROM 'SELECT * FROM t WHERE id = ?'", 'read', { flags: ['dynamic_sql', 'prepare'], onlyTables: ['r:t'] }],
  ["PREPARE s FROM 'DELETE FROM t'", 'write', { flags: ['prepare', 'no_where'] }],
  ["PREPARE s FROM 'SELECT 1 /*!50000 , load_file(''/x'') */'", 'admin', { flags: ['file_access'] }],
  ["EXECUTE IMMEDIATE 'SELECT 1'", 'read', { flags: ['dynamic_sql'] }],
  ["EXECUTE IMMEDIATE 'DROP TABLE t'", 'schema'],
];

describe('mysql analyser', () => {
  let a: MysqlAnalyser;
  before(async () => {
    a = await createMysqlAnalyser();
  });

  const tables: Array<[string, Case[]]> = [
    ['reads', reads],
    ['harmless look-alikes', lookAlikes],
    ['writes', writes],
    ['schema changes', schema],
    ['privilege changes', privilege],
    ['administration', admin],
    ['file access', fileAccess],
    ['execution', execute],
    ['session and transaction statements', session],
    ['version comments', versionComments],
    ['comment and quoting rules', lexing],
    ['unknown input', unknowns],
    ['multi-statement input', multi],
    ['PREPARE and EXECUTE IMMEDIATE', prepareCases],
  ];
  for (const [name, cases] of tables) {
    it(`classifies ${name} (${cases.length} cases)`, () => {
      checkAll(cases, (c) => a.analyse(c));
    });
  }

  it('reports the language, the riskiest class and every class of a multi-statement input', () => {
    const i = a.analyse('SELECT 1; INSERT INTO t VALUES (1); DROP TABLE u');
    assert.equal(i.language, 'mysql');
    assert.equal(i.class, 'schema');
    assert.deepEqual([...i.classes].sort(), ['read', 'schema', 'write']);
    assert.equal(i.parts.length, 3);
  });

  it('reads version comments as the configured server does', async () => {
    const maria = await createMysqlAnalyser({ serverVersion: '10.11.6-MariaDB' });
    const mysql8 = await createMysqlAnalyser({ serverVersion: '8.0.36' });
    const mysql57 = await createMysqlAnalyser({ serverVersion: '5.7.44-log' });
    // MariaDB ignores /*! comments for MySQL 5.7+ versions; MySQL 8 runs them.
    checkIntent(maria.analyse('/*!80000 DROP TABLE t */'), 'read', { kinds: ['EMPTY'], not: ['version_dependent'] });
    checkIntent(mysql8.analyse('/*!80000 DROP TABLE t */'), 'schema', { not: ['version_dependent'] });
    checkIntent(mysql57.analyse('/*!80000 DROP TABLE t */'), 'read');
    // /*M! is MariaDB's: a comment for MySQL.
    checkIntent(maria.analyse('/*M!100000 DROP TABLE t */'), 'schema');
    checkIntent(mysql8.analyse('/*M!100000 DROP TABLE t */'), 'read');
    checkIntent(maria.analyse('/*M!999999 DROP TABLE t */'), 'read');
    // MariaDB reads 6 digits: 100000 <= 10.11; a higher one is skipped.
    checkIntent(maria.analyse('/*!100000 DROP TABLE t */'), 'schema');
    checkIntent(maria.analyse('/*!110000 DROP TABLE t */'), 'read');
    // No digits: executed by every server.
    for (const x of [maria, mysql8, mysql57]) checkIntent(x.analyse('/*!DROP TABLE t*/'), 'schema');
    // A WHERE only a newer server sees.
    checkIntent(mysql57.analyse('UPDATE t SET a = 1 /*!80000 WHERE id = 1 */'), 'write', { flags: ['no_where'] });
    checkIntent(mysql8.analyse('UPDATE t SET a = 1 /*!80000 WHERE id = 1 */'), 'write', { not: ['no_where'] });
    await assert.rejects(createMysqlAnalyser({ serverVersion: 'banana' }));
  });

  it('takes EXECUTE from the session, and is unknown for a statement it has not seen', () => {
    const session: MysqlAnalysisSession = { prepared: new Map() };
    checkIntent(a.analyse('EXECUTE s', session), 'unknown', { error: /not seen/ });
    checkIntent(a.analyse("PREPARE s FROM 'DELETE FROM t WHERE id = ?'", session), 'write', { flags: ['prepare'] });
    checkIntent(a.analyse('EXECUTE s USING @id', session), 'write', { flags: ['prepared', 'dynamic_sql'], onlyTables: ['w:t'] });
    // Names are case-insensitive.
    checkIntent(a.analyse('EXECUTE S', session), 'write');
    // Re-preparing keeps the riskier of both (a failed PREPARE leaves the old one).
    a.analyse("PREPARE s FROM 'SELECT 1'", session);
    checkIntent(a.analyse('EXECUTE s', session), 'write');
    a.analyse('DEALLOCATE PREPARE s', session);
    checkIntent(a.analyse('EXECUTE s', session), 'unknown');
    a.analyse("PREPARE s FROM 'SELECT 1'", session);
    checkIntent(a.analyse('EXECUTE s', session), 'read');
    a.analyse('DROP PREPARE s', session);
    checkIntent(a.analyse('EXECUTE s', session), 'unknown');
    a.analyse('PREPARE q FROM @text', session);
    checkIntent(a.analyse('EXECUTE q', session), 'unknown');
  });

  it('follows sql_mode across commands of a session', () => {
    const sneaky = "SELECT 'a\\'; DROP TABLE t; -- '";
    // Without the session's mode, both readings count.
    checkIntent(a.analyse(sneaky), 'schema', { flags: ['sql_mode_dependent'] });
    // The door knows the mode from the server's status flags (here: backslash escapes on).
    const session: MysqlAnalysisSession = { prepared: new Map(), sqlMode: { backslashEscapes: true, ansiQuotes: false } };
    checkIntent(a.analyse(sneaky, session), 'read', { not: ['sql_mode_dependent'] });
    a.analyse("SET sql_mode = 'STRICT_TRANS_TABLES,NO_BACKSLASH_ESCAPES'", session);
    assert.deepEqual(session.sqlMode, { backslashEscapes: false, ansiQuotes: false });
    checkIntent(a.analyse(sneaky, session), 'schema');
    a.analyse('SET sql_mode = DEFAULT', session);
    checkIntent(a.analyse(sneaky, session), 'read');
    // A mode the analyser cannot compute: every reading counts.
    a.analyse('SET sql_mode = @saved', session);
    assert.equal(session.sqlMode, 'unknown');
    checkIntent(a.analyse(sneaky, session), 'schema', { flags: ['sql_mode_dependent'] });
    checkIntent(a.analyse('SELECT 1', session), 'read');
    // Forms the grammar lacks still update the mode.
    a.analyse("SET @x := 1, sql_mode := 'NO_BACKSLASH_ESCAPES'", session);
    assert.deepEqual(session.sqlMode, { backslashEscapes: false, ansiQuotes: false });
    a.analyse("SET GLOBAL max_connections = 10, SESSION sql_mode = ''", session);
    assert.deepEqual(session.sqlMode, { backslashEscapes: true, ansiQuotes: false });
    // SET STATEMENT changes it for one statement only.
    a.analyse("SET STATEMENT sql_mode = 'NO_BACKSLASH_ESCAPES' FOR SELECT 1", session);
    assert.deepEqual(session.sqlMode, { backslashEscapes: true, ansiQuotes: false });
    // The door can tell the mode from the server's status flags.
    session.sqlMode = { backslashEscapes: true, ansiQuotes: true };
    checkIntent(a.analyse('SELECT "a" FROM t', session), 'read', { onlyTables: ['r:t'] });
  });

  it('reports which results may be cached', () => {
    const cacheable = (text: string, session?: MysqlAnalysisSession): boolean => a.analyseCacheable(text, session).cacheable;
    assert.equal(cacheable('SELECT * FROM t WHERE id = 1'), true);
    assert.equal(cacheable('/*!50000 DROP TABLE t */'), true);
    // Depends on the session: prepared statements, sql_mode, backslashes and double quotes.
    assert.equal(cacheable("PREPARE s FROM 'SELECT 1'", { prepared: new Map() }), false);
    assert.equal(cacheable('EXECUTE s'), false);
    assert.equal(cacheable("SET sql_mode = 'ANSI'"), false);
    assert.equal(cacheable("SELECT 'it\\'s'"), false);
    assert.equal(cacheable('SELECT "x"'), false);
    assert.equal(cacheable("SELECT 'x\"y'"), true);
    // Through the caching wrapper, a session-dependent result is recomputed every time.
    const cached = new CachingAnalyser(a);
    const s: MysqlAnalysisSession = { prepared: new Map() };
    checkIntent(cached.analyse('EXECUTE s', s), 'unknown');
    cached.analyse("PREPARE s FROM 'SELECT 1'", s);
    checkIntent(cached.analyse('EXECUTE s', s), 'read');
  });

  it('takes extra function knowledge from options', async () => {
    const x = await createMysqlAnalyser({
      safeFunctions: ['my_pure', 'db.other_pure'],
      functionEffects: { audit_log: { class: 'write', flags: ['side_effect_function'] } },
    });
    checkIntent(x.analyse('SELECT my_pure(1), db.other_pure(2), MY_PURE(3)'), 'read');
    checkIntent(x.analyse('SELECT audit_log(1)'), 'write');
    checkIntent(x.analyse('SELECT other_pure(1)'), 'unknown');
  });

  it('answers unknown at once for input over the limit', () => {
    const big = `SELECT '${'x'.repeat(10 * 1024 * 1024)}'`;
    const t0 = performance.now();
    const i = a.analyse(big);
    assert.ok(performance.now() - t0 < 50, 'the size check comes first');
    checkIntent(i, 'unknown', { error: /limit/ });
    assert.ok(MAX_MYSQL_INPUT >= 1_000_000);
  });

  it('bounds statements that would break or stall the grammar', () => {
    const cases = [
      `SELECT 1 ${'OR 1 '.repeat(3000)}`,
      `SELECT ${'('.repeat(100)}1${')'.repeat(100)}`,
      `SELECT ${'CAST('.repeat(60)}1${' AS CHAR)'.repeat(60)}`,
      `SELECT ${'INTERVAL '.repeat(40)}1 DAY`,
      `SELECT 1 ${'UNION SELECT 1 '.repeat(2000)}`,
      `SELECT ${'NOT '.repeat(300)}1`,
    ];
    for (const c of cases) {
      const t0 = performance.now();
      const i = a.analyse(c);
      const ms = performance.now() - t0;
      assert.ok(ms < 3_000, `took ${ms} ms: ${c.slice(0, 40)}`);
      checkIntent(i, 'unknown', {}, c.slice(0, 40));
    }
    // The grammar still works afterwards.
    checkIntent(a.analyse('SELECT * FROM t'), 'read', { onlyTables: ['r:t'] });
    // A long but shallow statement is analysed.
    const wide = `SELECT ${Array.from({ length: 2000 }, (_, k) => `a${k}`).join(', ')} FROM t WHERE id IN (${Array.from({ length: 2000 }, (_, k) => k).join(', ')})`;
    checkIntent(a.analyse(wide), 'read', { onlyTables: ['r:t'] });
    const ors = `SELECT * FROM t WHERE ${Array.from({ length: 100 }, (_, k) => `a = ${k}`).join(' OR ')}`;
    checkIntent(a.analyse(ors), 'read', { onlyTables: ['r:t'] });
  });

  it('survives random and mangled input without throwing', () => {
    const next = rng(7);
    const pieces = ['SELECT', ' ', "'", '"', '`', '/*', '*/', '/*!', '/*M!', '50000', '--', '-- ', '#', '\n', ';', '(', ')', 'DROP TABLE t', 'FROM t', '\\', 'load_file(', ',', '@a', ':=', '$$', '0x', 'INTO OUTFILE', "'x'"];
    for (let k = 0; k < 400; k++) {
      let s = '';
      const n = 1 + Math.floor(next() * 14);
      for (let j = 0; j < n; j++) s += pieces[Math.floor(next() * pieces.length)];
      const i = a.analyse(s);
      assert.ok(typeof i.class === 'string');
      if (i.class === 'read') assert.ok(!/DROP TABLE t/.test(s) || i.parts.every((p) => p.kind !== 'DROP TABLE'), s);
    }
    for (const bad of [undefined, null, 42, {}] as unknown[]) checkIntent(a.analyse(bad as string), 'unknown');
  });
});
