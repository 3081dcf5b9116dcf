// Retention: records older than the cutoff are pruned up to a signed checkpoint, the prune is
// itself recorded, and what remains verifies from the base; tampering with what remains (or
// with the base) is still found. On both stores, through the library, the runtime and the CLI.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startRuntime } from '../../src/app/runtime.js';
import { canonicalJson } from '../../src/audit/canonical.js';
import { recordHash } from '../../src/audit/chain.js';
import { parseAnchorFile } from '../../src/audit/checkpoints.js';
import { checkInclusionProof, proveRecord } from '../../src/audit/checkpoints-proof.js';
import { CheckpointWriter } from '../../src/audit/checkpoints-writer.js';
import { AuditLedger } from '../../src/audit/ledger.js';
import { ShellRecorder } from '../../src/audit/recording.js';
import { pruneAudit, RetentionError, RetentionPruner } from '../../src/audit/retention.js';
import { loadOrCreateSigningKey, type CheckpointSigner } from '../../src/audit/signing.js';
import { verifyAudit, type AuditProblemKind, type VerifyOptions, type VerifyResult } from '../../src/audit/verify.js';
import { loadConfigFile, loadConfigText } from '../../src/config/load.js';
import { openStore } from '../../src/store/open.js';
import type { Action } from '../../src/gate/types.js';
import type { AuditRow, Store } from '../../src/store/store.js';
import { tempDir } from '../helpers.js';
import { freshTargets, rawAuditStores, type RawAuditAccess, type RawAuditStore } from './raw-stores.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');
const DAY = 86_400_000;
const BIN = resolve('bin/sluice.mjs');

interface Target {
  store: Store;
  raw: RawAuditAccess;
  signer: CheckpointSigner;
  ledger: AuditLedger;
  writer: CheckpointWriter;
  anchor: string;
  clock: { now: number };
  close(): Promise<void>;
}

type Opener = (name: string) => Promise<RawAuditStore>;
const dirs: { remove(): void }[] = [];

async function appendSome(ledger: AuditLedger, n: number, tag: string): Promise<void> {
  for (let b = 0; b < n; b += 5) {
    await Promise.all(
      Array.from({ length: Math.min(5, n - b) }, (_, i) =>
        ledger.append({ kind: 'decision', actionId: `${tag}_${b + i}`, principal: 'agent-7', connection: 'orders', effect: 'allow', command: `SELECT ${b + i}` }),
      ),
    );
  }
}

/** 45 records on day 0 (sealed by a checkpoint), then 25 records ten days later. */
async function build(open: Opener, name: string): Promise<Target> {
  const { store, raw, close } = await open(name);
  const dir = tempDir('sluice-ret-');
  dirs.push(dir);
  const { signer } = loadOrCreateSigningKey(join(dir.path, 'audit-signing.key'));
  const anchor = join(dir.path, 'anchor.jsonl');
  const clock = { now: T0 };
  const now = () => new Date(clock.now);
  const ledger = new AuditLedger(store, { now });
  const writer = new CheckpointWriter(store, ledger, signer, { every: 10, intervalMs: 0, anchorFile: anchor, now });
  await writer.start();
  await appendSome(ledger, 45, 'old');
  await writer.checkpoint();
  clock.now = T0 + 10 * DAY;
  await appendSome(ledger, 25, 'new');
  await writer.checkpoint();
  await ledger.flush();
  return { store, raw, signer, ledger, writer, anchor, clock, close: async () => {
    await writer.close();
    await ledger.close();
    await close();
  } };
}

async function allRows(store: Store): Promise<AuditRow[]> {
  return store.readAudit({ limit: 100_000 });
}

function expectProblem(result: VerifyResult, kind: AuditProblemKind, pattern?: RegExp): void {
  assert.equal(result.ok, false, 'verify must fail');
  assert.equal(result.problem?.kind, kind, result.problem?.message);
  if (pattern) assert.match(result.problem!.message, pattern);
}

