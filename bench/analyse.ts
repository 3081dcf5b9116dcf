// Analyser throughput on a realistic mix:   node --import tsx bench/analyse.ts [seconds]
// Prints statements/s for PostgreSQL uncached and cached, and shell commands/s uncached and
// cached. Targets (one core): PostgreSQL >= 10,000/s uncached and >= 1,000,000/s cached;
// shell >= 10,000/s uncached. Then the shape cache (sql-shape.ts): statements that differ only
// in literals, uncached against served by shape, interleaved over three rounds, plus what the
// shape scan alone costs and the whole mix above through both cache levels.
import { pathToFileURL } from 'node:url';
import type { Analyser } from '../src/analyse/analyser.js';
import { CachingAnalyser } from '../src/analyse/cache.js';
import { unknownIntent } from '../src/analyse/intent.js';
import { createPostgresAnalyser } from '../src/analyse/postgres.js';
import { postgresShape } from '../src/analyse/sql-shape.js';
import { createShellAnalyser } from '../src/analyse/shell.js';

/** Statements an application and an agent send, with literals varied so nothing repeats. */
export function postgresMix(n: number): string[] {
  const shapes: ((i: number) => string)[] = [
    (i) => `SELECT id, name, email FROM users WHERE id = ${i}`,
    (i) => `SELECT * FROM orders WHERE customer_id = ${i} AND status = 'open' ORDER BY created_at DESC LIMIT 20`,
    (i) => `SELECT o.id, sum(l.amount) FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.created_at > now() - interval '${i % 30} days' GROUP BY o.id HAVING sum(l.amount) > ${i}`,
    (i) => `INSERT INTO events (kind, payload, created_at) VALUES ('click', '{"n": ${i}}', now()) RETURNING id`,
    (i) => `UPDATE accounts SET balance = balance - ${i} WHERE id = ${i % 1000} AND balance >= ${i}`,
    (i) => `DELETE FROM sessions WHERE expires_at < now() - interval '${i} seconds'`,
    (i) => `WITH recent AS (SELECT user_id, count(*) AS c FROM logins WHERE at > now() - interval '1 day' GROUP BY user_id) SELECT u.name, r.c FROM users u JOIN recent r ON r.user_id = u.id WHERE r.c > ${i % 10}`,
    (i) => `SELECT * FROM products p WHERE p.price BETWEEN ${i} AND ${i + 100} AND p.tags @> ARRAY['x${i}'] FOR UPDATE SKIP LOCKED`,
    (i) => `INSERT INTO kv (k, v) VALUES ('k${i}', 'v') ON CONFLICT (k) DO UPDATE SET v = excluded.v`,
    (i) => `SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> ${i}`,
    () => 'BEGIN',
    () => 'COMMIT',
    (i) => `SET statement_timeout = '${i % 60}s'`,
    (i) => `SELECT lower(name), coalesce(nickname, name), date_trunc('day', created_at) FROM users WHERE name ILIKE 'a${i}%'`,
  ];
  return Array.from({ length: n }, (_, i) => (shapes[i % shapes.length] as (i: number) => string)(i));
}

/** Statements that repeat with other literals only, as pgbench and agents send them. */
export function literalMix(n: number): string[] {
  const shapes: ((i: number) => string)[] = [
    (i) => `SELECT abalance FROM pgbench_accounts WHERE aid = ${(i * 7919) % 100_000 + 1};`,
    (i) => `SELECT id, name, email FROM users WHERE id = ${i}`,
    (i) => `SELECT * FROM orders WHERE customer_id = ${i} AND status = '${i % 2 === 0 ? 'open' : 'paid'}' ORDER BY created_at DESC LIMIT ${i % 50 + 1}`,
    (i) => `SELECT p.id, p.name FROM products p WHERE p.id IN (${i}, ${i + 1}, ${i + 2}) AND p.active = 't'`,
    (i) => `SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND pid <> ${i}`,
    (i) => `UPDATE accounts SET active = false WHERE id = ${i} RETURNING id`,
    (i) => `DELETE FROM sessions WHERE token = 'tok-${i}'`,
  ];
  return Array.from({ length: n }, (_, i) => (shapes[i % shapes.length] as (i: number) => string)(i));
}

/** Commands an agent runs on a host, with arguments varied so nothing repeats. */
export function shellMix(n: number): string[] {
  const shapes: ((i: number) => string)[] = [
    (i) => `ls -la /var/log/app${i}`,
    (i) => `cat /etc/app/config${i}.yaml`,
    (i) => `grep -rn "error ${i}" /var/log/app/ | tail -n 20`,
    (i) => `ps aux | grep worker${i} | grep -v grep`,
    (i) => `git log --oneline -n ${i % 50 + 1}`,
    (i) => `git status && git diff HEAD~${i % 5} -- src/`,
    (i) => `kubectl get pods -n team${i} -o wide`,
    (i) => `kubectl logs deploy/web${i} --tail 100`,
    (i) => `find /tmp -name "*.log${i}" -mtime +7`,
    (i) => `df -h; free -m; uptime # check ${i}`,
    (i) => `curl -s https://api${i}.example.com/health | jq .status`,
    (i) => `sudo systemctl restart app${i}`,
    (i) => `for f in /srv/data${i}/*.csv; do wc -l "$f"; done`,
    (i) => `awk -F, '{ s += $3 } END { print s }' sales${i}.csv`,
    (i) => `tar czf /backup/b${i}.tgz /srv/app && echo done`,
    (i) => `bash -c "cd /srv/app${i} && make test"`,
  ];
  return Array.from({ length: n }, (_, i) => (shapes[i % shapes.length] as (i: number) => string)(i));
}

