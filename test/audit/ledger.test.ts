import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { AuditLedger, AuditLedgerError, AuditDraftError } from '../../src/audit/ledger.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { openStore } from '../../src/store/open.js';
import type { AuditRow, PreparedAuditRecord, Store } from '../../src/store/store.js';
import { StoreError } from '../../src/store/errors.js';
import { tempStore } from '../helpers.js';
import { createTestDatabase, type TestDatabase } from '../store/pg-helper.js';
import { openRawSqlite } from '../store/raw-sqlite.js';

/**
 * A real store with a window into appendAudit: counts calls and batch sizes, tracks how many
 * run at once, and can hold each call for a while so writes overlap with new appends.
 */
class WatchedStore {
  calls = 0;
  batches: number[] = [];
  inFlight = 0;
  maxInFlight = 0;
  constructor(
    readonly inner: Store,
    private readonly holdMs = 0,
  ) {}
  asStore(): Store {
    return new Proxy(this.inner, {
      get: (target, prop, receiver) => {
        if (prop === 'appendAudit') return (records: readonly PreparedAuditRecord[]) => this.appendAudit(records);
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  }
  private async appendAudit(records: readonly PreparedAuditRecord[]): Promise<AuditRow[]> {
    this.calls += 1;
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.holdMs) await sleep(this.holdMs);
      const rows = await this.inner.appendAudit(records);
      this.batches.push(rows.length);
      return rows;
    } finally {
      this.inFlight -= 1;
    }
  }
}

void describe('AuditLedger (embedded store)', () => {
  let t: Awaited<ReturnType<typeof tempStore>>;
  before(async () => {
    t = await tempStore();
  });
  after(async () => {
    await t.cleanup();
  });

  void it('batches 1,000 concurrent appends into one transaction, in call order', async () => {
    const watched = new WatchedStore(t.store);
    const ledger = new AuditLedger(watched.asStore());
    const start = (await t.store.auditHead()).seq;
    const promises = Array.from({ length: 1000 }, (_, i) =>
      ledger.append({ kind: 'decision', session: `s${i % 10}`, effect: 'allow', detail: { i } }),
    );
    const rows = await Promise.all(promises);
    assert.equal(watched.calls, 1);
    assert.deepStrictEqual(watched.batches, [1000]);
    rows.forEach((row, i) => {
      assert.equal(row.seq, start + i + 1, 'records keep the order of append calls');
      assert.equal((JSON.parse(row.body) as { detail: { i: number } }).detail.i, i, 'each caller gets its own row');
      assert.equal(row.session, `s${i % 10}`);
    });
    const stored = await t.store.readAudit({ afterSeq: start, limit: 2000 });
    assert.deepStrictEqual(stored, rows);
    assert.equal((await verifyAudit(t.store)).ok, true);
  });

  void it('never has more than one write in flight; appends made meanwhile form the next batch', async () => {
    const watched = new WatchedStore(t.store, 20);
    const ledger = new AuditLedger(watched.asStore(), { maxBatch: 100 });
    const all: Promise<AuditRow>[] = [];
    for (let wave = 0; wave < 5; wave++) {
      for (let i = 0; i < 250; i++) all.push(ledger.append({ kind: 'system', detail: { wave, i } }));
      await sleep(7);
    }
    const rows = await Promise.all(all);
    assert.equal(watched.maxInFlight, 1);
    assert.ok(watched.batches.every((n) => n <= 100), JSON.stringify(watched.batches));
    assert.equal(watched.batches.reduce((a, b) => a + b, 0), 1250);
    for (let i = 1; i < rows.length; i++) assert.equal(rows[i]!.seq, rows[i - 1]!.seq + 1);
    assert.equal((await verifyAudit(t.store)).ok, true);
  });

  void it('gathers appends from several ticks within flushDelayMs into one write', async () => {
    const watched = new WatchedStore(t.store);
    const ledger = new AuditLedger(watched.asStore(), { flushDelayMs: 30 });
    const a = ledger.append({ kind: 'system', detail: { n: 1 } });
    await sleep(5);
    const b = ledger.append({ kind: 'system', detail: { n: 2 } });
    await Promise.all([a, b]);
    assert.deepStrictEqual(watched.batches, [2]);
  });

  void it('rejects an invalid draft at once and still writes the others of its batch', async () => {
    const watched = new WatchedStore(t.store);
    const ledger = new AuditLedger(watched.asStore());
    const good1 = ledger.append({ kind: 'system', detail: { n: 1 } });
    const bad = ledger.append({ kind: 'system', detail: { n: NaN } });
    const good2 = ledger.append({ kind: 'system', detail: { n: 2 } });
    await assert.rejects(bad, AuditDraftError);
    const [r1, r2] = await Promise.all([good1, good2]);
    assert.equal(r2.seq, r1.seq + 1);
    assert.deepStrictEqual(watched.batches, [2]);
  });

  void it('stamps each record with the time of its append call', async () => {
    let clock = Date.parse('2026-07-01T00:00:00.000Z');
    const ledger = new AuditLedger(t.store, { now: () => new Date((clock += 1000)) });
    const [a, b] = await Promise.all([ledger.append({ kind: 'system' }), ledger.append({ kind: 'system' })]);
    assert.equal(a.time, '2026-07-01T00:00:01.000Z');
    assert.equal(b.time, '2026-07-01T00:00:02.000Z');
    assert.equal((JSON.parse(a.body) as { time: string }).time, a.time);
  });

  void it('rejects every append of a batch whose write fails, stores none of it, and recovers', async () => {
    const ledger = new AuditLedger(t.store);
    const head = await t.store.auditHead();
    // A real failure: the audit table disappears under the store (renamed by hand).
    const raw = openRawSqlite(t.file);
    raw.exec('ALTER TABLE audit RENAME TO audit_away');
    try {
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => ledger.append({ kind: 'system', detail: { i } })));
      for (const r of results) {
        assert.equal(r.status, 'rejected');
        const reason = (r as PromiseRejectedResult).reason as AuditLedgerError;
        assert.ok(reason instanceof AuditLedgerError);
        assert.equal(reason.code, 'write_failed');
        assert.match(reason.message, /audit records could not be stored/);
        assert.ok(reason.cause instanceof StoreError);
      }
    } finally {
      raw.exec('ALTER TABLE audit_away RENAME TO audit');
      raw.close();
    }
    assert.deepStrictEqual(await t.store.auditHead(), head);
    const row = await ledger.append({ kind: 'system', detail: { recovered: true } });
    assert.equal(row.seq, head.seq + 1);
    assert.equal((await verifyAudit(t.store)).ok, true);
  });