/** Rewrites rows from `fromSeq` on with recomputed hashes (an attacker who cannot sign). */
async function rehashFrom(t: Target, fromSeq: number, mutate: (body: Record<string, unknown>, row: AuditRow) => void): Promise<void> {
  const rows = (await allRows(t.store)).filter((r) => r.seq >= fromSeq);
  let prev = rows[0]!.prevHash;
  await t.raw.unlock();
  for (const row of rows) {
    const body = JSON.parse(row.body) as Record<string, unknown>;
    mutate(body, row);
    const text = canonicalJson(body);
    const hash = recordHash(prev, text);
    await t.raw.run('UPDATE audit SET prev_hash = ?, hash = ?, body = ? WHERE seq = ?', [prev, hash, text, row.seq]);
    prev = hash;
  }
}

function suite(label: string, open: Opener): void {
  void describe(`audit retention on the ${label} store`, () => {
    const run = freshTargets('r', (name) => build(open, name));
    const verify = async (t: Target, extra: Partial<VerifyOptions> = {}) => {
      await t.ledger.flush();
      const options: VerifyOptions = { checkpoints: { trusted: [t.signer.publicKey] }, ...extra };
      const sequential = await verifyAudit(t.store, { ...options, workers: 0, pageSize: 7 });
      if (t.store.kind === 'sqlite') {
        assert.deepStrictEqual(await verifyAudit(t.store, { ...options, workers: 3, pageSize: 5 }), sequential, 'with workers');
      }
      return sequential;
    };
    const prune = (t: Target, days = 1) => pruneAudit(t.store, t.ledger, { before: new Date(T0 + days * DAY), trusted: [t.signer.publicKey] });

    void it('prunes up to the checkpoint over the old records, records the prune, and still verifies', () =>
      run(async (t) => {
        const before = await allRows(t.store);
        // The last checkpoint of day 0 covers every day-0 record before it.
        const sealing = before.filter((r) => r.kind === 'checkpoint' && r.time === new Date(T0).toISOString()).at(-1)!;
        const result = await prune(t);
        assert.equal(result.checkpointSeq, sealing.seq);
        assert.equal(result.upto, sealing.seq - 1);
        assert.equal(result.deleted, sealing.seq - 1);
        const rows = await allRows(t.store);
        assert.equal(rows[0]!.seq, sealing.seq, 'the checkpoint itself is kept');
        const record = rows.find((r) => r.seq === result.recordSeq)!;
        assert.deepEqual((JSON.parse(record.body) as { detail: Record<string, unknown> }).detail, {
          event: 'audit-pruned',
          upto: result.upto,
          checkpointSeq: sealing.seq,
          treeSize: result.upto,
          rootHash: (JSON.parse(sealing.body) as { detail: { rootHash: string } }).detail.rootHash,
          keyId: t.signer.keyId,
          before: new Date(T0 + DAY).toISOString(),
          records: result.upto,
        });
        const ok = await verify(t, { checkpoints: { trusted: [t.signer.publicKey], anchors: parseAnchorFile(readFileSync(t.anchor, 'utf8')) } });
        assert.equal(ok.ok, true, ok.problem?.message);
        assert.equal(ok.checkpoints!.prunedTo, result.upto);
        assert.equal(ok.count, rows.length);
        // Inclusion proofs of retained records still check offline; pruned ones cannot be proved.
        for (const seq of [result.upto! + 1, result.upto! + 2, result.upto! + 9]) {
          const doc = await proveRecord(t.store, seq);
          assert.equal(checkInclusionProof(JSON.parse(JSON.stringify(doc)), [t.signer.publicKey]), undefined, `seq ${seq}`);
        }
        await assert.rejects(proveRecord(t.store, 3), /record 3 was pruned \(audit.retention\)/);
        // A later checkpoint over the retained records, and a second prune, move the base on.
        await t.writer.checkpoint();
        const again = await prune(t);
        assert.equal(again.upto, undefined, 'nothing newer is old enough yet');
        t.clock.now = T0 + 40 * DAY;
        await appendSome(t.ledger, 12, 'newer');
        await t.writer.checkpoint();
        const second = await prune(t, 20);
        assert.ok(second.upto! > result.upto!, JSON.stringify(second));
        const ok2 = await verify(t);
        assert.equal(ok2.ok, true, ok2.problem?.message);
        assert.equal(ok2.checkpoints!.prunedTo, second.upto);
      }));

    void it('deletes the shell recordings of pruned days with the records, never one a retained record may name', () =>
      run(async (t) => {
        const dir = tempDir('sluice-ret-rec-');
        dirs.push(dir);
        const folders = ['2025-12-29', '2025-12-31', '2026-01-01', '2026-01-09', '2026-01-10', '2026-01-11', '2026-02-31', 'misc'];
        for (const f of folders) {
          mkdirSync(join(dir.path, f));
          writeFileSync(join(dir.path, f, 'a1b2.cast'), '{"version":2}\n');
        }
        // A file no recorder writes keeps its folder; a temp file left by a crash goes.
        writeFileSync(join(dir.path, '2025-12-29', 'notes.txt'), 'kept');
        writeFileSync(join(dir.path, '2025-12-29', 'a1b2.cast.0123456789ab.tmp'), 'partial');
        // A day "folder" that is a link is never followed.
        const elsewhere = tempDir('sluice-ret-else-');
        dirs.push(elsewhere);
        writeFileSync(join(elsewhere.path, 'b3.cast'), 'not ours to delete');
        symlinkSync(elsewhere.path, join(dir.path, '2025-12-28'));
        // Records are on day 0 (2026-01-01, sealed by a checkpoint) and day 10 (2026-01-11).
        const now = new Date(T0 + 10 * DAY + 3_600_000);
        const pruner = new RetentionPruner(t.store, t.ledger, 5 * DAY, { now: () => now, recordings: dir.path });
        const result = await pruner.prune();
        assert.ok(result!.deleted > 0, 'the day-0 records were pruned');
        assert.equal(pruner.lastError, undefined);
        // Older than the cutoff (2026-01-06T01:00) by a whole day: the three oldest folders.
        assert.deepEqual(pruner.lastRecordings, { folders: ['2025-12-31', '2026-01-01'], files: 4, kept: [join('2025-12-29', 'notes.txt')], errors: [] });
        assert.deepEqual(readdirSync(join(dir.path, '2025-12-29')), ['notes.txt']);
        assert.deepEqual(readdirSync(dir.path).sort(), ['2025-12-28', '2025-12-29', '2026-01-09', '2026-01-10', '2026-01-11', '2026-02-31', 'misc']);
        assert.deepEqual(readdirSync(elsewhere.path), ['b3.cast']);
        // A short retention age: the cutoff no longer holds recordings back, the records do.
        // The oldest record that may name one is from 2026-01-11, so 2026-01-10 stays (a
        // command that ran over midnight) and 2026-01-09 goes.
        const short = new RetentionPruner(t.store, t.ledger, 3_600_000, { now: () => now, recordings: dir.path });
        await short.prune();
        assert.equal(short.lastError, undefined);
        assert.deepEqual(short.lastRecordings?.folders, ['2026-01-09']);
        assert.deepEqual(readdirSync(dir.path).sort(), ['2025-12-28', '2025-12-29', '2026-01-10', '2026-01-11', '2026-02-31', 'misc']);
        const ok = await verify(t);
        assert.equal(ok.ok, true, ok.problem?.message);
      }));

    void it('reports recordings it cannot prune apart from the records it pruned', () =>
      run(async (t) => {
        const dir = tempDir('sluice-ret-rec-');
        dirs.push(dir);
        const notADirectory = join(dir.path, 'recordings');
        writeFileSync(notADirectory, 'a file where the recordings directory should be');
        const now = new Date(T0 + 10 * DAY + 3_600_000);
        const pruner = new RetentionPruner(t.store, t.ledger, 5 * DAY, { now: () => now, recordings: notADirectory });
        const result = await pruner.prune();
        assert.ok(result!.deleted > 0, 'the records were still pruned');
        assert.match(pruner.lastError ?? '', /^could not delete old shell recordings: ENOTDIR/);
      }));

    void it('spreads a large prune over several runs (maxRecords), each verifying', () =>
      run(async (t) => {
        const first = await pruneAudit(t.store, t.ledger, { before: new Date(T0 + DAY), trusted: [t.signer.publicKey], maxRecords: 25 });
        assert.ok(first.upto !== undefined && first.checkpointSeq! <= 25, JSON.stringify(first));
        assert.equal((await verify(t)).ok, true);
        const second = await prune(t);
        assert.ok(second.upto! > first.upto!, JSON.stringify(second));
        assert.equal(second.deleted, second.upto! - first.upto!);
        const ok = await verify(t);
        assert.equal(ok.ok, true, ok.problem?.message);
        assert.equal(ok.checkpoints!.prunedTo, second.upto);
      }));

    void it('finds an edited retained record, rehashed or not', () =>
      run(async (t) => {
        const { upto } = await prune(t);
        await t.writer.checkpoint();
        const target = upto! + 4;
        await t.raw.unlock();
        const row = (await allRows(t.store)).find((r) => r.seq === target)!;
        await t.raw.run('UPDATE audit SET body = ? WHERE seq = ?', [row.body.replace('"agent-7"', '"alice"'), target]);
        expectProblem(await verify(t), 'edited');
        await t.raw.run('UPDATE audit SET body = ? WHERE seq = ?', [row.body, target]);
        assert.equal((await verify(t)).ok, true);
        await rehashFrom(t, target, (body, r) => {
          if (r.seq === target) body.principal = 'agent-7x';
        });
        await t.raw.run('UPDATE audit SET principal = ? WHERE seq = ?', ['agent-7x', target]);
        expectProblem(await verify(t), 'checkpoint-root', /the records give/);
      }));

    void it('refuses a base moved further than a signed checkpoint, and a prune the ledger does not record', () =>
      run(async (t) => {
        const { upto } = await prune(t);
        const base = JSON.parse((await t.store.readAuditBase())!) as { seq: number; hash: string };
        const rows = await allRows(t.store);
        // More records deleted, the base moved over them: the checkpoint no longer matches it.
        await t.raw.unlock();
        const moved = { ...base, seq: upto! + 3, hash: rows.find((r) => r.seq === upto! + 3)!.hash };
        await t.raw.run("UPDATE meta SET value = ? WHERE name = 'audit_base'", [JSON.stringify(moved)]);
        expectProblem(await verify(t), 'checkpoint-invalid', /names a checkpoint of \d+ records for \d+ pruned records/);
        await t.raw.run("UPDATE meta SET value = ? WHERE name = 'audit_base'", [JSON.stringify(base)]);
        assert.equal((await verify(t)).ok, true);
        // The audit-pruned record rewritten (it is after the last checkpoint, so rehashing holds).
        const pruneSeq = rows.find((r) => r.kind === 'system' && r.body.includes('audit-pruned'))!.seq;
        await rehashFrom(t, pruneSeq, (body, r) => {
          if (r.seq === pruneSeq) (body.detail as Record<string, unknown>).upto = upto! - 1;
        });
        expectProblem(await verify(t), 'deleted', /no audit-pruned record in the ledger says so/);
      }));

    void it('finds the retained records cut off before the base checkpoint', () =>
      run(async (t) => {
        const { checkpointSeq } = await prune(t);
        await t.raw.unlock();
        await t.raw.run('DELETE FROM audit WHERE seq >= ?', [checkpointSeq]);
        expectProblem(await verify(t), 'truncated', /pruned to the checkpoint at record \d+, but it ends/);
      }));

    void it('deletes nothing when the records to prune do not verify', () =>
      run(async (t) => {
        const rows = await allRows(t.store);
        await t.raw.unlock();
        await t.raw.run('UPDATE audit SET body = ? WHERE seq = ?', [rows[9]!.body.replace('"SELECT', '"DELETE'), 10]);
        await assert.rejects(prune(t), (e: unknown) => e instanceof RetentionError && /nothing pruned: .*record 10 \(edited\)/.test(e.message));
        assert.equal((await allRows(t.store)).length, rows.length);
        assert.equal(await t.store.readAuditBase(), undefined);
      }));
  });
}

