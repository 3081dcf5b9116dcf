// Tampering by hand, with SQL, on both stores: verify must fail and name the first bad record.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { canonicalJson } from '../../src/audit/canonical.js';
import { recordHash } from '../../src/audit/chain.js';
import { AuditLedger } from '../../src/audit/ledger.js';
import { verifyAudit, type AuditProblemKind, type VerifyOptions, type VerifyResult } from '../../src/audit/verify.js';
import { openStore } from '../../src/store/open.js';
import type { ChainHead, Store } from '../../src/store/store.js';
import { tempDir } from '../helpers.js';
import { createTestDatabase, type TestDatabase } from '../store/pg-helper.js';
import { openRawSqlite } from '../store/raw-sqlite.js';

const N = 20;

interface RawRow {
  seq: number;
  prev_hash: string;
  hash: string;
  body: string;
}

/** Direct SQL on the audit table, `?` placeholders, `audit` as the table name. */
interface Raw {
  all(sql: string, params?: unknown[]): Promise<RawRow[]>;
  run(sql: string, params?: unknown[]): Promise<void>;
  close(): Promise<void>;
}

interface Target {
  store: Store;
  raw: Raw;
  head: ChainHead;
  close(): Promise<void>;
}

type Opener = (name: string) => Promise<{ store: Store; raw: Raw; close(): Promise<void> }>;

async function chain(open: Opener, name: string): Promise<Target> {
  const { store, raw, close } = await open(name);
  const ledger = new AuditLedger(store);
  // Several batches, several kinds, so tampering hits a realistic chain.
  for (let b = 0; b < 4; b++) {
    await Promise.all(
      Array.from({ length: N / 4 }, (_, i) => {
        const n = b * (N / 4) + i + 1;
        return ledger.append({
          kind: n % 2 ? 'decision' : 'outcome',
          actionId: `act_${Math.ceil(n / 2)}`,
          session: `ses_${n % 3}`,
          principal: n % 5 ? 'agent-7' : 'alice',
          connection: 'orders',
          effect: 'allow',
          command: `SELECT ${n}`,
          detail: { n },
        });
      }),
    );
  }
  await ledger.close();
  const head = await store.auditHead();
  assert.equal(head.seq, N);
  assert.equal((await verifyAudit(store)).ok, true);
  return { store, raw, head, close };
}

function expectProblem(result: VerifyResult, seq: number, kind: AuditProblemKind): void {
  assert.equal(result.ok, false, 'verify must fail');
  assert.equal(result.problem?.kind, kind, result.problem?.message);
  assert.equal(result.problem?.seq, seq, result.problem?.message);
  assert.ok(result.problem!.message.length > 10);
}

/** Moves rows to a new seq one statement at a time (the primary key is checked per row). */
async function moveSeqs(raw: Raw, moves: [from: number, to: number][]): Promise<void> {
  const park = 1_000_000;
  for (const [from] of moves) await raw.run('UPDATE audit SET seq = ? WHERE seq = ?', [park + from, from]);
  for (const [from, to] of moves) await raw.run('UPDATE audit SET seq = ? WHERE seq = ?', [to, park + from]);
}

