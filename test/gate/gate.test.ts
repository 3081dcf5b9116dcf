// The gate pipeline end to end with real parts: analysers, compiled policy, the embedded
// store and ledger, a real shell and a real PostgreSQL.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import Database from 'libsql';
import { join } from 'node:path';
import { createAnalysers } from '../../src/analyse/index.js';
import type { Analyser } from '../../src/analyse/analyser.js';
import type { CommandRedactor } from '../../src/audit/command-redaction.js';
import { AuditJournal } from '../../src/audit/journal.js';
import { AuditLedger } from '../../src/audit/ledger.js';
import { decideReview, StoreReviewHook } from '../../src/approvals/reviews.js';
import { createPostgresConnector, createShellConnector, buildShellEnvironment } from '../../src/connectors/index.js';
import { Gate, GateError, type GateConnection } from '../../src/gate/gate.js';
import type { PolicyDecider, Principal } from '../../src/gate/types.js';
import { compileMaskingProfile } from '../../src/masking/columns.js';
import { compilePolicy } from '../../src/policy/index.js';
import type { Store } from '../../src/store/store.js';
import { directSql, PG, tempDir, tempStore, uniqueName } from '../helpers.js';

const agent: Principal = { kind: 'agent', name: 'copilot', groups: ['agents'], onBehalfOf: 'alice' };