/** Analyses per second over `seconds`, after a warm-up; printed with its label. Shared by the analyser benches. */
export function rate(label: string, analyser: Analyser, inputs: string[], seconds: number): number {
  // Warm up.
  for (let i = 0; i < Math.min(inputs.length, 2_000); i++) analyser.analyse(inputs[i] as string);
  let done = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  while (performance.now() < deadline) {
    for (let k = 0; k < 1_000; k++) analyser.analyse(inputs[(done + k) % inputs.length] as string);
    done += 1_000;
  }
  const perSecond = done / ((performance.now() - t0) / 1000);
  console.log(`${label.padEnd(36)} ${Math.round(perSecond).toLocaleString('en-US').padStart(12)} /s`);
  return perSecond;
}

export interface AnalyseBenchResult {
  postgresUncached: number;
  postgresCached: number;
  shellUncached: number;
  shellCached: number;
  /** Literal-varying statements: full analysis, and served by shape (medians of 3 rounds). */
  literalUncached: number;
  literalShapeHit: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

export async function runAnalyseBench(seconds = 3): Promise<AnalyseBenchResult> {
  const pg = await createPostgresAnalyser();
  const sh = await createShellAnalyser();
  const pgInputs = postgresMix(50_000);
  const shInputs = shellMix(50_000);
  const postgresUncached = rate('postgres, uncached (distinct text)', pg, pgInputs, seconds);
  // Cached: a working set of repeated statements, as a pool of application connections sends.
  const pgCached = new CachingAnalyser(pg);
  const hot = pgInputs.slice(0, 500);
  const postgresCached = rate('postgres, cached (500 hot statements)', pgCached, hot, seconds);
  const shellUncached = rate('shell, uncached (distinct text)', sh, shInputs, seconds);
  const shellCached = rate('shell, cached (500 hot commands)', new CachingAnalyser(sh), shInputs.slice(0, 500), seconds);
  // Shape cache: every text distinct, so the exact-text level always misses.
  const literal = literalMix(70_000);
  const shapeOnly: Analyser = {
    language: 'x',
    analyse: (t) => (postgresShape(t) === undefined ? unknownIntent('x', 'no shape') : unknownIntent('x', 'shape')),
  };
  const uncached: number[] = [];
  const hits: number[] = [];
  for (let round = 0; round < 3; round++) {
    uncached.push(rate('postgres, literal-varying, uncached', pg, literal, seconds / 3));
    // A fresh cache per round: the warm-up in rate() fills the shape level (7 shapes).
    hits.push(rate('postgres, literal-varying, shape hits', new CachingAnalyser(pg, undefined, { shape: postgresShape }), literal, seconds / 3));
  }
  rate('shape scan alone (literal-varying)', shapeOnly, literal, seconds / 3);
  const mixed = new CachingAnalyser(pg, undefined, { shape: postgresShape });
  rate('postgres, mix above, text+shape cache', mixed, pgInputs, seconds);
  const served = mixed.shapeCache?.hits ?? 0;
  const asked = mixed.cache.hits + mixed.cache.misses;
  console.log(`  mix served by shape: ${Math.round((100 * served) / Math.max(1, asked))}% of analyses (by exact text: ${Math.round((100 * mixed.cache.hits) / Math.max(1, asked))}%)`);
  const literalUncached = median(uncached);
  const literalShapeHit = median(hits);
  console.log(`literal-varying medians: uncached ${Math.round(literalUncached).toLocaleString('en-US')}/s, shape hits ${Math.round(literalShapeHit).toLocaleString('en-US')}/s (x${(literalShapeHit / literalUncached).toFixed(1)})`);
  return { postgresUncached, postgresCached, shellUncached, shellCached, literalUncached, literalShapeHit };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(`node ${process.version}`);
  const seconds = Number(process.argv[2] ?? 3);
  const r = await runAnalyseBench(seconds);
  const checks: [string, boolean][] = [
    ['postgres uncached >= 10,000/s', r.postgresUncached >= 10_000],
    ['postgres cached >= 1,000,000/s', r.postgresCached >= 1_000_000],
    ['shell uncached >= 10,000/s', r.shellUncached >= 10_000],
  ];
  for (const [name, ok] of checks) console.log(`target ${name}: ${ok ? 'met' : 'MISSED'}`);
  if (checks.some(([, ok]) => !ok)) process.exitCode = 1;
}
