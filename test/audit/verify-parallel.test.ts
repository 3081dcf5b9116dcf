// verifyAudit's parallel walk (embedded store and PostgreSQL): the chain cut into chunks that this thread
// and worker threads check, the checkpoint checks fed in seq order. Whatever the tampering and
// wherever it falls relative to the chunks, the result must be exactly the sequential walk's,
// with the workers doing every chunk, or sharing them with this thread.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '../../src/audit/canonical.js';
import { recordHash } from '../../src/audit/chain.js';
import { CheckpointWriter } from '../../src/audit/checkpoints-writer.js';
import { AuditLedger } from '../../src/audit/ledger.js';
import { CheckpointSigner } from '../../src/audit/signing.js';
import { storeChunkReader, verifyAudit, walkStats, type AuditProblemKind, type VerifyOptions, type VerifyResult } from '../../src/audit/verify.js';
import { openStore } from '../../src/store/open.js';
import { PostgresStore } from '../../src/store/postgres.js';
import type { AuditRow, Store } from '../../src/store/store.js';
import { tempDir } from '../helpers.js';
import { createTestDatabase, type TestDatabase } from '../store/pg-helper.js';
import { openRawSqlite, type RawSqlite } from '../store/raw-sqlite.js';

const N = 400;
/** With 3 threads the chain (~410 records) is cut into chunks of 35: chunk 1 starts at 36. */
const CHUNK = 35;

const dir = tempDir('sluice-verify-parallel-');
const signer = CheckpointSigner.generate();
const master = join(dir.path, 'master.db');
let copies = 0;

before(async () => {
  const store = await openStore(master);
  const ledger = new AuditLedger(store);
  const writer = new CheckpointWriter(store, ledger, signer, { every: 20, intervalMs: 0 });
  await writer.start();
  for (let b = 0; b < 8; b++) {
    await Promise.all(
      Array.from({ length: N / 8 }, (_, i) => {
        const n = b * (N / 8) + i + 1;
        return ledger.append({ kind: 'decision', actionId: `act_${n}`, session: `ses_${n % 7}`, principal: 'agent-7', connection: 'orders', effect: 'allow', command: `SELECT ${n}` });
      }),
    );
  }
  await writer.close();
  await ledger.close();
  await store.close();
  // Everything into the main file, so that copying it copies the chain.
  const db = openRawSqlite(master);
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  db.close();
});
after(() => dir.remove());

/** A fresh copy of the chain, its store and raw access to its file. */
async function copy(): Promise<{ store: Store; db: RawSqlite; rows: AuditRow[]; close(): Promise<void> }> {
  const file = join(dir.path, `copy-${++copies}.db`);
  copyFileSync(master, file);
  const db = openRawSqlite(file);
  db.exec('DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;');
  const store = await openStore(file);
  const rows = await store.readAudit({ limit: 100_000 });
  return {
    store,
    db,
    rows,
    close: async () => {
      db.close();
      await store.close();
    },
  };
}

/** Replaces records from `rows[0].seq` on, recomputing every hash and link from there. */
function rewriteFrom(db: RawSqlite, prevHash: string, rows: AuditRow[]): void {
  let prev = prevHash;
  for (const r of rows) {
    const hash = recordHash(prev, r.body);
    db.prepare('UPDATE audit SET prev_hash = ?, hash = ?, body = ? WHERE seq = ?').run(prev, hash, r.body, r.seq);
    prev = hash;
  }
}

/** Sequential, workers only, and workers with this thread: all three must agree. */
async function verifyAll(store: Store, extra: VerifyOptions = {}): Promise<VerifyResult> {
  const options: VerifyOptions = { checkpoints: { trusted: [signer.publicKey] }, ...extra };
  const sequential = await verifyAudit(store, { ...options, workers: 0, pageSize: 7 });
  const before = walkStats.workerChunks;
  assert.deepStrictEqual(await verifyAudit(store, { ...options, workers: 3, pageSize: 5, leaveChunksToWorkers: true }), sequential, 'workers only');
  assert.ok(walkStats.workerChunks > before, 'the worker threads checked chunks');
  assert.deepStrictEqual(await verifyAudit(store, { ...options, workers: 2, pageSize: 11 }), sequential, 'workers and this thread');
  return sequential;
}

