// MySQL and HTTP analyser throughput:   node --import tsx bench/analyse-mysql-http.ts [seconds]
// Prints MySQL statements/s uncached (target >= 10,000/s on one core, like PostgreSQL) and
// cached, and HTTP requests/s uncached.
import { pathToFileURL } from 'node:url';
import { CachingAnalyser } from '../src/analyse/cache.js';
import { createHttpAnalyser } from '../src/analyse/http.js';
import { createMysqlAnalyser } from '../src/analyse/mysql.js';
import { rate } from './analyse.js';

/** Statements an application and an agent send to MySQL, literals varied so nothing repeats. */
export function mysqlMix(n: number): string[] {
  const shapes: ((i: number) => string)[] = [
    (i) => `SELECT id, name, email FROM users WHERE id = ${i}`,
    (i) => `SELECT * FROM orders WHERE customer_id = ${i} AND status = 'open' ORDER BY created_at DESC LIMIT 20`,
    (i) => `SELECT o.id, SUM(l.amount) FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.created_at > NOW() - INTERVAL ${i % 30} DAY GROUP BY o.id HAVING SUM(l.amount) > ${i}`,
    (i) => `INSERT INTO events (kind, payload, created_at) VALUES ('click', '{"n": ${i}}', NOW())`,
    (i) => `UPDATE accounts SET balance = balance - ${i} WHERE id = ${i % 1000} AND balance >= ${i}`,
    (i) => `DELETE FROM sessions WHERE expires_at < NOW() - INTERVAL ${i} SECOND`,
    (i) => `INSERT INTO kv (k, v) VALUES ('k${i}', 'v') ON DUPLICATE KEY UPDATE v = VALUES(v)`,
    (i) => `SELECT * FROM products p WHERE p.price BETWEEN ${i} AND ${i + 100} FOR UPDATE`,
    (i) => `SELECT COUNT(*) FROM information_schema.processlist WHERE command <> 'Sleep' AND id <> ${i}`,
    (i) => `UPDATE t1 JOIN t2 ON t1.id = t2.id SET t1.a = t2.b WHERE t2.c = ${i}`,
    () => 'BEGIN',
    () => 'COMMIT',
    (i) => `SET SESSION max_execution_time = ${i % 60}000`,
    (i) => `SELECT LOWER(name), COALESCE(nickname, name), DATE_FORMAT(created_at, '%Y-%m') FROM users WHERE name LIKE 'a${i}%'`,
  ];
  return Array.from({ length: n }, (_, i) => (shapes[i % shapes.length] as (i: number) => string)(i));
}

/** Requests an agent sends to HTTP APIs and the Kubernetes API. */
export function httpMix(n: number): string[] {
  const shapes: ((i: number) => string)[] = [
    (i) => `GET https://api.example.com/v1/orders/${i}?expand=lines`,
    (i) => `POST https://api.example.com/v1/orders\nContent-Type: application/json\n\n{"qty": ${i}}`,
    (i) => `GET /api/v1/namespaces/team${i % 20}/pods`,
    (i) => `GET /api/v1/namespaces/team${i % 20}/pods/web-${i}/log?tailLines=100`,
    (i) => `PATCH /apis/apps/v1/namespaces/team${i % 20}/deployments/web${i}`,
    (i) => `POST /api/v1/namespaces/team${i % 20}/pods/web-${i}/exec?command=sh`,
    (i) => `GET /api/v1/namespaces/team${i % 20}/secrets/db${i}`,
    (i) => `DELETE https://api.example.com/v1/carts/${i}`,
  ];
  return Array.from({ length: n }, (_, i) => (shapes[i % shapes.length] as (i: number) => string)(i));
}

export interface MysqlHttpBenchResult {
  mysqlUncached: number;
  mysqlCached: number;
  httpUncached: number;
}

export async function runMysqlHttpBench(seconds = 3): Promise<MysqlHttpBenchResult> {
  const my = await createMysqlAnalyser();
  const http = await createHttpAnalyser();
  // Distinct texts, so every call parses (the analyser itself keeps nothing between calls).
  const myInputs = mysqlMix(100_000);
  const mysqlUncached = rate('mysql, uncached (distinct text)', my, myInputs, seconds);
  const mysqlCached = rate('mysql, cached (500 hot statements)', new CachingAnalyser(my), myInputs.slice(0, 500), seconds);
  const httpUncached = rate('http, uncached (distinct text)', http, httpMix(100_000), seconds);
  return { mysqlUncached, mysqlCached, httpUncached };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`node ${process.version}`);
  const r = await runMysqlHttpBench(Number(process.argv[2] ?? 3));
  const checks: [string, boolean][] = [['mysql uncached >= 10,000/s', r.mysqlUncached >= 10_000]];
  for (const [name, ok] of checks) console.log(`target ${name}: ${ok ? 'met' : 'MISSED'}`);
  if (checks.some(([, ok]) => !ok)) process.exitCode = 1;
}
