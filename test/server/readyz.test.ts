// /readyz stays ready while audit checkpoints fail or the store refuses writes (commands are
// still recorded, in the journal), but says so.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startSluice, type RunningSluice } from '../../src/app/server.js';
import { CheckpointWriter } from '../../src/audit/checkpoints-writer.js';
import { AuditLedger } from '../../src/audit/ledger.js';
import { loadOrCreateSigningKey } from '../../src/audit/signing.js';
import { openStore } from '../../src/store/open.js';
import { loadConfigText } from '../../src/config/load.js';
import { createKey } from '../../src/identity/keys.js';
import { tempDir } from '../helpers.js';
import { openRawSqlite } from '../store/raw-sqlite.js';

/** A gateway with the API and one shell connection that allows everything. */
const SHELL_CONFIG = `
store: { url: sqlite:store/sluice.db }
listeners: { api: { address: 127.0.0.1:0 } }
identities: { bot: { kind: agent } }
connections:
  sh: { kind: shell, cwd: files, run_as: { uid: 65534, gid: 65534 } }
policy:
  rules: [{ name: all, effect: allow }]
`;

describe('readiness with failing checkpoints', () => {
  const dir = tempDir('sluice-readyz-');
  let sluice: RunningSluice;
  before(async () => {
    mkdirSync(join(dir.path, 'files'));
    // The anchor "file" is a directory: every anchor write fails.
    mkdirSync(join(dir.path, 'anchor-is-a-dir'));
    const config = `${SHELL_CONFIG}audit:
  checkpoint: { every: 1, interval: 1s, anchor: { file: anchor-is-a-dir } }
`;
    sluice = await startSluice(loadConfigText(config, join(dir.path, 'sluice.yaml'), dir.path));
  });
  after(async () => {
    await sluice?.stop();
    dir.remove();
  });

  it('answers 200 ready with a checkpoint_failing warning', { timeout: 30_000 }, async () => {
    const key = (await createKey(sluice.runtime.store, { principal: 'bot', kind: 'agent', groups: [] })).key;
    const ran = await fetch(`${sluice.api.url}/v1/actions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ connection: 'sh', command: 'echo hi' }),
    });
    assert.equal(ran.status, 200, 'commands still run and are recorded');
    for (let i = 0; ; i++) {
      const response = await fetch(`${sluice.api.url}/readyz`);
      assert.equal(response.status, 200);
      const body = (await response.json()) as { status: string; warnings?: { code: string; message: string }[] };
      if (body.warnings) {
        assert.equal(body.status, 'ready');
        assert.equal(body.warnings[0]!.code, 'checkpoint_failing');
        assert.match(body.warnings[0]!.message, /checkpoints are not being written/);
        break;
      }
      assert.ok(i < 200, 'a warning within 20 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});

describe('readiness while the audit store refuses writes', () => {
  const dir = tempDir('sluice-readyz-locked-');
  let sluice: RunningSluice;
  before(async () => {
    mkdirSync(join(dir.path, 'files'));
    const config = SHELL_CONFIG;
    sluice = await startSluice(loadConfigText(config, join(dir.path, 'sluice.yaml'), dir.path));
  });
  after(async () => {
    await sluice?.stop();
    dir.remove();
  });

  const readyz = async () => (await (await fetch(`${sluice.api.url}/readyz`)).json()) as { status: string; warnings?: { code: string; message: string }[] };

  it('says audit_store_failing while another process holds the database locked, and stops saying it after', { timeout: 60_000 }, async () => {
    const key = (await createKey(sluice.runtime.store, { principal: 'bot', kind: 'agent', groups: [] })).key;
    // Another process (here: a raw connection) takes the write lock and keeps it.
    const db = openRawSqlite(join(dir.path, 'store', 'sluice.db'));
    db.exec('BEGIN EXCLUSIVE');
    let locked = true;
    try {
      const ran = await fetch(`${sluice.api.url}/v1/actions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ connection: 'sh', command: 'echo hi' }),
      });
      assert.equal(ran.status, 200, 'the command runs: its records are safe in the journal');
      for (let i = 0; ; i++) {
        const body = await readyz();
        assert.equal(body.status, 'ready');
        const warning = body.warnings?.find((w) => w.code === 'audit_store_failing');
        if (warning) {
          assert.match(warning.message, /journaled but not reaching the store .*locked/);
          break;
        }
        assert.ok(i < 300, 'a warning within 30 s');
        await new Promise((r) => setTimeout(r, 100));
      }
      db.exec('ROLLBACK');
      locked = false;
      for (let i = 0; ; i++) {
        const body = await readyz();
        if (!body.warnings?.some((w) => w.code === 'audit_store_failing')) break;
        assert.ok(i < 300, 'the warning clears within 30 s of the lock going');
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      if (locked) db.exec('ROLLBACK');
      db.close();
    }
  });
});

describe('readiness while old audit records cannot be pruned', () => {
  const dir = tempDir('sluice-readyz-retention-');
  let sluice: RunningSluice | undefined;
  after(async () => {
    await sluice?.stop();
    dir.remove();
  });

  it('says retention_failing when the records to prune do not verify (they were altered)', { timeout: 60_000 }, async () => {
    const storeDir = join(dir.path, 'store');
    mkdirSync(storeDir);
    // Records from 100 days ago, sealed by checkpoints, as an earlier run would have left them.
    {
      const store = await openStore(join(storeDir, 'sluice.db'));
      const { signer } = loadOrCreateSigningKey(join(storeDir, 'audit-signing.key'));
      const now = () => new Date(Date.now() - 100 * 86_400_000);
      const ledger = new AuditLedger(store, { now });
      const writer = new CheckpointWriter(store, ledger, signer, { every: 10, intervalMs: 0, now });
      await writer.start();
      for (let i = 0; i < 30; i++) await ledger.append({ kind: 'decision', actionId: `old_${i}`, principal: 'agent-7', connection: 'orders', effect: 'allow', command: `SELECT ${i}` });
      await writer.close();
      await ledger.close();
      await store.close();
    }
    // One of them altered by hand.
    const db = openRawSqlite(join(storeDir, 'sluice.db'));
    db.exec('DROP TRIGGER IF EXISTS audit_no_update');
    db.prepare(`UPDATE audit SET body = replace(body, '"agent-7"', '"agent-8"') WHERE seq = 5`).run();
    db.close();
    const config = `
store: { url: sqlite:store/sluice.db }
listeners: { api: { address: 127.0.0.1:0 } }
audit: { retention: 30d, checkpoint: { every: 10 } }
`;
    sluice = await startSluice(loadConfigText(config, join(dir.path, 'sluice.yaml'), dir.path));
    assert.equal(await sluice.runtime.retention!.prune(), undefined, 'nothing pruned');
    assert.match(sluice.runtime.retention!.lastError ?? '', /do not verify/);
    const body = (await (await fetch(`${sluice.api.url}/readyz`)).json()) as { status: string; warnings?: { code: string; message: string }[] };
    assert.equal(body.status, 'ready');
    const warning = body.warnings?.find((w) => w.code === 'retention_failing');
    assert.match(warning?.message ?? '', /not being pruned: nothing pruned: the records to prune do not verify: record 5/);
  });
});
