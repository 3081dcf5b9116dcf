// Audit ledger benchmark, on the embedded store (in a temp directory) and on PostgreSQL:
//   node --import tsx bench/audit.ts [records] [appenders] [postgres://url] [--verify-only | --verify-export]
// --verify-only: only the appends verify needs (checkpoints on), then verify several times
// (SLUICE_BENCH_VERIFY_ROUNDS, default 3), alternating the modes, with medians.
// (SLUICE_BENCH_EMBEDDED=off with --verify-only: PostgreSQL only.)
// --verify-export: the same store, exported to a JSONL file (writeAuditExport), then that file
// verified offline (verifyAuditJsonl, checkpoint key trusted) several times, with medians.
// Prints sustained appends/s through AuditLedger with many concurrent appenders (each awaiting
// its own record before the next, like a door's sessions do), with signed checkpoints on, and
// verify records/s (checkpoints checked), with the default worker threads and in one thread.
// Records are full decision records (~640 bytes of body, with intent), the largest kind a door
// writes. On the embedded store appends are also measured through the audit journal (the gate's
// path: durable in the journal file, timed until on the chain), and without checkpoints, with the writer
// thread and inline on the main thread, alternating (SLUICE_BENCH_ROUNDS rounds, default 1),
// each on a fresh file; the main thread's CPU time per record shows what the writer thread
// takes off the event loop. PostgreSQL (the URL argument, else SLUICE_BENCH_PG, else the local
// test server; `off` skips it) runs in a throwaway schema, as one node and as two nodes (two
// stores, ledgers and checkpoint writers on one schema).
// Targets: >= 20,000 appends/s embedded and >= 10,000/s on PostgreSQL with checkpoints on,
// >= 200,000 verified records/s.
import { randomBytes, type KeyObject } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointWriter } from '../src/audit/checkpoints-writer.js';
import { openAuditJournal } from '../src/audit/journal-open.js';
import { AuditLedger } from '../src/audit/ledger.js';
import type { AuditDraft } from '../src/audit/record.js';
import { CheckpointSigner } from '../src/audit/signing.js';
import { writeAuditExport } from '../src/audit/export.js';
import { verifyAudit, verifyAuditJsonl } from '../src/audit/verify.js';
import pg from 'pg';
import { redactUrl } from '../src/store/errors.js';
import { PostgresStore } from '../src/store/postgres.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { Store } from '../src/store/store.js';

const verifyExport = process.argv.includes('--verify-export');
const verifyOnly = process.argv.includes('--verify-only') || verifyExport;
const args = process.argv.slice(2).filter((a) => a !== '--verify-only' && a !== '--verify-export');
const total = Number(args[0] ?? 200_000);
const appenders = Number(args[1] ?? 500);
const verifyRounds = Number(process.env.SLUICE_BENCH_VERIFY_ROUNDS ?? (verifyOnly ? 3 : 1));

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

interface AppendFigures {
  rate: number;
  /** The public keys the checkpoint writers signed with. */
  keys: KeyObject[];
}

/**
 * Appends `total` records with `appenders` concurrent callers through one ledger per store
 * (several stores on one database: several nodes), each with a checkpoint writer when
 * `checkpoints` is set; prints figures.
 */
async function appendRun(stores: Store[], label: string, checkpoints = false, journaled = false): Promise<AppendFigures> {
  const nodes = await Promise.all(
    stores.map(async (store) => {
      // journaled: the gate's path on the embedded store (record(): durable once in the journal
      // file, on the chain a batch later); the time runs until the last one is on the chain.
      const journal = journaled ? await openAuditJournal(store) : undefined;
      const ledger = new AuditLedger(store, journal ? { journal: journal.journal } : {});
      const signer = checkpoints ? CheckpointSigner.generate() : undefined;
      const writer = signer ? new CheckpointWriter(store, ledger, signer, { every: 1000, intervalMs: 0 }) : undefined;
      await writer?.start();
      return { ledger, writer, key: signer?.publicKey };
    }),
  );
  const perWorker = Math.ceil(total / appenders);
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const cpu0 = mainThreadCpu();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: appenders }, async (_, w) => {
      const { ledger } = nodes[w % nodes.length]!;
      for (let i = 0; i < perWorker; i++) await (journaled ? ledger.record(draft(i, w)) : ledger.append(draft(i, w)));
    }),
  );
  for (const { ledger, writer } of nodes) {
    await writer?.close();
    await ledger.close();
  }
  const appendMs = performance.now() - t0;
  const cpu1 = mainThreadCpu();
  delay.disable();
  const written = perWorker * appenders;
  const rate = Math.round(written / (appendMs / 1000));
  const cpu = cpu0 !== undefined && cpu1 !== undefined ? `, main thread ${Math.round(((cpu1 - cpu0) * 1e6) / written)} µs CPU/record` : '';
  console.log(
    `append, ${label}${checkpoints ? ', checkpoints on' : ''}${journaled ? ', through the journal' : ''}: ${written} records, ${appenders} concurrent appenders: ` +
      `${rate.toLocaleString('en')} records/s (${(appendMs / 1000).toFixed(2)} s)${cpu}, ` +
      `event loop delay p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms, max ${(delay.max / 1e6).toFixed(1)} ms`,
  );
  return { rate, keys: nodes.flatMap((n) => (n.key ? [n.key] : [])) };
}

