import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditLedger, AuditLedgerError } from '../../src/audit/ledger.js';
import { prepareRecord } from '../../src/audit/record.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { openStore } from '../../src/store/open.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { StoreError } from '../../src/store/errors.js';
import type { SqliteAuditWriter } from '../../src/store/sqlite-audit-writer.js';
import type { AuditRow, PreparedAuditRecord, Store } from '../../src/store/store.js';
import { tempDir, tempStore } from '../helpers.js';
import { openRawSqlite } from './raw-sqlite.js';
import { storeContract, type ContractDb } from './store-contract.js';

function rawSql(file: string, text: string): unknown[] {
  const db = openRawSqlite(file);
  try {
    if (/^\s*select/i.test(text)) return db.prepare(text).raw().all();
    db.exec(text);
    return [];
  } finally {
    db.close();
  }
}

storeContract('sqlite', async (): Promise<ContractDb> => {
  const dir = tempDir('sluice-sqlite-contract-');
  const file = join(dir.path, 'nested', 'sluice.db');
  const store = await openStore(`sqlite:${file}`);
  return {
    store,
    second: () => openStore(file),
    unmigrated: async () => new SqliteStore({ path: file }),
    sql: async (text) => {
      rawSql(file, text);
    },
    t: (name) => name,
    cleanup: async () => {
      await store.close();
      dir.remove();
    },
  };
});

void describe('SqliteStore specifics', () => {
  void it('creates the directory 0700 and the file 0600, in WAL mode with synchronous=FULL', async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'a', 'b', 'sluice.db');
      const store = await openStore(file);
      await store.close();
      assert.equal(statSync(join(dir.path, 'a', 'b')).mode & 0o777, 0o700);
      assert.equal(statSync(join(dir.path, 'a')).mode & 0o777, 0o700);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.deepStrictEqual(rawSql(file, 'SELECT * FROM pragma_journal_mode'), [['wal']]);
      const s = new SqliteStore({ path: file });
      const db = (s as unknown as { db: { prepare(q: string): { raw(): { get(): unknown[] } } } }).db;
      assert.equal(db.prepare('PRAGMA synchronous').raw().get()[0], 2); // FULL
      assert.equal(db.prepare('PRAGMA foreign_keys').raw().get()[0], 1);
      assert.equal(db.prepare('PRAGMA busy_timeout').raw().get()[0], 5000);
      await s.close();
    } finally {
      dir.remove();
    }
  });

  void it('keeps the audit table append-only unless the triggers are dropped', async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'sluice.db');
      const store = await openStore(file);
      const ledger = new AuditLedger(store);
      await ledger.append({ kind: 'system' });
      await store.close();
      assert.throws(() => rawSql(file, "UPDATE audit SET kind = 'x'"), /append-only/);
      assert.throws(() => rawSql(file, 'DELETE FROM audit'), /append-only/);
    } finally {
      dir.remove();
    }
  });

  void it('reports a path it cannot create as unavailable', async () => {
    const dir = tempDir();
    try {
      const blocker = join(dir.path, 'file');
      writeFileSync(blocker, 'x');
      await assert.rejects(
        openStore(join(blocker, 'sub', 'sluice.db')),
        (e: unknown) => e instanceof StoreError && e.code === 'unavailable' && /cannot create the SQLite store/.test(e.message),
      );
      await assert.rejects(
        openStore(blocker), // not a database
        (e: unknown) => e instanceof StoreError,
      );
    } finally {
      dir.remove();
    }
  });

  void it('two processes appending to one file still make one valid chain', async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'sluice.db');
      await (await openStore(file)).close();
      const script = `
        import { openStore } from ${JSON.stringify(new URL('../../src/store/open.ts', import.meta.url).href)};
        import { AuditLedger } from ${JSON.stringify(new URL('../../src/audit/ledger.ts', import.meta.url).href)};
        const store = await openStore(process.argv[1]);
        const ledger = new AuditLedger(store);
        const tasks = [];
        for (let i = 0; i < 600; i++) {
          tasks.push(ledger.append({ kind: 'system', detail: { pid: process.pid, i } }));
          if (i % 50 === 0) await new Promise((r) => setTimeout(r, 1));
        }
        await Promise.all(tasks);
        await ledger.close();
        await store.close();
      `;
      const run = () =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, file], {
            stdio: ['ignore', 'inherit', 'pipe'],
          });
          let err = '';
          child.stderr.on('data', (d: Buffer) => (err += d.toString()));
          child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`child exited ${code}: ${err}`))));
        });
      await Promise.all([run(), run(), run()]);
      const store = await openStore(file);
      const result = await verifyAudit(store);
      await store.close();
      assert.equal(result.ok, true, result.problem?.message);
      assert.equal(result.count, 1800);
    } finally {
      dir.remove();
    }
  });
});

