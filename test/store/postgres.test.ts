import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AuditLedger } from '../../src/audit/ledger.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { openStore } from '../../src/store/open.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { StoreError } from '../../src/store/errors.js';
import { latestVersion } from '../../src/store/migrations.js';
import { createTestDatabase, type TestDatabase } from './pg-helper.js';
import { storeContract, type ContractDb } from './store-contract.js';

const databases: TestDatabase[] = [];
after(async () => {
  await Promise.allSettled(databases.map((d) => d.drop()));
});

storeContract('postgres', async (): Promise<ContractDb> => {
  const db = await createTestDatabase();
  databases.push(db);
  const schema = 'sluice_contract';
  const store = await openStore(db.url, { schema });
  return {
    store,
    second: () => openStore(db.url, { schema }),
    unmigrated: async () => new PostgresStore({ connectionString: db.url, schema }),
    sql: async (text) => {
      await db.sql(text);
    },
    t: (name) => `"${schema}".${name}`,
    cleanup: async () => {
      await store.close();
    },
  };
});

void describe('PostgresStore specifics', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
    databases.push(db);
  });

  void it('uses the default schema sluice, and keeps schemas apart', async () => {
    const a = await openStore(db.url);
    const b = await openStore(db.url, { schema: 'other_tenant' });
    try {
      await new AuditLedger(a).append({ kind: 'system' });
      assert.equal((await a.auditHead()).seq, 1);
      assert.equal((await b.auditHead()).seq, 0);
      const tables = await db.sql<{ s: string }>(
        "SELECT table_schema AS s FROM information_schema.tables WHERE table_name = 'audit' ORDER BY 1",
      );
      assert.deepStrictEqual(
        tables.rows.map((r) => r.s),
        ['other_tenant', 'sluice'],
      );
    } finally {
      await a.close();
      await b.close();
    }
  });

  void it('refuses unsafe schema names', () => {
    for (const schema of ['a-b', 'x"; DROP TABLE y; --', '', '1abc', 'a'.repeat(64)]) {
      assert.throws(
        () => new PostgresStore({ connectionString: db.url, schema }),
        (e: unknown) => e instanceof StoreError && e.code === 'invalid',
      );
    }
  });

  void it('migrates once when several nodes start at the same time', async () => {
    const schema = 'concurrent_start';
    const stores = Array.from({ length: 5 }, () => new PostgresStore({ connectionString: db.url, schema }));
    try {
      await Promise.all(stores.map((s) => s.migrate()));
      const rows = await db.sql<{ version: number }>(`SELECT version FROM "${schema}".schema_migrations ORDER BY version`);
      assert.deepStrictEqual(
        rows.rows.map((r) => r.version),
        Array.from({ length: latestVersion('postgres') }, (_, i) => i + 1),
      );
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  void it('keeps the audit table append-only unless the triggers are disabled', async () => {
    const s = await openStore(db.url, { schema: 'append_only' });
    try {
      await new AuditLedger(s).append({ kind: 'system' });
      await assert.rejects(db.sql(`UPDATE append_only.audit SET kind = 'x'`), /append-only/);
      await assert.rejects(db.sql(`DELETE FROM append_only.audit`), /append-only/);
      await assert.rejects(db.sql(`TRUNCATE append_only.audit`), /append-only/);
    } finally {
      await s.close();
    }
  });

  void it('two nodes (two pools) appending concurrently through ledgers still make one valid chain', async () => {
    const schema = 'two_nodes';
    const nodeA = await openStore(db.url, { schema, postgres: { maxConnections: 4 } });
    const nodeB = await openStore(db.url, { schema, postgres: { maxConnections: 4 } });
    try {
      const ledgers = [new AuditLedger(nodeA), new AuditLedger(nodeB)];
      const tasks: Promise<unknown>[] = [];
      for (let i = 0; i < 1000; i++) {
        const ledger = ledgers[i % 2]!;
        tasks.push(ledger.append({ kind: 'decision', session: `s${i % 7}`, effect: 'allow', detail: { node: i % 2, i } }));
        if (i % 100 === 0) await new Promise((r) => setTimeout(r, 2));
      }
      await Promise.all(tasks);
      await Promise.all(ledgers.map((l) => l.close()));
      const result = await verifyAudit(nodeA);
      assert.equal(result.ok, true, result.problem?.message);
      assert.equal(result.count, 1000);
      assert.deepStrictEqual(result.head, await nodeB.auditHead());
    } finally {
      await nodeA.close();
      await nodeB.close();
    }
  });

  void it('reports unreachable servers and bad logins without the password', async () => {
    const cases = [
      'postgres://root:hunter2secret@127.0.0.1:1/test',
      'postgresql://root:hunter2secret@127.0.0.1:5432/sluice_no_such_db_x',
      'postgres://no_such_role_x:hunter2secret@127.0.0.1:5432/test',
      'postgres://root:hunter2secret@[::1/test',
      'postgres://root@127.0.0.1:1/test?password=hunter2secret',
    ];
    for (const url of cases) {
      await assert.rejects(openStore(url, { postgres: { connectTimeoutMs: 3000 } }), (e: unknown) => {
        assert.ok(e instanceof StoreError, String(e));
        assert.ok(['unavailable', 'invalid'].includes(e.code), `${e.code}: ${e.message}`);
        assert.doesNotMatch(e.message, /hunter2secret/);
        assert.doesNotMatch(String(e.stack), /hunter2secret/);
        assert.doesNotMatch(JSON.stringify(e, Object.getOwnPropertyNames(e)), /hunter2secret/);
        assert.match(e.message, /\*\*\*/);
        return true;
      });
    }
  });
});
