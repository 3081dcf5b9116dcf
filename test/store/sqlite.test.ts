import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuditLedger } from '../../src/audit/ledger.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { openStore } from '../../src/store/open.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { StoreError } from '../../src/store/errors.js';
import { tempDir } from '../helpers.js';
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