describe('SqliteStore: the file going away', () => {
  it('refuses audit writes and health checks once the database file is deleted or replaced', async () => {
    const dir = tempDir('sluice-sqlite-gone-');
    const file = join(dir.path, 'sluice.db');
    const store = await openStore(`sqlite:${file}`);
    const ledger = new AuditLedger(store);
    try {
      await ledger.append({ kind: 'system', detail: { event: 'before' } });
      for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
      await assert.rejects(ledger.append({ kind: 'system', detail: { event: 'after' } }), /deleted or replaced/);
      await assert.rejects(store.auditHead(), (error: unknown) => error instanceof StoreError && error.code === 'unavailable');
      // A new file at the same path is not the one we opened either.
      writeFileSync(file, '');
      await assert.rejects(store.auditHead(), /deleted or replaced/);
    } finally {
      await ledger.close().catch(() => undefined);
      await store.close();
      dir.remove();
    }
  });
});

void describe('SqliteStore: the audit writer thread', () => {
  const prep = (n: number, tag: string): PreparedAuditRecord[] =>
    Array.from({ length: n }, (_, i) => prepareRecord({ kind: 'system', session: tag, detail: { tag, i } }, new Date().toISOString()));
  const writerOf = (store: Store): SqliteAuditWriter => {
    const writer = (store as unknown as { writer?: SqliteAuditWriter }).writer;
    assert.ok(writer, 'the store runs a writer thread');
    return writer;
  };

  void it('gives concurrent callers their rows in call order, one valid chain', async () => {
    const t = await tempStore();
    try {
      // Straight to the store: 100 calls in flight at once, three records each.
      const calls = Array.from({ length: 100 }, (_, i) => t.store.appendAudit(prep(3, `c${i}`)));
      const results = await Promise.all(calls);
      results.forEach((rows, i) => {
        assert.deepStrictEqual(rows.map((r) => r.seq), [3 * i + 1, 3 * i + 2, 3 * i + 3]);
        assert.ok(rows.every((r) => r.session === `c${i}`));
      });
      // Through the ledger: 200 callers appending in a loop, as a door's sessions do.
      const ledger = new AuditLedger(t.store);
      const seen: AuditRow[][] = await Promise.all(
        Array.from({ length: 200 }, async (_, w) => {
          const mine: AuditRow[] = [];
          for (let i = 0; i < 10; i++) mine.push(await ledger.append({ kind: 'system', session: `w${w}`, detail: { i } }));
          return mine;
        }),
      );
      for (const mine of seen) {
        for (let i = 1; i < mine.length; i++) assert.ok(mine[i]!.seq > mine[i - 1]!.seq);
      }
      const stored = await t.store.readAudit({ limit: 10_000 });
      assert.equal(stored.length, 2300);
      assert.deepStrictEqual(stored.slice(0, 300), results.flat(), 'rows returned are the rows stored');
      const result = await verifyAudit(t.store);
      assert.equal(result.ok, true, result.problem?.message);
    } finally {
      await t.cleanup();
    }
  });

  void it('commits off the main thread: the event loop turns while a large append is written', async () => {
    const dir = tempDir();
    try {
      const turnsDuring = async (store: Store): Promise<boolean> => {
        let turned = false;
        const immediate = setImmediate(() => (turned = true));
        await store.appendAudit(prep(5000, 'big'));
        const result = turned;
        clearImmediate(immediate);
        return result;
      };
      const inline = await openStore(join(dir.path, 'inline.db'), { sqlite: { auditWriter: 'inline' } });
      const thread = await openStore(join(dir.path, 'thread.db'));
      try {
        assert.equal(await turnsDuring(inline), false, 'inline, the whole write runs before the loop turns');
        assert.equal(await turnsDuring(thread), true);
      } finally {
        await inline.close();
        await thread.close();
      }
    } finally {
      dir.remove();
    }
  });

  void it('leaves writes on the main connection working while the thread commits', async () => {
    const t = await tempStore();
    try {
      const big = t.store.appendAudit(prep(5000, 'big'));
      // The key insert may have to wait for the thread's write lock (busy timeout); it goes through.
      await t.store.insertKey({ id: 'key_during', principal: 'alice', kind: 'human', groups: [], hash: 'c'.repeat(64), createdAt: new Date().toISOString() });
      assert.equal((await big).length, 5000);
      assert.equal((await t.store.getKey('key_during'))?.principal, 'alice');
      assert.equal((await t.store.auditHead()).seq, 5000);
    } finally {
      await t.cleanup();
    }
  });

  void it('fails closed when the thread dies: pending and later appends reject, readiness reports it', async () => {
    const dir = tempDir();
    const file = join(dir.path, 'sluice.db');
    const store = await openStore(file);
    try {
      await store.appendAudit(prep(2, 'before'));
      // The thread dies (through the test hook, as on a crash) with appends queued behind it.
      const stopped = (e: unknown) => e instanceof StoreError && e.code === 'unavailable' && /audit writer thread stopped/.test(e.message);
      const crashed = writerOf(store).crashForTests();
      const pending = [assert.rejects(store.appendAudit(prep(2, 'pending')), stopped), assert.rejects(store.appendAudit(prep(1, 'pending')), stopped)];
      await crashed;
      await Promise.all(pending);
      await assert.rejects(store.appendAudit(prep(1, 'later')), stopped);
      await assert.rejects(store.auditHead(), stopped);
      const ledger = new AuditLedger(store);
      await assert.rejects(
        ledger.append({ kind: 'system' }),
        (e: unknown) => e instanceof AuditLedgerError && e.code === 'write_failed' && /audit writer thread stopped/.test(e.message),
      );
      // Nothing of the pending batch reached the file; what was stored before still verifies.
      const check = await openStore(file);
      try {
        assert.deepStrictEqual((await check.readAudit({ limit: 10 })).map((r) => r.session), ['before', 'before']);
        assert.equal((await verifyAudit(check)).ok, true);
      } finally {
        await check.close();
      }
    } finally {
      await store.close();
      dir.remove();
    }
  });

  void it('close() lets pending appends commit, then refuses more', async () => {
    const dir = tempDir();
    const file = join(dir.path, 'sluice.db');
    try {
      const store = await openStore(file);
      const calls = Array.from({ length: 50 }, (_, i) => store.appendAudit(prep(20, `p${i}`)));
      const closing = store.close();
      await assert.rejects(store.appendAudit(prep(1, 'late')), (e: unknown) => e instanceof StoreError && e.code === 'closed');
      const results = await Promise.all(calls);
      await closing;
      assert.equal(results.flat().length, 1000);
      const again = await openStore(file);
      try {
        assert.deepStrictEqual(await again.readAudit({ limit: 2000 }), results.flat());
        assert.equal((await verifyAudit(again)).ok, true);
      } finally {
        await again.close();
      }
    } finally {
      dir.remove();
    }
  });
});