  void it('rejects appends when the store is closed', async () => {
    const other = await tempStore();
    const ledger = new AuditLedger(other.store);
    await other.store.close();
    await assert.rejects(ledger.append({ kind: 'system' }), (e: unknown) => e instanceof AuditLedgerError && e.code === 'write_failed');
    await other.cleanup();
  });

  void it('flush() waits for queued records; close() writes them and refuses new ones', async () => {
    const watched = new WatchedStore(t.store, 10);
    const ledger = new AuditLedger(watched.asStore(), { flushDelayMs: 1000 });
    let settled = 0;
    const p = Array.from({ length: 5 }, () => ledger.append({ kind: 'system' }).then(() => settled++));
    await ledger.flush();
    assert.equal(settled, 5);
    const q = ledger.append({ kind: 'system' });
    await ledger.close();
    await q;
    await Promise.all(p);
    await assert.rejects(ledger.append({ kind: 'system' }), (e: unknown) => e instanceof AuditLedgerError && e.code === 'closed');
    await ledger.flush(); // nothing left: returns
  });

  void it('refuses appends beyond maxPending instead of growing without bound', async () => {
    const watched = new WatchedStore(t.store, 30);
    const ledger = new AuditLedger(watched.asStore(), { maxPending: 10 });
    const ok = Array.from({ length: 10 }, () => ledger.append({ kind: 'system' }));
    await assert.rejects(ledger.append({ kind: 'system' }), (e: unknown) => e instanceof AuditLedgerError && e.code === 'backlog');
    await Promise.all(ok);
    await ledger.close();
  });
});

void describe('AuditLedger (PostgreSQL store)', () => {
  let db: TestDatabase;
  let store: Store;
  before(async () => {
    db = await createTestDatabase();
    store = await openStore(db.url);
  });
  after(async () => {
    await store?.close();
    await db?.drop();
  });

  void it('batches and orders 1,000 concurrent appends, one write in flight at a time', async () => {
    const watched = new WatchedStore(store);
    const ledger = new AuditLedger(watched.asStore(), { maxBatch: 300 });
    const rows = await Promise.all(Array.from({ length: 1000 }, (_, i) => ledger.append({ kind: 'system', detail: { i } })));
    assert.equal(watched.maxInFlight, 1);
    assert.ok(watched.calls <= 5, `calls: ${watched.calls}`);
    rows.forEach((row, i) => {
      assert.equal(row.seq, i + 1);
      assert.equal((JSON.parse(row.body) as { detail: { i: number } }).detail.i, i);
    });
    const result = await verifyAudit(store);
    assert.equal(result.ok, true);
    assert.equal(result.count, 1000);
  });

  void it('rejects appends while the audit table is unusable, then recovers', async () => {
    const ledger = new AuditLedger(store);
    await db.sql('ALTER TABLE sluice.audit RENAME TO audit_away');
    try {
      await assert.rejects(ledger.append({ kind: 'system' }), (e: unknown) => e instanceof AuditLedgerError && e.code === 'write_failed');
    } finally {
      await db.sql('ALTER TABLE sluice.audit_away RENAME TO audit');
    }
    const row = await ledger.append({ kind: 'system' });
    assert.equal(row.seq, 1001);
  });
});
