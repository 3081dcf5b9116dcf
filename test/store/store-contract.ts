// The Store contract as one suite, run against every implementation (sqlite.test.ts,
// postgres.test.ts) on real databases.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sealDrafts } from '../../src/audit/chain.js';
import { prepareRecord, type AuditDraft } from '../../src/audit/record.js';
import { StoreError } from '../../src/store/errors.js';
import { latestVersion } from '../../src/store/migrations.js';
import {
  GENESIS_HEAD,
  type PreparedAuditRecord,
  type ApiKeyRecord,
  type AuditRow,
  type ReviewRecord,
  type Store,
} from '../../src/store/store.js';

export interface ContractDb {
  store: Store;
  /** Another store instance on the same database (another connection, another "node"). */
  second(): Promise<Store>;
  /** Opens a store on the same database WITHOUT migrating (to test migrate itself). */
  unmigrated(): Promise<Store & { schemaVersion(): Promise<number> }>;
  /** Runs SQL directly on the database. `t(name)` gives a table's qualified name. */
  sql(text: string): Promise<void>;
  t(name: string): string;
  cleanup(): Promise<void>;
}

export function storeContract(name: string, fresh: () => Promise<ContractDb>): void {
  void describe(`Store contract: ${name}`, () => {
    let db: ContractDb;
    let store: Store;
    before(async () => {
      db = await fresh();
      store = db.store;
    });
    after(async () => {
      await db?.cleanup();
    });

    void describe('api keys', () => {
      const key: ApiKeyRecord = {
        id: 'key_alpha',
        principal: 'alice',
        kind: 'human',
        groups: ['admins', 'dba'],
        hash: 'a'.repeat(64),
        createdAt: '2026-01-01T00:00:00.000Z',
      };

      void it('inserts, gets and lists keys; optional fields stay absent', async () => {
        await store.insertKey(key);
        await store.insertKey({
          id: 'key_beta',
          principal: 'bot',
          kind: 'agent',
          groups: [],
          onBehalfOf: 'alice',
          hash: 'b'.repeat(64),
          createdAt: '2026-01-02T00:00:00.000Z',
          expiresAt: '2027-01-01T00:00:00.000Z',
        });
        const got = await store.getKey('key_alpha');
        assert.deepStrictEqual(got, key);
        assert.equal(Object.hasOwn(got!, '_metadata'), false);
        assert.equal(await store.getKey('key_missing'), undefined);
        const list = await store.listKeys();
        assert.deepStrictEqual(
          list.map((k) => k.id),
          ['key_alpha', 'key_beta'],
        );
        assert.equal(list[1]!.onBehalfOf, 'alice');
        assert.equal(list[1]!.expiresAt, '2027-01-01T00:00:00.000Z');
        assert.equal('revokedAt' in list[1]!, false);
      });

      void it('refuses a duplicate id or hash with a conflict error', async () => {
        await assert.rejects(store.insertKey(key), (e: unknown) => e instanceof StoreError && e.code === 'conflict');
        await assert.rejects(
          store.insertKey({ ...key, id: 'key_other' }),
          (e: unknown) => e instanceof StoreError && e.code === 'conflict',
        );
      });

      void it('refuses malformed key records without touching the database', async () => {
        const bad = [
          { ...key, id: '' },
          { ...key, id: 'k1', kind: 'robot' },
          { ...key, id: 'k2', groups: 'admins' },
          { ...key, id: 'k3', groups: [1] },
          { ...key, id: 'k4', hash: undefined },
        ];
        for (const b of bad) {
          await assert.rejects(
            store.insertKey(b as unknown as ApiKeyRecord),
            (e: unknown) => e instanceof StoreError && e.code === 'invalid',
          );
        }
        assert.equal((await store.listKeys()).length, 2);
      });

      void it('revokes once', async () => {
        assert.equal(await store.revokeKey('key_alpha', '2026-02-01T00:00:00.000Z'), true);
        assert.equal(await store.revokeKey('key_alpha', '2026-02-02T00:00:00.000Z'), false);
        assert.equal(await store.revokeKey('key_missing', '2026-02-02T00:00:00.000Z'), false);
        assert.equal((await store.getKey('key_alpha'))!.revokedAt, '2026-02-01T00:00:00.000Z');
      });
    });

    void describe('reviews', () => {
      const review = (id: string, extra: Partial<ReviewRecord> = {}): ReviewRecord => ({
        id,
        actionId: `act_${id}`,
        status: 'pending',
        createdAt: `2026-01-01T00:00:0${id.length % 10}.000Z`,
        expiresAt: '2026-01-01T01:00:00.000Z',
        commandHash: 'c'.repeat(64),
        action: { principal: { name: 'bot', kind: 'agent' }, command: 'DELETE FROM orders', nested: { a: [1, 'x', null] } },
        rule: 'deletes-need-review',
        reason: 'deletes need a human',
        ...extra,
      });

      void it('inserts, gets and lists reviews, filtered by status', async () => {
        await store.insertReview(review('r1'));
        await store.insertReview(review('r22', { status: 'approved', decidedAt: '2026-01-01T00:10:00.000Z', decidedBy: 'alice', note: 'ok' }));
        assert.deepStrictEqual(await store.getReview('r1'), review('r1'));
        assert.equal(await store.getReview('nope'), undefined);
        assert.deepStrictEqual(
          (await store.listReviews()).map((r) => r.id),
          ['r1', 'r22'],
        );
        assert.deepStrictEqual(
          (await store.listReviews({ status: 'pending' })).map((r) => r.id),
          ['r1'],
        );
        assert.deepStrictEqual(
          (await store.listReviews({ status: 'approved' }))[0],
          review('r22', { status: 'approved', decidedAt: '2026-01-01T00:10:00.000Z', decidedBy: 'alice', note: 'ok' }),
        );
        await assert.rejects(store.insertReview(review('r1')), (e: unknown) => e instanceof StoreError && e.code === 'conflict');
        await assert.rejects(
          store.insertReview(review('r9', { status: 'maybe' as never })),
          (e: unknown) => e instanceof StoreError && e.code === 'invalid',
        );
      });

      void it('settles a pending review once; later moves keep the approver', async () => {
        assert.equal(
          await store.settleReview('r1', { status: 'approved', decidedAt: '2026-01-01T00:05:00.000Z', decidedBy: 'bob', note: 'fine' }),
          true,
        );
        assert.equal(await store.settleReview('r1', { status: 'rejected', decidedAt: '2026-01-01T00:06:00.000Z' }), false);
        assert.equal(await store.settleReview('missing', { status: 'rejected', decidedAt: '2026-01-01T00:06:00.000Z' }), false);
        assert.equal(
          await store.settleReview('r1', { status: 'executed', decidedAt: '2026-01-01T00:07:00.000Z' }, 'approved'),
          true,
        );
        const r = await store.getReview('r1');
        assert.equal(r!.status, 'executed');
        assert.equal(r!.decidedBy, 'bob');
        assert.equal(r!.note, 'fine');
        assert.equal(r!.decidedAt, '2026-01-01T00:07:00.000Z');
      });

      void it('of two concurrent settles from two connections, exactly one wins', async () => {
        const other = await db.second();
        try {
          for (let i = 0; i < 10; i++) {
            const id = `race${i}`;
            await store.insertReview(review(id));
            const results = await Promise.all([
              store.settleReview(id, { status: 'approved', decidedAt: '2026-01-01T00:05:00.000Z', decidedBy: 'alice' }),
              other.settleReview(id, { status: 'rejected', decidedAt: '2026-01-01T00:05:00.000Z', decidedBy: 'bob' }),
            ]);
            assert.equal(results.filter(Boolean).length, 1, `race ${i}: ${JSON.stringify(results)}`);
            const final = await store.getReview(id);
            assert.equal(final!.status, results[0] ? 'approved' : 'rejected');
            assert.equal(final!.decidedBy, results[0] ? 'alice' : 'bob');
          }
        } finally {
          await other.close();
        }
      });
    });

    void describe('audit', () => {
      const drafts: AuditDraft[] = [
        { kind: 'decision', actionId: 'a1', session: 's1', principal: 'alice', connection: 'db1', effect: 'allow', command: 'SELECT 1' },
        { kind: 'outcome', actionId: 'a1', session: 's1', principal: 'alice', connection: 'db1', effect: 'allow', outcome: 'succeeded', rows: 1 },
        { kind: 'decision', actionId: 'a2', session: 's2', principal: 'bot', connection: 'db2', effect: 'deny' },
        { kind: 'decision', actionId: 'a3', session: 's1', principal: 'bot', connection: 'db1', effect: 'review' },
        { kind: 'review', actionId: 'a3', session: 's1', principal: 'bot', connection: 'db1', approver: 'alice' },
        { kind: 'key', principal: 'carol', detail: { keyId: 'key_x' } },
        { kind: 'system', detail: { event: 'start' } },
      ];
      let written: AuditRow[] = [];
      const prep = (ds: readonly AuditDraft[], time = new Date().toISOString()): PreparedAuditRecord[] =>
        ds.map((d) => prepareRecord(d, time));

      void it('starts at the genesis head', async () => {
        assert.deepStrictEqual(await store.auditHead(), GENESIS_HEAD);
        assert.deepStrictEqual(await store.readAudit({ limit: 10 }), []);
      });

      void it('seals records onto the head in one call and reads back exactly what it returned', async () => {
        const rows = await store.appendAudit(prep(drafts.slice(0, 3), '2026-03-01T00:00:00.000Z'));
        // The store chains from the head it reads inside its transaction: genesis here.
        assert.deepStrictEqual(rows, sealDrafts(GENESIS_HEAD, drafts.slice(0, 3), '2026-03-01T00:00:00.000Z'));
        const more = await store.appendAudit(prep(drafts.slice(3), '2026-03-01T00:00:01.000Z'));
        assert.equal(more[0]!.prevHash, rows[2]!.hash);
        assert.deepStrictEqual(more, sealDrafts({ seq: 3, hash: rows[2]!.hash }, drafts.slice(3), '2026-03-01T00:00:01.000Z'));
        written = [...rows, ...more];
        assert.deepStrictEqual(
          written.map((r) => r.seq),
          [1, 2, 3, 4, 5, 6, 7],
        );
        assert.deepStrictEqual(await store.auditHead(), { seq: 7, hash: written[6]!.hash });
        const back = await store.readAudit({ limit: 100 });
        assert.deepStrictEqual(back, written);
        for (const r of back) assert.equal(Object.hasOwn(r, '_metadata'), false);
      });

      void it('filters and pages reads', async () => {
        const seqs = async (q: Parameters<Store['readAudit']>[0]) => (await store.readAudit(q)).map((r) => r.seq);
        assert.deepStrictEqual(await seqs({ limit: 3 }), [1, 2, 3]);
        assert.deepStrictEqual(await seqs({ limit: 3, afterSeq: 3 }), [4, 5, 6]);
        assert.deepStrictEqual(await seqs({ limit: 3, descending: true }), [7, 6, 5]);
        assert.deepStrictEqual(await seqs({ limit: 3, descending: true, beforeSeq: 5 }), [4, 3, 2]);
        assert.deepStrictEqual(await seqs({ limit: 10, afterSeq: 2, beforeSeq: 6 }), [3, 4, 5]);
        assert.deepStrictEqual(await seqs({ limit: 10, session: 's1' }), [1, 2, 4, 5]);
        assert.deepStrictEqual(await seqs({ limit: 2, session: 's1', descending: true }), [5, 4]);
        assert.deepStrictEqual(await seqs({ limit: 10, principal: 'bot' }), [3, 4, 5]);
        assert.deepStrictEqual(await seqs({ limit: 10, connection: 'db2' }), [3]);
        assert.deepStrictEqual(await seqs({ limit: 10, effect: 'allow' }), [1, 2]);
        assert.deepStrictEqual(await seqs({ limit: 10, actionId: 'a3' }), [4, 5]);
        assert.deepStrictEqual(await seqs({ limit: 10, session: 's1', principal: 'bot', effect: 'review' }), [4]);
        assert.deepStrictEqual(await seqs({ limit: 10, principal: 'nobody' }), []);
        assert.deepStrictEqual(await seqs({ limit: 10, afterSeq: 7 }), []);
      });

      void it('refuses bad queries with a clear error', async () => {
        for (const q of [{ limit: 0 }, { limit: -1 }, { limit: 1.5 }, { limit: 10_000_000 }, { limit: 5, afterSeq: -1 }, { limit: 5, session: 7 }]) {
          await assert.rejects(
            store.readAudit(q as never),
            (e: unknown) => e instanceof StoreError && e.code === 'invalid',
            JSON.stringify(q),
          );
        }
      });

      void it('refuses malformed records and stores nothing of their batch', async () => {
        const head = await store.auditHead();
        const [good] = prep(drafts.slice(0, 1));
        const bad: unknown[] = [
          'nope',
          null,
          [null],
          [{ ...good!, prefix: '{"kind":"system"' }], // no gap for the seq: the body would not carry it
          [{ ...good!, suffix: 7 }],
          [{ ...good!, columns: { ...good!.columns, session: 7 } }],
          [{ ...good!, columns: { kind: 'system' } }], // no time
          [good, { ...good!, prefix: undefined }], // a good first record is refused with its batch
        ];
        for (const records of bad) {
          await assert.rejects(
            store.appendAudit(records as PreparedAuditRecord[]),
            (e: unknown) => e instanceof StoreError && e.code === 'invalid',
            JSON.stringify(records),
          );
        }
        assert.deepStrictEqual(await store.auditHead(), head);
        assert.equal((await store.readAudit({ limit: 100 })).length, 7);
        assert.deepStrictEqual(await store.appendAudit([]), []);
        assert.deepStrictEqual(await store.auditHead(), head);
      });

      void it('serialises appends from two instances into one chain', async () => {
        const other = await db.second();
        try {
          const tasks: Promise<AuditRow[]>[] = [];
          for (let i = 0; i < 20; i++) {
            const s = i % 2 === 0 ? store : other;
            tasks.push(s.appendAudit(prep([{ kind: 'system', detail: { i } }, { kind: 'system', detail: { i, n: 2 } }])));
          }
          await Promise.all(tasks);
          const rows = await store.readAudit({ limit: 1000 });
          assert.equal(rows.length, 47);
          for (let i = 1; i < rows.length; i++) {
            assert.equal(rows[i]!.seq, i + 1);
            assert.equal(rows[i]!.prevHash, rows[i - 1]!.hash);
          }
        } finally {
          await other.close();
        }
      });
    });

    void describe('migrations', () => {
      void it('are idempotent and record the version', async () => {
        await store.migrate();
        await store.migrate();
        const again = await db.unmigrated();
        try {
          assert.equal(await again.schemaVersion(), latestVersion(store.kind));
          await again.migrate();
          assert.equal(await again.schemaVersion(), latestVersion(store.kind));
        } finally {
          await again.close();
        }
      });

      void it('refuse a schema newer than the code knows', async () => {
        const newer = latestVersion(store.kind) + 1;
        await db.sql(
          `INSERT INTO ${db.t('schema_migrations')} (version, name, checksum, applied_at) VALUES (${newer}, 'from_the_future', 'x', '2030-01-01T00:00:00Z')`,
        );
        const s = await db.unmigrated();
        try {
          await assert.rejects(s.migrate(), (e: unknown) => {
            assert.ok(e instanceof StoreError);
            assert.equal(e.code, 'schema_too_new');
            assert.match(e.message, new RegExp(`version ${newer}.*up to ${newer - 1}`));
            return true;
          });
        } finally {
          await s.close();
          await db.sql(`DELETE FROM ${db.t('schema_migrations')} WHERE version = ${newer}`);
        }
      });
    });

    void describe('close', () => {
      void it('makes every later call fail with a closed error', async () => {
        const s = await db.second();
        await s.close();
        await s.close(); // twice is fine
        await assert.rejects(s.getKey('x'), (e: unknown) => e instanceof StoreError && e.code === 'closed');
        await assert.rejects(s.auditHead(), (e: unknown) => e instanceof StoreError && e.code === 'closed');
        await assert.rejects(
          s.appendAudit([]),
          (e: unknown) => e instanceof StoreError && e.code === 'closed',
        );
      });
    });
  });
}