function tamperSuite(label: string, open: Opener): void {
  /**
   * Verifies; on the embedded store also with worker threads over ranges, which must find
   * exactly what the sequential walk finds.
   */
  const check = async (store: Store, options: VerifyOptions = {}): Promise<VerifyResult> => {
    const sequential = await verifyAudit(store, { ...options, workers: 0, pageSize: 3 });
    if (store.kind === 'sqlite') {
      for (const workers of [3]) {
        assert.deepStrictEqual(await verifyAudit(store, { ...options, workers, pageSize: 4 }), sequential, `${workers} workers`);
      }
    }
    return sequential;
  };
  void describe(`tampering with the ${label} store`, () => {
    let counter = 0;
    const run = async (fn: (t: Target) => Promise<void>) => {
      const t = await chain(open, `t${++counter}`);
      try {
        await fn(t);
      } finally {
        await t.close();
      }
    };

    void it('an edited body is named as edited', () =>
      run(async ({ store, raw }) => {
        await raw.run("UPDATE audit SET body = replace(body, '\"SELECT 8\"', '\"SELECT 9\"') WHERE seq = 8");
        expectProblem(await check(store), 8, 'edited');
      }));

    void it('an edited and rehashed body breaks the link to the next record', () =>
      run(async ({ store, raw }) => {
        const [row] = await raw.all('SELECT seq, prev_hash, hash, body FROM audit WHERE seq = 8');
        const body = row!.body.replace('"SELECT 8"', '"DROP TABLE orders"');
        await raw.run('UPDATE audit SET body = ?, hash = ? WHERE seq = 8', [body, recordHash(row!.prev_hash, body)]);
        const result = await check(store);
        expectProblem(result, 8, 'broken-link');
        assert.equal(result.count, 8);
      }));

    void it('an edited search column is named as a column mismatch', () =>
      run(async ({ store, raw }) => {
        await raw.run("UPDATE audit SET principal = 'someone-else' WHERE seq = 10");
        const result = await check(store);
        expectProblem(result, 10, 'column-mismatch');
        assert.match(result.problem!.message, /principal/);
      }));

    void it('a column emptied or filled by hand is a mismatch too', () =>
      run(async ({ store, raw }) => {
        await raw.run('UPDATE audit SET session = NULL WHERE seq = 4');
        expectProblem(await check(store), 4, 'column-mismatch');
      }));

    void it('an edited time column is a mismatch', () =>
      run(async ({ store, raw }) => {
        await raw.run("UPDATE audit SET time = '2001-01-01T00:00:00.000Z' WHERE seq = 3");
        expectProblem(await check(store), 3, 'column-mismatch');
      }));

    void it('an edited hash or prev_hash is named as edited', () =>
      run(async ({ store, raw }) => {
        await raw.run("UPDATE audit SET prev_hash = ? WHERE seq = 12", ['1'.repeat(64)]);
        await raw.run("UPDATE audit SET hash = ? WHERE seq = 15", ['2'.repeat(64)]);
        expectProblem(await check(store), 12, 'edited');
      }));

    void it('a deleted middle record is named as deleted', () =>
      run(async ({ store, raw }) => {
        await raw.run('DELETE FROM audit WHERE seq = 8');
        const result = await check(store);
        expectProblem(result, 8, 'deleted');
        assert.equal(result.count, 7);
        assert.equal(result.head.seq, 7);
      }));

    void it('several deleted records are named from the first', () =>
      run(async ({ store, raw }) => {
        await raw.run('DELETE FROM audit WHERE seq IN (1, 2, 3)');
        const result = await check(store);
        expectProblem(result, 1, 'deleted');
        assert.match(result.problem!.message, /records 1 to 3 are missing/);
      }));

    void it('a deleted last record is only caught against a known head (checkpoint)', () =>
      run(async ({ store, raw, head }) => {
        await raw.run(`DELETE FROM audit WHERE seq = ${N}`);
        const alone = await check(store);
        // What is left is a valid, shorter chain: without an external checkpoint this is
        // indistinguishable from a chain that never had record N. The head is returned so a
        // caller can compare it with one kept elsewhere.
        assert.equal(alone.ok, true);
        assert.equal(alone.head.seq, N - 1);
        expectProblem(await check(store, { expectHead: head }), N, 'truncated');
      }));

    void it('a forged record inserted in the middle (renumbering the rest) is named as inserted', () =>
      run(async ({ store, raw }) => {
        const rows = await raw.all('SELECT seq, prev_hash, hash, body FROM audit WHERE seq = 7');
        const prev = rows[0]!;
        const time = (JSON.parse(prev.body) as { time: string }).time;
        // A well-forged record: right seq, right link, right hash, by the public algorithm.
        const body = canonicalJson({ v: 1, seq: 8, time, kind: 'decision', principal: 'alice', effect: 'allow', command: 'GRANT ALL' });
        const hash = recordHash(prev.hash, body);
        await moveSeqs(
          raw,
          Array.from({ length: N - 7 }, (_, i) => [N - i, N - i + 1] as [number, number]),
        );
        await raw.run(
          "INSERT INTO audit (seq, time, kind, principal, effect, prev_hash, hash, body) VALUES (8, ?, 'decision', 'alice', 'allow', ?, ?, ?)",
          [time, prev.hash, hash, body],
        );
        const result = await check(store);
        expectProblem(result, 8, 'inserted');
        assert.match(result.problem!.message, /stored as 9 is record 8/);
      }));

    /** Copies record `original` in at seq `at`, moving `at`..N one up, as a replay attack would. */
    const insertCopy = async (raw: Raw, original: number, at: number) => {
      await moveSeqs(
        raw,
        Array.from({ length: N - at + 1 }, (_, i) => [N - i, N - i + 1] as [number, number]),
      );
      await raw.run(
        'INSERT INTO audit (seq, time, kind, action_id, session, principal, connection, effect, prev_hash, hash, body) ' +
          'SELECT ?, time, kind, action_id, session, principal, connection, effect, prev_hash, hash, body FROM audit WHERE seq = ?',
        [at, original],
      );
    };

    void it('a copy of the previous record put in is named at the copy', () =>
      run(async ({ store, raw }) => {
        await insertCopy(raw, 7, 8);
        const result = await check(store);
        expectProblem(result, 8, 'inserted');
        assert.match(result.problem!.message, /stored as 8 is a copy of record 7/);
      }));

    void it('a copy of an older record put in is named at the copy', () =>
      run(async ({ store, raw }) => {
        await insertCopy(raw, 2, 12);
        const result = await check(store);
        expectProblem(result, 12, 'inserted');
        assert.match(result.problem!.message, /stored as 12 is a copy of record 2/);
      }));

    void it('a forged record added at the end with a wrong hash is named as edited', () =>
      run(async ({ store, raw, head }) => {
        const body = canonicalJson({ v: 1, seq: N + 1, time: '2026-01-01T00:00:00.000Z', kind: 'system' });
        await raw.run("INSERT INTO audit (seq, time, kind, prev_hash, hash, body) VALUES (?, '2026-01-01T00:00:00.000Z', 'system', ?, ?, ?)", [
          N + 1,
          head.hash,
          'f'.repeat(64),
          body,
        ]);
        expectProblem(await check(store), N + 1, 'edited');
      }));

    void it('two records with swapped seqs are named as reordered', () =>
      run(async ({ store, raw }) => {
        await moveSeqs(raw, [
          [5, 12],
          [12, 5],
        ]);
        expectProblem(await check(store), 5, 'reordered');
      }));

    void it('a deleted record with the rest renumbered is named at its seq', () =>
      run(async ({ store, raw }) => {
        await raw.run('DELETE FROM audit WHERE seq = 8');
        await moveSeqs(
          raw,
          Array.from({ length: N - 8 }, (_, i) => [9 + i, 8 + i] as [number, number]),
        );
        expectProblem(await check(store), 8, 'reordered');
      }));

    void it('a rewritten tail (every later record rehashed) is only caught by a checkpoint', () =>
      run(async ({ store, raw, head }) => {
        const rows = await raw.all('SELECT seq, prev_hash, hash, body FROM audit WHERE seq >= 8 ORDER BY seq');
        let prevHash = rows[0]!.prev_hash;
        for (const r of rows) {
          const body = r.seq === 8 ? r.body.replace('"SELECT 8"', '"SELECT 1337"') : r.body;
          const hash = recordHash(prevHash, body);
          await raw.run('UPDATE audit SET body = ?, prev_hash = ?, hash = ? WHERE seq = ?', [body, prevHash, hash, r.seq]);
          prevHash = hash;
        }
        assert.equal((await check(store)).ok, true);
        expectProblem(await check(store, { expectHead: head }), N, 'checkpoint-mismatch');
      }));

    void it('a body that is not JSON is named as malformed', () =>
      run(async ({ store, raw }) => {
        const [row] = await raw.all('SELECT seq, prev_hash, hash, body FROM audit WHERE seq = 6');
        const body = 'not json';
        await raw.run('UPDATE audit SET body = ?, hash = ? WHERE seq = 6', [body, recordHash(row!.prev_hash, body)]);
        expectProblem(await check(store), 6, 'malformed');
      }));
  });
}