const stores = rawAuditStores('sluice-ret-store-');
after(async () => {
  for (const d of dirs) d.remove();
  await stores.cleanUp();
});

suite('sqlite', () => stores.sqlite());
suite('postgres', (name) => stores.postgres(`ret_${name}`));

void describe('audit retention in the runtime and the CLI', () => {
  const dir = tempDir('sluice-ret-cli-');
  dirs.push(dir);
  const cwd = dir.path;
  const sluice = (args: string[]) => {
    const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, SLUICE_LOG_LEVEL: 'silent' } });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  };

  void it('prunes with audit.retention from the runtime; verify and prune through the CLI', async () => {
    writeFileSync(join(cwd, 'sluice.yaml'), 'version: 1\nstore:\n  url: sqlite:data/sluice.db\naudit:\n  retention: 30d\n  checkpoint:\n    every: 10\n');
    // Records from 100 days ago, written as an earlier run would have, with the same key.
    {
      const store = await openStore(join(cwd, 'data', 'sluice.db'));
      const { signer } = loadOrCreateSigningKey(join(cwd, 'data', 'audit-signing.key'));
      const now = () => new Date(Date.now() - 100 * DAY);
      const ledger = new AuditLedger(store, { now });
      const writer = new CheckpointWriter(store, ledger, signer, { every: 10, intervalMs: 0, now });
      await writer.start();
      await appendSome(ledger, 33, 'old');
      await writer.close();
      await ledger.close();
      await store.close();
    }
    const runtime = await startRuntime(loadConfigFile(join(cwd, 'sluice.yaml')));
    let upto = 0;
    try {
      await appendSome(runtime.ledger, 15, 'new');
      const result = await runtime.retention!.prune();
      assert.ok(result?.upto !== undefined && result.deleted > 30, JSON.stringify(result));
      upto = result.upto;
      assert.equal(runtime.retention!.lastError, undefined);
    } finally {
      await runtime.close();
    }
    const ok = sluice(['audit', 'verify']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^ok: \d+ records, chain intact/);
    assert.match(ok.stdout, /retention: records 1-\d+ were pruned; verified from the signed checkpoint over them/);
    // The pruned key announcement is still listed, and retained records still have proofs.
    const keys = sluice(['audit', 'public-key', '--all']);
    assert.match(keys.stdout, /^# ed25519:[0-9a-f]{16} \(announced in records since pruned\)\n-----BEGIN PUBLIC KEY-----/);
    writeFileSync(join(cwd, 'pub.pem'), sluice(['audit', 'public-key']).stdout);
    const proof = sluice(['audit', 'prove', String(upto + 1)]);
    assert.equal(proof.code, 0, proof.stderr);
    writeFileSync(join(cwd, 'proof.json'), proof.stdout);
    const checked = sluice(['audit', 'verify-proof', 'proof.json', '--public-key', 'pub.pem']);
    assert.equal(checked.code, 0, checked.stdout + checked.stderr);
    // An export of the pruned ledger verifies offline with its base, and not without it.
    assert.equal(sluice(['audit', 'export', '--out', 'export.jsonl']).code, 0);
    const base = sluice(['audit', 'base', '--out', 'base.json']);
    assert.equal(base.code, 0, base.stderr);
    const offline = sluice(['audit', 'verify', '--file', 'export.jsonl', '--base', 'base.json', '--public-key', 'pub.pem']);
    assert.equal(offline.code, 0, offline.stdout + offline.stderr);
    assert.match(offline.stdout, /retention: records 1-\d+ were pruned/);
    const without = sluice(['audit', 'verify', '--file', 'export.jsonl', '--public-key', 'pub.pem']);
    assert.equal(without.code, 1);
    assert.match(without.stdout, /FAILED at record 1 \(deleted\): records 1 to \d+ are missing/);
    const forged = JSON.parse(readFileSync(join(cwd, 'base.json'), 'utf8')) as { frontier: (string | null)[] };
    const level = forged.frontier.findIndex((h) => h !== null);
    forged.frontier[level] = 'ab'.repeat(32);
    writeFileSync(join(cwd, 'forged.json'), JSON.stringify(forged));
    const bad = sluice(['audit', 'verify', '--file', 'export.jsonl', '--base', 'forged.json', '--public-key', 'pub.pem']);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /\(checkpoint-invalid\): the retention base has a Merkle frontier that does not give the checkpoint's root/);
    const nothing = sluice(['audit', 'prune']);
    assert.equal(nothing.code, 0, nothing.stdout + nothing.stderr);
    assert.match(nothing.stdout, /^nothing pruned: no signed checkpoint covers only records older than/);
    const noAge = sluice(['audit', 'prune', '--older-than', 'soon']);
    assert.equal(noAge.code, 2);
    assert.match(noAge.stderr, /--older-than: "soon" is not a duration/);
  });
});