function expectProblem(result: VerifyResult, seq: number, kind: AuditProblemKind): void {
  assert.equal(result.ok, false, 'verify must fail');
  assert.equal(result.problem?.kind, kind, result.problem?.message);
  assert.equal(result.problem?.seq, seq, result.problem?.message);
}

void describe('parallel verify of the embedded store', () => {
  const run = async (fn: (t: Awaited<ReturnType<typeof copy>>) => Promise<void>) => {
    const t = await copy();
    try {
      await fn(t);
    } finally {
      await t.close();
    }
  };

  void it('a sound chain: the same count, head and checkpoint summary', () =>
    run(async (t) => {
      const result = await verifyAll(t.store);
      assert.equal(result.ok, true, result.problem?.message);
      assert.equal(result.count, t.rows.length);
      assert.ok(result.checkpoints!.count >= 5, `checkpoints: ${result.checkpoints!.count}`);
      // The tests below place their changes by this chunk size (4 chunks per thread).
      assert.equal(Math.ceil(t.rows.length / 12), CHUNK);
    }));

  void it('an edited body at the first record of a chunk', () =>
    run(async (t) => {
      const seq = CHUNK + 1;
      t.db.prepare('UPDATE audit SET body = ? WHERE seq = ?').run(t.rows[seq - 1]!.body.replace('"agent-7"', '"agent-8"'), seq);
      expectProblem(await verifyAll(t.store), seq, 'edited');
    }));

  void it('a deleted record at the end of a chunk', () =>
    run(async (t) => {
      t.db.prepare('DELETE FROM audit WHERE seq = ?').run(2 * CHUNK);
      expectProblem(await verifyAll(t.store), 2 * CHUNK, 'deleted');
    }));

  void it('a copy of a record of the previous chunk put in place of another', () =>
    run(async (t) => {
      const from = t.rows[2 * CHUNK - 5]!;
      const seq = 2 * CHUNK + 3;
      t.db.prepare('UPDATE audit SET time = ?, kind = ?, action_id = ?, session = ?, prev_hash = ?, hash = ?, body = ? WHERE seq = ?').run(
        from.time,
        from.kind,
        from.actionId ?? null,
        from.session ?? null,
        from.prevHash,
        from.hash,
        from.body,
        seq,
      );
      const result = await verifyAll(t.store);
      expectProblem(result, seq, 'inserted');
      assert.match(result.problem!.message, new RegExp(`is a copy of record ${from.seq}`));
    }));

  void it('an edited record, rehashed to the head, contradicts the next checkpoint in a later chunk', () =>
    run(async (t) => {
      const at = 3 * CHUNK - 1;
      const rows = t.rows.slice(at - 1).map((r) => ({ ...r }));
      rows[0]!.body = rows[0]!.body.replace(/"SELECT \d+"/, '"DROP TABLE orders"');
      rewriteFrom(t.db, t.rows[at - 2]!.hash, rows);
      const checkpoint = t.rows.find((r) => r.kind === 'checkpoint' && (JSON.parse(r.body) as { detail: { treeSize: number } }).detail.treeSize >= at)!;
      expectProblem(await verifyAll(t.store), checkpoint.seq, 'checkpoint-root');
    }));

  void it('a replaced checkpoint, rehashed to the head, fails its signature', () =>
    run(async (t) => {
      const cp = t.rows.filter((r) => r.kind === 'checkpoint')[7]!;
      const rows = t.rows.slice(cp.seq - 1).map((r) => ({ ...r }));
      const body = JSON.parse(rows[0]!.body) as { detail: { rootHash: string } };
      body.detail.rootHash = 'ab'.repeat(32);
      rows[0]!.body = canonicalJson(body);
      rewriteFrom(t.db, t.rows[cp.seq - 2]!.hash, rows);
      expectProblem(await verifyAll(t.store), cp.seq, 'checkpoint-signature');
    }));

  void it('a head known from elsewhere that the chain does not match, inside the walk', () =>
    run(async (t) => {
      expectProblem(await verifyAll(t.store, { expectHead: { seq: 5 * CHUNK + 2, hash: 'ab'.repeat(32) } }), 5 * CHUNK + 2, 'checkpoint-mismatch');
      const good = t.rows[5 * CHUNK + 1]!;
      assert.equal((await verifyAll(t.store, { expectHead: { seq: good.seq, hash: good.hash } })).ok, true);
    }));

  void it('without checkpoint checks: a known head, and a body that is not JSON', () =>
    run(async (t) => {
      assert.equal((await verifyAll(t.store, { checkpoints: false })).ok, true);
      const good = t.rows[3 * CHUNK + 4]!;
      assert.equal((await verifyAll(t.store, { checkpoints: false, expectHead: { seq: good.seq, hash: good.hash } })).ok, true);
      expectProblem(await verifyAll(t.store, { checkpoints: false, expectHead: { seq: good.seq, hash: 'cd'.repeat(32) } }), good.seq, 'checkpoint-mismatch');
      const seq = 4 * CHUNK;
      rewriteFrom(t.db, t.rows[seq - 2]!.hash, [{ ...t.rows[seq - 1]!, body: '{"v":1,' }]);
      expectProblem(await verifyAll(t.store, { checkpoints: false }), seq, 'malformed');
    }));
});