/** CPU seconds used by the whole process (every thread) so far. */
function processCpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function verifyRuns(store: Store, label: string): Promise<number> {
  const modes = [[`worker threads (${Math.min(8, availableParallelism())} CPUs)`, undefined] as const, ['one thread', 0] as const];
  const rates = new Map<string, number[]>();
  for (let round = 1; round <= verifyRounds; round++) {
    for (const [mode, workers] of modes) {
      const cpu0 = processCpu();
      const main0 = mainThreadCpu();
      const t1 = performance.now();
      const result = await verifyAudit(store, workers === undefined ? {} : { workers });
      const verifyMs = performance.now() - t1;
      const cpu = processCpu() - cpu0;
      const main1 = mainThreadCpu();
      if (!result.ok) throw new Error(`verify failed: ${result.problem?.message}`);
      const rate = Math.round(result.count / (verifyMs / 1000));
      rates.set(mode, [...(rates.get(mode) ?? []), rate]);
      // CPU per record is what other load on the machine changes least.
      const perRecord = `${((cpu * 1e6) / result.count).toFixed(2)} µs CPU/record` + (main0 !== undefined && main1 !== undefined ? ` (main thread ${(((main1 - main0) * 1e6) / result.count).toFixed(2)})` : '');
      console.log(
        `verify, ${label}, ${mode}${verifyRounds > 1 ? `, round ${round}` : ''}: ${result.count} records (checkpoints checked): ` +
          `${rate.toLocaleString('en')} records/s (${(verifyMs / 1000).toFixed(2)} s), ${perRecord}`,
      );
    }
  }
  let best = 0;
  for (const [mode, list] of rates) {
    const m = median(list);
    if (verifyRounds > 1) console.log(`verify, ${label}, ${mode}: median ${m.toLocaleString('en')} records/s of ${list.length}`);
    best = Math.max(best, m);
  }
  return best;
}

/** Exports the store to a JSONL file, then verifies the file offline, `verifyRounds` times. */
async function verifyExportRuns(store: Store, dir: string, trusted: KeyObject[]): Promise<number> {
  const file = join(dir, 'export.jsonl');
  const out = createWriteStream(file);
  const exported = await writeAuditExport(store, out, { format: 'jsonl' });
  out.end();
  await finished(out);
  console.log(`export: ${exported} records, ${(statSync(file).size / 1e6).toFixed(1)} MB`);
  const rates: number[] = [];
  const perRecord: number[] = [];
  for (let round = 1; round <= verifyRounds; round++) {
    const cpu0 = processCpu();
    const t1 = performance.now();
    const result = await verifyAuditJsonl(createReadStream(file), { checkpoints: { trusted } });
    const verifyMs = performance.now() - t1;
    const cpu = processCpu() - cpu0;
    if (!result.ok) throw new Error(`verify failed: ${result.problem?.message}`);
    if (result.count !== exported || !result.checkpoints || result.checkpoints.count === 0) throw new Error('verify checked too little');
    const rate = Math.round(result.count / (verifyMs / 1000));
    rates.push(rate);
    perRecord.push((cpu * 1e6) / result.count);
    console.log(
      `verify export, round ${round}: ${result.count} records (${result.checkpoints.count} checkpoints checked): ` +
        `${rate.toLocaleString('en')} records/s (${(verifyMs / 1000).toFixed(2)} s), ${((cpu * 1e6) / result.count).toFixed(2)} µs CPU/record`,
    );
  }
  const m = median(rates);
  console.log(`verify export: median ${m.toLocaleString('en')} records/s, ${median(perRecord).toFixed(2)} µs CPU/record, of ${rates.length}`);
  return m;
}

