// Audit ledger benchmark on the embedded store, in a temp directory:
//   node --import tsx bench/audit.ts [records] [appenders] [postgres://url]
// Prints sustained appends/s through AuditLedger with many concurrent appenders (each awaiting
// its own record before the next, like a door's sessions do), and verify records/s, with the
// default worker threads and in one thread. Records are full decision records (~640 bytes of
// body, with intent), the largest kind a door writes.
// Targets: >= 20,000 appends/s, >= 200,000 verified records/s.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
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

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-audit-'));
  // Optional third argument: a postgres:// URL; the run uses a throwaway schema there.
  const pgUrl = process.argv[4];
  const schema = `sluice_bench_${randomBytes(4).toString('hex')}`;
  const store: Store = pgUrl
    ? new PostgresStore({ connectionString: pgUrl, schema })
    : new SqliteStore({ path: join(dir, 'sluice.db') });
  console.log(`store: ${pgUrl ? `PostgreSQL ${redactUrl(pgUrl)} (schema ${schema})` : 'embedded SQLite'}`);
  try {
    await store.migrate();
    const ledger = new AuditLedger(store);
    const perWorker = Math.ceil(total / appenders);
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: appenders }, async (_, w) => {
        for (let i = 0; i < perWorker; i++) await ledger.append(draft(i, w));
      }),
    );
    await ledger.close();
    const appendMs = performance.now() - t0;
    const written = perWorker * appenders;
    console.log(
      `append: ${written} records, ${appenders} concurrent appenders${pgUrl ? '' : ', synchronous=FULL'}: ` +
        `${Math.round(written / (appendMs / 1000)).toLocaleString('en')} records/s (${(appendMs / 1000).toFixed(2)} s)`,
    );

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
