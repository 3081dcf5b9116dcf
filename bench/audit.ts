// Audit ledger benchmark on the embedded store, in a temp directory:
//   node --import tsx bench/audit.ts [records] [appenders]
// Prints sustained appends/s through AuditLedger with many concurrent appenders (each awaiting
// its own record before the next, like a door's sessions do), and verify records/s, with the
// default worker threads and in one thread. Records are full decision records (~640 bytes of
// body, with intent), the largest kind a door writes.
// Targets: >= 20,000 appends/s, >= 200,000 verified records/s.
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { AuditLedger } from '../src/audit/ledger.js';
import type { AuditDraft } from '../src/audit/record.js';
import { verifyAudit } from '../src/audit/verify.js';
import { SqliteStore } from '../src/store/sqlite.js';

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
  const store = new SqliteStore({ path: join(dir, 'sluice.db') });
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
      `append: ${written} records, ${appenders} concurrent appenders, synchronous=FULL: ` +
        `${Math.round(written / (appendMs / 1000)).toLocaleString('en')} records/s (${(appendMs / 1000).toFixed(2)} s)`,
    );

    for (const [label, workers] of [
      [`worker threads (${Math.min(8, availableParallelism())} CPUs)`, undefined],
      ['one thread', 0],
    ] as const) {
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
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