describe('gate', () => {
  let analysers: ReadonlyMap<string, Analyser>;
  let store: Store;
  let cleanup: () => Promise<void>;
  let storeFile: string;
  const work = tempDir('sluice-gate-');
  const table = uniqueName('gate_orders');
  const connectors: GateConnection[] = [];

  before(async () => {
    analysers = await createAnalysers();
    ({ store, cleanup, file: storeFile } = await tempStore());
    await directSql(`CREATE TABLE ${table} (id int PRIMARY KEY, email text, status text)`);
    await directSql(`INSERT INTO ${table} VALUES (1, 'ada@example.com', 'new'), (2, 'grace@example.com', 'new')`);
  });

  after(async () => {
    await Promise.all(connectors.map((c) => c.connector.close()));
    await directSql(`DROP TABLE IF EXISTS ${table}`);
    await cleanup();
    work.remove();
  });

  function makeGate(options: { policy?: PolicyDecider; reviewTimeoutMs?: number; store?: Store; ledger?: AuditLedger; commandRedactor?: CommandRedactor } = {}) {
    const s = options.store ?? store;
    const ledger = options.ledger ?? new AuditLedger(s);
    const shell: GateConnection = {
      ref: { name: 'sh', kind: 'shell', labels: {} },
      language: 'shell',
      connector: createShellConnector({ cwd: work.path, timeoutMs: 5000, maxOutputBytes: 65536, env: buildShellEnvironment({}) }),
    };
    const db: GateConnection = {
      ref: { name: 'db', kind: 'postgres', labels: { env: 'test' } },
      language: 'postgres',
      connector: createPostgresConnector({ ...PG, maxConnections: 2, statementTimeoutMs: 5000, maxRows: 1000 }),
      mask: 'pii',
    };
    connectors.push(shell, db);
    const policy =
      options.policy ??
      compilePolicy({
        rules: [
          { name: 'admins-unmasked', when: '"admin" in principal.groups', effect: 'allow', mask: 'none' },
          { name: 'mask-missing', when: '"broken" in principal.groups', effect: 'allow', mask: 'no-such-profile' },
        ],
        connectionPresets: { sh: 'read-only', db: 'guarded' },
      });
    const gate = new Gate({
      policy: () => policy,
      analysers,
      audit: ledger,
      reviews: new StoreReviewHook(s, ledger, { timeoutMs: options.reviewTimeoutMs ?? 10_000, pollMs: 20 }),
      connection: (name) => (name === 'sh' ? shell : name === 'db' ? db : undefined),
      maskingProfiles: new Map([['pii', compileMaskingProfile('pii', { columns: ['email'], replacement: 'redact' })]]),
      ...(options.commandRedactor ? { commandRedactor: options.commandRedactor } : {}),
    });
    return { gate, ledger };
  }

  async function recordsFor(actionId: string) {
    const rows = await store.readAudit({ actionId, limit: 100 });
    return rows.map((row) => JSON.parse(row.body) as Record<string, unknown>);
  }

  it('runs an allowed command and records the decision before the outcome', async () => {
    const { gate } = makeGate();
    const outcome = await gate.run({ principal: agent, session: 's1', connection: 'sh', door: 'test', command: 'echo hello' });
    assert.equal(outcome.status, 'executed');
    assert.equal(outcome.decision.effect, 'allow');
    assert.equal(outcome.result?.stdout, 'hello\n');
    const records = await recordsFor(outcome.action.id);
    assert.deepEqual(records.map((r) => r.kind), ['decision', 'outcome']);
    assert.ok((records[0]!.seq as number) < (records[1]!.seq as number));
    assert.equal(records[0]!.command, 'echo hello');
    assert.equal(records[0]!.agent, 'copilot');
    assert.equal(records[0]!.onBehalfOf, 'alice');
    assert.equal(records[0]!.rule, outcome.decision.rule);
    assert.equal(records[1]!.outcome, 'succeeded');
  });

  it('with store.sync full, a command runs only after its decision is on disk; its outcome is written before the answer and synced later', async () => {
    const journalDir = tempDir('gate-journal-');
    const journal = AuditJournal.open(journalDir.path, { sync: 'full' });
    const ledger = new AuditLedger(store, { journal });
    const { gate } = makeGate({ ledger });
    try {
      const outcome = await gate.run({ principal: agent, session: 's1', connection: 'sh', door: 'test', command: 'echo synced' });
      assert.equal(outcome.status, 'executed');
      assert.equal(journal.written, 2, 'decision and outcome lines are written before the answer');
      assert.equal(journal.synced, 1, 'the decision line was synced before the command ran; the outcome line is not waited for');
      await ledger.flush();
      assert.deepEqual((await recordsFor(outcome.action.id)).map((r) => r.kind), ['decision', 'outcome']);
    } finally {
      await ledger.close();
      journalDir.remove();
    }
  });

  it('a command redactor that fails withholds the command text in the record, and the decision is still recorded', async () => {
    const broken = { redact: () => { throw new Error('detector bug'); } } as unknown as CommandRedactor;
    const { gate } = makeGate({ commandRedactor: broken });
    const outcome = await gate.run({ principal: agent, session: 's1', connection: 'sh', door: 'test', command: 'echo secret-ish' });
    assert.equal(outcome.status, 'executed');
    const records = await recordsFor(outcome.action.id);
    assert.equal(records[0]!.kind, 'decision');
    assert.equal(records[0]!.command, '[withheld: redaction failed]');
    assert.deepEqual((records[0]!.detail as { redacted?: unknown }).redacted, { failed: 1 });
  });

  it('does not run a denied command, and records the denial', async () => {
    const { gate } = makeGate();
    const marker = join(work.path, 'denied-marker');
    const outcome = await gate.run({ principal: agent, session: 's1', connection: 'sh', door: 'test', command: `echo ok && touch ${marker}` });
    assert.equal(outcome.status, 'denied');
    assert.equal(outcome.result, undefined);
    assert.equal(existsSync(marker), false);
    const records = await recordsFor(outcome.action.id);
    assert.equal(records.length, 1);
    assert.equal(records[0]!.effect, 'deny');
    assert.match(String(records[0]!.reason), /.+/);
  });

  it('fails closed when the audit store cannot be written: nothing runs', async () => {
    const broken = await tempStore();
    const allowAll = compilePolicy({ rules: [{ name: 'allow-all', effect: 'allow' }] });
    const { gate } = makeGate({ policy: allowAll, store: broken.store });
    await broken.store.close();
    const marker = join(work.path, 'audit-down-marker');
    await assert.rejects(
      gate.run({ principal: agent, session: 's1', connection: 'sh', door: 'test', command: `touch ${marker}` }),
      (error: unknown) => error instanceof GateError && error.code === 'audit_unavailable',
    );
    assert.equal(existsSync(marker), false);
    await broken.cleanup();
  });

  it('denies commands for an unknown connection and records it', async () => {
    const { gate } = makeGate();
    const outcome = await gate.run({ principal: agent, session: 's1', connection: 'nope', door: 'test', command: 'SELECT 1' });
    assert.equal(outcome.status, 'denied');
    assert.equal(outcome.decision.rule, 'unknown-connection');
    assert.equal((await recordsFor(outcome.action.id)).length, 1);
  });

  it('denies when the policy throws', async () => {
    const { gate } = makeGate({ policy: { decide: () => { throw new Error('boom'); } } });
    const outcome = await gate.run({ principal: agent, session: 's1', connection: 'sh', door: 'test', command: 'echo hi' });
    assert.equal(outcome.status, 'denied');
    assert.equal(outcome.decision.rule, 'policy-error');
  });

  it('masks result columns with the connection profile; `none` shows values; an unknown profile withholds rows', async () => {
    const { gate } = makeGate();
    const sql = `SELECT id, email FROM ${table} ORDER BY id`;
    const masked = await gate.run({ principal: agent, session: 's1', connection: 'db', door: 'test', command: sql });
    assert.equal(masked.status, 'executed');
    assert.deepEqual(masked.result?.rows, [[1, '[masked]'], [2, '[masked]']]);
    assert.deepEqual(masked.masked, { columns: ['email'], values: 2 });

    const admin: Principal = { kind: 'human', name: 'root', groups: ['admin'] };
    const plain = await gate.run({ principal: admin, session: 's1', connection: 'db', door: 'test', command: sql });
    assert.deepEqual(plain.result?.rows, [[1, 'ada@example.com'], [2, 'grace@example.com']]);

    const broken: Principal = { kind: 'human', name: 'x', groups: ['broken'] };
    const withheld = await gate.run({ principal: broken, session: 's1', connection: 'db', door: 'test', command: sql });
    assert.equal(withheld.result?.rows, undefined);
    assert.equal(withheld.result?.error?.code, 'masking_error');

    // Output other than rows is withheld too: a shell command's stdout never passes unmasked.
    const printed = await gate.run({ principal: broken, session: 's1', connection: 'sh', door: 'test', command: 'echo ada@example.com' });
    assert.equal(printed.status, 'executed');
    assert.equal(printed.result?.stdout, undefined);
    assert.equal(printed.result?.exitCode, 0);
    assert.equal(printed.result?.error?.code, 'masking_error');
  });

  it('holds a targeted write for review and runs exactly it once approved', async () => {
    const { gate, ledger } = makeGate();
    const command = `UPDATE ${table} SET status = 'approved' WHERE id = 1`;
    const outcome = await gate.run(
      { principal: agent, session: 's2', connection: 'db', door: 'test', command },
      {
        onHold: (review) => {
          assert.equal(review.status, 'pending');
          setTimeout(() => void decideReview(store, ledger, review.id, 'approved', 'human:bob', 'looks fine'), 50);
        },
      },
    );
    assert.equal(outcome.decision.effect, 'review');
    assert.equal(outcome.status, 'executed');
    assert.equal(outcome.review?.status, 'approved');
    assert.equal(outcome.review?.by, 'human:bob');
    assert.equal(outcome.result?.rowCount, 1);
    const row = await directSql<{ status: string }>(`SELECT status FROM ${table} WHERE id = 1`);
    assert.equal(row.rows[0]!.status, 'approved');
    const records = await recordsFor(outcome.action.id);
    assert.deepEqual(records.map((r) => r.kind), ['decision', 'review', 'review', 'outcome']);
    assert.equal(records[3]!.approver, 'human:bob');
  });

  it('does not run a rejected command', async () => {
    const { gate, ledger } = makeGate();
    const command = `UPDATE ${table} SET status = 'rejected' WHERE id = 2`;
    const outcome = await gate.run(
      { principal: agent, session: 's3', connection: 'db', door: 'test', command },
      { onHold: (review) => setTimeout(() => void decideReview(store, ledger, review.id, 'rejected', 'human:bob'), 30) },
    );
    assert.equal(outcome.status, 'rejected');
    assert.equal(outcome.result, undefined);
    const row = await directSql<{ status: string }>(`SELECT status FROM ${table} WHERE id = 2`);
    assert.equal(row.rows[0]!.status, 'new');
  });

  it('denies a held command when nobody decides in time', async () => {
    const { gate } = makeGate({ reviewTimeoutMs: 200 });
    let reviewId = '';
    const outcome = await gate.run(
      { principal: agent, session: 's4', connection: 'db', door: 'test', command: `DELETE FROM ${table} WHERE id = 2` },
      { onHold: (review) => (reviewId = review.id) },
    );
    assert.equal(outcome.status, 'expired');
    assert.equal((await store.getReview(reviewId))?.status, 'expired');
    assert.equal((await directSql(`SELECT 1 FROM ${table} WHERE id = 2`)).rowCount, 1);
    await assert.rejects(decideReview(store, new AuditLedger(store), reviewId, 'approved', 'late'), /already expired/);
  });

  it('cancels the review when the caller goes away', async () => {
    const { gate } = makeGate();
    const abort = new AbortController();
    let reviewId = '';
    const outcome = await gate.run(
      { principal: agent, session: 's5', connection: 'db', door: 'test', command: `DELETE FROM ${table} WHERE id = 2` },
      { signal: abort.signal, onHold: (review) => { reviewId = review.id; setTimeout(() => abort.abort(), 30); } },
    );
    assert.equal(outcome.status, 'cancelled');
    assert.equal((await store.getReview(reviewId))?.status, 'cancelled');
    assert.equal((await directSql(`SELECT 1 FROM ${table} WHERE id = 2`)).rowCount, 1);
  });

  it('refuses to run when the stored review no longer matches the held command', async () => {
    const { gate, ledger } = makeGate();
    const outcome = await gate.run(
      { principal: agent, session: 's6', connection: 'db', door: 'test', command: `DELETE FROM ${table} WHERE id = 1` },
      {
        onHold: (review) =>
          setTimeout(() => {
            void (async () => {
              // The stored request is swapped for a different command's hash, then approved.
              const db = new Database(storeFile);
              db.prepare('UPDATE reviews SET command_hash = ? WHERE id = ?').run('f'.repeat(64), review.id);
              db.close();
              await decideReview(store, ledger, review.id, 'approved', 'human:bob');
            })();
          }, 30),
      },
    );
    assert.equal(outcome.status, 'rejected');
    assert.match(outcome.review?.note ?? '', /does not match/);
    assert.equal((await directSql(`SELECT 1 FROM ${table} WHERE id = 1`)).rowCount, 1);
  });
  it('lets a door run an admitted command itself and record what happened', async () => {
    const { gate } = makeGate();
    const admission = await gate.admit({ principal: agent, session: 's7', connection: 'db', door: 'wire', command: `SELECT email FROM ${table}` });
    assert.equal(admission.status, 'allowed');
    assert.equal(admission.masking.kind, 'profile');
    await gate.complete(admission, { result: { ok: true, rowCount: 2 }, durationMs: 1.5, masked: { columns: ['email'], values: 2 } });
    const records = await recordsFor(admission.action.id);
    assert.deepEqual(records.map((r) => r.kind), ['decision', 'outcome']);
    assert.equal(records[1]!.rows, 2);
    assert.equal(records[1]!.door, 'wire');

    const denied = await gate.admit({ principal: agent, session: 's7', connection: 'db', door: 'wire', command: `DROP TABLE ${table}` });
    assert.equal(denied.status, 'denied');
    await assert.rejects(gate.complete(denied, { result: { ok: true }, durationMs: 0 }), /only for allowed/);
  });
});