void describe('parallel verify of a PostgreSQL store (each worker on its own connection)', () => {
  let db: TestDatabase;
  let store: PostgresStore;
  let rows: AuditRow[];
  before(async () => {
    db = await createTestDatabase();
    store = new PostgresStore({ connectionString: db.url });
    await store.migrate();
    const ledger = new AuditLedger(store);
    const writer = new CheckpointWriter(store, ledger, signer, { every: 20, intervalMs: 0 });
    await writer.start();
    for (let b = 0; b < 4; b++) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) => ledger.append({ kind: 'decision', actionId: `pg_${b}_${i}`, principal: 'agent-7', connection: 'orders', effect: 'allow', command: `SELECT ${b * 50 + i}` })),
      );
    }
    await writer.close();
    await ledger.close();
    rows = await store.readAudit({ limit: 100_000 });
  });
  after(async () => {
    await store?.close();
    await db?.drop();
  });

  void it('agrees with the sequential walk on a sound chain and on an edited record', async () => {
    const sound = await verifyAll(store);
    assert.equal(sound.ok, true, sound.problem?.message);
    assert.equal(sound.count, rows.length);
    const seq = Math.floor(rows.length / 2);
    await db.sql('ALTER TABLE sluice.audit DISABLE TRIGGER USER');
    await db.sql('UPDATE sluice.audit SET body = $1 WHERE seq = $2', [rows[seq - 1]!.body.replace('"agent-7"', '"agent-8"'), seq]);
    expectProblem(await verifyAll(store), seq, 'edited');
  });

  // Chunks are read with the lower bound only (see storeChunkReader): rows past a chunk's range,
  // which a gap brings into a page, must not be taken for the chunk's.
  void it('reads a chunk with a gap as exactly the rows in its range, and agrees on the gap', async () => {
    await db.sql('ALTER TABLE sluice.audit DISABLE TRIGGER USER');
    await db.sql('DELETE FROM sluice.audit WHERE seq IN (20, 21, 60)');
    const read = storeChunkReader(store);
    const seqs = async (after: number, before: number, limit: number) => (await read.rows(after, before, limit)).map((r) => r.seq);
    assert.deepStrictEqual(await seqs(17, 23, 100), [18, 19, 22]);
    assert.deepStrictEqual(await seqs(55, 61, 100), [56, 57, 58, 59]);
    assert.deepStrictEqual(await seqs(17, 23, 2), [18, 19]);
    assert.deepStrictEqual(await seqs(59, 61, 100), []);
    assert.deepStrictEqual(await seqs(59, 60, 100), []);
    expectProblem(await verifyAll(store), 20, 'deleted');
  });
});