void describe('shell recordings and retention', () => {
  void it('files a recording under the day it is written, not the day its action came in (a review can take days)', async () => {
    const dir = tempDir('sluice-ret-day-');
    dirs.push(dir);
    const action = { id: 'act-held-for-days', time: new Date('2020-01-01T12:00:00Z'), command: 'ls', session: 's1', principal: { name: 'bot', kind: 'agent', groups: [] }, connection: { name: 'sh', kind: 'shell', labels: {} } } as unknown as Action;
    const before = new Date().toISOString().slice(0, 10);
    const ref = (await new ShellRecorder(dir.path).record(action, { ok: true, stdout: 'a\n' })) as { path: string };
    const after = new Date().toISOString().slice(0, 10);
    assert.ok([before, after].includes(ref.path.split('/')[0]!), ref.path);
    assert.deepEqual(readdirSync(join(dir.path, ref.path.split('/')[0]!)), ['act-held-for-days.cast']);
  });
});

void describe('audit retention, refusals', () => {
  void it('needs signed checkpoints in the config', () => {
    assert.throws(() => loadConfigText('audit:\n  retention: 30d\n  checkpoint:\n    enabled: false\n', 'sluice.yaml', '/tmp'), /audit\.retention prunes only up to signed checkpoints/);
    assert.equal(loadConfigText('audit:\n  retention: 30d\n', 'sluice.yaml', '/tmp').config.audit.retention, 30 * DAY);
  });

  void it('on PostgreSQL, stores no base and deletes nothing when the role does not own the audit table', async () => {
    const db = await stores.database();
    const schema = 'ret_owner';
    const owner = await openStore(db.url, { schema });
    const role = `sluice_ret_${Date.now().toString(36)}`;
    await db.sql(`CREATE ROLE ${role} LOGIN`);
    await db.sql(`GRANT USAGE ON SCHEMA ${schema} TO ${role}; GRANT SELECT, INSERT ON ${schema}.audit TO ${role}; GRANT SELECT, INSERT, UPDATE ON ${schema}.meta TO ${role}; GRANT SELECT ON ${schema}.schema_migrations TO ${role}`);
    const url = new URL(db.url);
    url.username = role;
    const limited = await openStore(url.toString(), { schema, migrate: false });
    try {
      const keyDir = tempDir('sluice-ret-owner-');
      dirs.push(keyDir);
      const { signer } = loadOrCreateSigningKey(join(keyDir.path, 'audit-signing.key'));
      const clock = { now: T0 };
      const now = () => new Date(clock.now);
      const ledger = new AuditLedger(limited, { now });
      const writer = new CheckpointWriter(limited, ledger, signer, { every: 10, intervalMs: 0, now });
      await writer.start();
      await appendSome(ledger, 20, 'old');
      await writer.checkpoint();
      clock.now = T0 + 10 * DAY;
      await appendSome(ledger, 5, 'new');
      await writer.close();
      const before = (await limited.readAudit({ limit: 1000 })).length;
      await assert.rejects(pruneAudit(limited, ledger, { before: new Date(T0 + DAY) }), /pruneAudit: must be owner of table audit/);
      await ledger.close();
      assert.equal(await limited.readAuditBase(), undefined, 'no base without the deletion');
      // Only the audit-pruned record was added; the owner can prune afterwards.
      assert.equal((await limited.readAudit({ limit: 1000 })).length, before + 1);
      const ownerLedger = new AuditLedger(owner);
      const result = await pruneAudit(owner, ownerLedger, { before: new Date(T0 + DAY) });
      await ownerLedger.close();
      assert.ok(result.deleted > 20, JSON.stringify(result));
      assert.equal((await verifyAudit(owner, { checkpoints: { trusted: [signer.publicKey] } })).ok, true);
    } finally {
      await limited.close();
      await owner.close();
      await db.sql(`DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });
});