const DEFAULT_PG = 'postgres://root@127.0.0.1:5432/test';

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-audit-'));
  // PostgreSQL: the third argument, else SLUICE_BENCH_PG, else the local test server; a
  // throwaway schema there. SLUICE_BENCH_PG=off skips it.
  const pgUrl = args[2] ?? process.env.SLUICE_BENCH_PG ?? DEFAULT_PG;
  const schema = `sluice_bench_${randomBytes(4).toString('hex')}`;
  const summary: string[] = [];
  try {
    // --verify-only with SLUICE_BENCH_EMBEDDED=off: PostgreSQL only (its figures do not
    // depend on the embedded runs, which take minutes with few appenders).
    if (!verifyExport && verifyOnly && process.env.SLUICE_BENCH_EMBEDDED === 'off') {
      summary.push('embedded store: skipped (SLUICE_BENCH_EMBEDDED=off)');
    } else {
      console.log('store: embedded SQLite, synchronous=FULL');
      // Inline (everything on the main thread, as before the writer thread) against the
      // writer thread, alternating, each on a file of its own so both start equally empty.
      const rounds = verifyOnly ? 0 : Number(process.env.SLUICE_BENCH_ROUNDS ?? 1);
      for (let round = 1; round <= rounds; round++) {
        for (const mode of ['inline', 'thread'] as const) {
          const other = new SqliteStore({ path: join(dir, `${mode}-${round}.db`), auditWriter: mode });
          try {
            await other.migrate();
            await appendRun([other], `${mode === 'thread' ? 'writer thread' : 'inline'}, round ${round}`);
          } finally {
            await other.close();
          }
        }
      }
      const sqlite = new SqliteStore({ path: join(dir, 'sluice.db') });
      try {
        await sqlite.migrate();
        const { rate, keys } = await appendRun([sqlite], 'embedded, writer thread', true);
        summary.push(`append, embedded store, checkpoints on: ${rate.toLocaleString('en')} records/s (goal 20,000)`);
        if (verifyExport) {
          // Only the one run of appends: the export is of the records it wrote, signed with its key.
          const exportRate = await verifyExportRuns(sqlite, dir, keys);
          summary.push(`verify export (JSONL file, offline, checkpoints checked): ${exportRate.toLocaleString('en')} records/s (goal 200,000)`);
          console.log(`\nsummary (${availableParallelism()} CPUs, load average ${loadavg()[0]!.toFixed(1)}):\n  ${summary.join('\n  ')}`);
          return;
        }
        // --verify-only: the same number of records, without the journal.
        const journaled = await appendRun([sqlite], 'embedded, writer thread', true, !verifyOnly);
        if (!verifyOnly) {
          summary.push(`append, embedded store, checkpoints on, through the journal (the gate's path): ${journaled.rate.toLocaleString('en')} records/s (goal 20,000)`);
        }
        const verify = await verifyRuns(sqlite, 'embedded');
        summary.push(`verify, embedded store: ${verify.toLocaleString('en')} records/s (goal 200,000)`);
      } finally {
        await sqlite.close();
      }
    }

    if (pgUrl === 'off') {
      summary.push('PostgreSQL: skipped (SLUICE_BENCH_PG=off)');
    } else {
      const open = () => new PostgresStore({ connectionString: pgUrl, schema });
      const first = open();
      try {
        await first.migrate();
      } catch (error) {
        await first.close();
        summary.push(`PostgreSQL: skipped (${redactUrl(pgUrl)}: ${(error as Error).message})`);
      }
      if (!summary.at(-1)?.startsWith('PostgreSQL: skipped')) {
        console.log(`store: PostgreSQL ${redactUrl(pgUrl)} (schema ${schema})`);
        const second = open();
        try {
          const one = await appendRun([first], 'PostgreSQL, one node', true);
          summary.push(`append, PostgreSQL, checkpoints on: ${one.rate.toLocaleString('en')} records/s (goal 10,000)`);
          const two = await appendRun([first, second], 'PostgreSQL, two nodes', true);
          summary.push(`append, PostgreSQL, two nodes, checkpoints on: ${two.rate.toLocaleString('en')} records/s`);
          const verify = await verifyRuns(first, 'PostgreSQL');
          summary.push(`verify, PostgreSQL store: ${verify.toLocaleString('en')} records/s (goal 200,000)`);
        } finally {
          await second.close();
          const pool = new pg.Pool({ connectionString: pgUrl, max: 1 });
          await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).finally(() => pool.end());
          await first.close();
        }
      }
    }
    console.log(`\nsummary (${availableParallelism()} CPUs, load average ${loadavg()[0]!.toFixed(1)}):\n  ${summary.join('\n  ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