// --- the embedded store -----------------------------------------------------------------------

const dirs: { remove(): void }[] = [];
tamperSuite('sqlite', async () => {
  const dir = tempDir('sluice-tamper-');
  dirs.push(dir);
  const file = join(dir.path, 'sluice.db');
  const store = await openStore(file);
  const db = openRawSqlite(file);
  // An attacker with the file can drop the append-only triggers; the chain still tells.
  db.exec('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;');
  const raw: Raw = {
    all: async (sql, params = []) => db.prepare(sql).all(...params) as RawRow[],
    run: async (sql, params = []) => {
      db.prepare(sql).run(...params);
    },
    close: async () => {
      db.close();
    },
  };
  return {
    store,
    raw,
    close: async () => {
      await raw.close();
      await store.close();
    },
  };
});

// --- PostgreSQL -------------------------------------------------------------------------------

let pgDb: TestDatabase | undefined;
after(async () => {
  for (const d of dirs) d.remove();
  await pgDb?.drop();
});

tamperSuite('postgres', async (name) => {
  pgDb ??= await createTestDatabase();
  const db = pgDb;
  const schema = `tamper_${name}`;
  const store = await openStore(db.url, { schema });
  await db.sql(`ALTER TABLE ${schema}.audit DISABLE TRIGGER USER`);
  const pgSql = (sql: string) => {
    let n = 0;
    return sql.replace(/\baudit\b/g, `${schema}.audit`).replace(/\?/g, () => `$${++n}`);
  };
  const raw: Raw = {
    all: async (sql, params = []) =>
      (await db.sql<RawRow>(pgSql(sql), params)).rows.map((r) => ({ ...r, seq: Number(r.seq) })),
    run: async (sql, params = []) => {
      await db.sql(pgSql(sql), params);
    },
    close: async () => undefined,
  };
  return { store, raw, close: () => store.close() };
});
