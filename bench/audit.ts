// Audit ledger benchmark on the embedded store, in a temp directory:
//   node --import tsx bench/audit.ts [records] [appenders] [postgres://url]
// Prints sustained appends/s through AuditLedger with many concurrent appenders (each awaiting
// its own record before the next, like a door's sessions do), and verify records/s, with the
// default worker threads and in one thread. Records are full decision records (~640 bytes of
// body, with intent), the largest kind a door writes. On the embedded store appends are
// measured with the writer thread (the default) and inline on the main thread, alternating
// (SLUICE_BENCH_ROUNDS rounds, default 2), each on a fresh file; the main thread's CPU time
// per record shows what the writer thread takes off the event loop.
// Targets: >= 20,000 appends/s, >= 200,000 verified records/s.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLedger } from '../src/audit/ledger.js';
import type { AuditDraft } from '../src/audit/record.js';
import { verifyAudit } from '../src/audit/verify.js';
import pg from 'pg';
import { redactUrl } from '../src/store/errors.js';
import { PostgresStore } from '../src/store/postgres.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { Store } from '../src/store/store.js';

const total = Number(process.argv[2] ?? 200_000);
const appenders = Number(process.argv[3] ?? 500);

function draft(i: number, worker: number): AuditDraft {
  return {
    kind: 'decision',
    actionId: `act_${worker}_${i}`,
    session: `ses_${worker}`,
    principal: `agent-${worker % 20}`,
    agent: `agent-${worker % 20}`,
    onBehalfOf: 'alice@example.com',
    connection: 'orders-db',
    door: 'postgres',
    command: `SELECT id, status, total FROM orders WHERE customer_id = ${i} ORDER BY created_at DESC LIMIT 50`,
    intent: {
      class: 'read',
      classes: ['read'],
      flags: [],
      objects: { tables: [{ name: 'orders', access: 'read' }], programs: [], paths: [], hosts: [], functions: [] },
    },
    rule: 'agents-read-orders',
    effect: 'allow',
    reason: 'agents may read orders',
    detail: { principalKind: 'agent', groups: ['agents'] },
  };
}

/** CPU seconds used by the main thread so far (Linux: /proc; undefined elsewhere). */
function mainThreadCpu(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks
  } catch {
    return undefined;
  }
}

/** Appends `total` records through a ledger with `appenders` concurrent callers; prints figures. */
async function appendRun(store: Store, label: string): Promise<void> {
  const ledger = new AuditLedger(store);
  const perWorker = Math.ceil(total / appenders);
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const cpu0 = mainThreadCpu();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: appenders }, async (_, w) => {
      for (let i = 0; i < perWorker; i++) await ledger.append(draft(i, w));
    }),
  );
  await ledger.close();
  const appendMs = performance.now() - t0;
  const cpu1 = mainThreadCpu();
  delay.disable();
  const written = perWorker * appenders;
  const cpu = cpu0 !== undefined && cpu1 !== undefined ? `, main thread ${Math.round(((cpu1 - cpu0) * 1e6) / written)} µs CPU/record` : '';
  console.log(
    `append, ${label}: ${written} records, ${appenders} concurrent appenders: ` +
      `${Math.round(written / (appendMs / 1000)).toLocaleString('en')} records/s (${(appendMs / 1000).toFixed(2)} s)${cpu}, ` +
      `event loop delay p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms, max ${(delay.max / 1e6).toFixed(1)} ms`,
  );
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-audit-'));
  // Optional third argument: a postgres:// URL; the run uses a throwaway schema there.
  const pgUrl = process.argv[4];
  const schema = `sluice_bench_${randomBytes(4).toString('hex')}`;
  const store: Store = pgUrl
    ? new PostgresStore({ connectionString: pgUrl, schema })
    : new SqliteStore({ path: join(dir, 'sluice.db') });
  console.log(`store: ${pgUrl ? `PostgreSQL ${redactUrl(pgUrl)} (schema ${schema})` : 'embedded SQLite, synchronous=FULL'}`);
  try {
    await store.migrate();
    if (!pgUrl) {
      // Inline (everything on the main thread, as before the writer thread) against the
      // writer thread, alternating, each on a file of its own so both start equally empty.
      const rounds = Number(process.env.SLUICE_BENCH_ROUNDS ?? 2);
      for (let round = 1; round <= rounds; round++) {
        for (const mode of ['inline', 'thread'] as const) {
          const other = new SqliteStore({ path: join(dir, `${mode}-${round}.db`), auditWriter: mode });
          try {
            await other.migrate();
            await appendRun(other, `${mode === 'thread' ? 'writer thread' : 'inline'}, round ${round}`);
          } finally {
            await other.close();
          }
        }
      }
    }
    // The store verify reads below: the default mode.
    await appendRun(store, pgUrl ? 'PostgreSQL' : 'writer thread');

    // Worker threads apply to the embedded store only.
    const modes = [
      ...(pgUrl ? [] : [[`worker threads (${Math.min(8, availableParallelism())} CPUs)`, undefined] as const]),
      ['one thread', 0] as const,
    ];
    for (const [label, workers] of modes) {
      const t1 = performance.now();
      const result = await verifyAudit(store, workers === undefined ? {} : { workers });
      const verifyMs = performance.now() - t1;
      if (!result.ok) throw new Error(`verify failed: ${result.problem?.message}`);
      console.log(
        `verify, ${label}: ${result.count} records: ${Math.round(result.count / (verifyMs / 1000)).toLocaleString('en')} records/s ` +
          `(${(verifyMs / 1000).toFixed(2)} s)`,
      );
    }
  } finally {
    if (store instanceof PostgresStore) {
      const pool = new pg.Pool({ connectionString: pgUrl, max: 1 });
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => pool.end());
    }
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
