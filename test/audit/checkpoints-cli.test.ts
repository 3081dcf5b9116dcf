// `sluice audit verify|prove|verify-proof|public-key` with signed checkpoints, as an auditor runs
// them: against the store, against an export with the public key, with the anchor file.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startRuntime } from '../../src/app/runtime.js';
import { CheckpointSigner, publicKeyPem } from '../../src/audit/signing.js';
import { loadConfigFile } from '../../src/config/load.js';
import { tempDir } from '../helpers.js';
import { openRawSqlite } from '../store/raw-sqlite.js';

const BIN = resolve('bin/sluice.mjs');

function sluice(args: string[], cwd: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, SLUICE_LOG_LEVEL: 'silent' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Deletes the records after `seq` from an embedded store's file, as someone with write access to it can. */
function cutTail(file: string, seq: number): void {
  const db = openRawSqlite(file);
  try {
    db.exec('DROP TRIGGER IF EXISTS audit_no_delete');
    db.prepare('DELETE FROM audit WHERE seq > ?').run(seq);
  } finally {
    db.close();
  }
}

void describe('sluice audit with signed checkpoints', () => {
  const dir = tempDir('sluice-cp-cli-');
  const cwd = dir.path;
  after(() => dir.remove());

  before(async () => {
    writeFileSync(
      join(cwd, 'sluice.yaml'),
      'version: 1\nstore:\n  url: sqlite:data/sluice.db\naudit:\n  checkpoint:\n    every: 5\n    anchor:\n      file: anchor.jsonl\n',
    );
    const runtime = await startRuntime(loadConfigFile(join(cwd, 'sluice.yaml')));
    for (let i = 0; i < 23; i++) await runtime.ledger.append({ kind: 'system', detail: { i } });
    await runtime.close();
  });

  it('creates the signing key beside the store, private to its owner, and prints its public key', () => {
    assert.equal(statSync(join(cwd, 'data', 'audit-signing.key')).mode & 0o777, 0o600);
    const pub = sluice(['audit', 'public-key'], cwd);
    assert.equal(pub.code, 0, pub.stderr);
    assert.match(pub.stdout, /^-----BEGIN PUBLIC KEY-----/);
    writeFileSync(join(cwd, 'pub.pem'), pub.stdout);
    assert.equal(readFileSync(join(cwd, 'anchor.jsonl'), 'utf8').trim().split('\n').length >= 2, true);
  });

  it('verifies the store, with the anchor, and an export offline', () => {
    const ok = sluice(['audit', 'verify', '--public-key', 'pub.pem', '--anchor', 'anchor.jsonl'], cwd);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /checkpoints: \d+ signed and consistent, the last covers records 1-\d+/);
    assert.match(ok.stdout, /anchored checkpoint\(s\) match the ledger/);
    assert.equal(sluice(['audit', 'export', '--out', 'export.jsonl'], cwd).code, 0);
    const offline = sluice(['audit', 'verify', '--file', 'export.jsonl', '--public-key', 'pub.pem', '--anchor', 'anchor.jsonl'], cwd);
    assert.equal(offline.code, 0, offline.stdout + offline.stderr);
    // An export cut short passes as a chain but not against the anchor.
    const lines = readFileSync(join(cwd, 'export.jsonl'), 'utf8').split('\n');
    writeFileSync(join(cwd, 'cut.jsonl'), lines.slice(0, 12).join('\n') + '\n');
    const cut = sluice(['audit', 'verify', '--file', 'cut.jsonl', '--public-key', 'pub.pem', '--anchor', 'anchor.jsonl'], cwd);
    assert.equal(cut.code, 1);
    assert.match(cut.stdout, /FAILED at record 13 \(truncated\): .*anchored outside the store/);
  });

  it('fails naming the checkpoint when the given public key is not the signer', () => {
    writeFileSync(join(cwd, 'other.pem'), publicKeyPem(CheckpointSigner.generate().publicKey));
    // The configured anchor file is checked first, and its checkpoints are not signed by that key either.
    const anchored = sluice(['audit', 'verify', '--public-key', 'other.pem'], cwd);
    assert.equal(anchored.code, 1, anchored.stdout + anchored.stderr);
    assert.match(anchored.stderr, /anchor\.jsonl: .*not among the trusted public keys/);
    const bad = sluice(['audit', 'verify', '--public-key', 'other.pem', '--no-anchor'], cwd);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout, /FAILED at record \d+ \(untrusted-key\): checkpoint at record \d+ is signed by key ed25519:[0-9a-f]{16}, which is not among the trusted public keys/);
    const proof = sluice(['audit', 'prove', '3'], cwd);
    writeFileSync(join(cwd, 'proof3.json'), proof.stdout);
    const wrong = sluice(['audit', 'verify-proof', 'proof3.json', '--public-key', 'other.pem'], cwd);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stdout, /not among the trusted public keys/);
  });

  it('prints an inclusion proof that verify-proof checks offline, and refuses a forged one', () => {
    const proof = sluice(['audit', 'prove', '7'], cwd);
    assert.equal(proof.code, 0, proof.stderr);
    writeFileSync(join(cwd, 'proof.json'), proof.stdout);
    const ok = sluice(['audit', 'verify-proof', 'proof.json', '--public-key', 'pub.pem'], cwd);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^ok: record 7 is included/);
    assert.equal(sluice(['audit', 'verify', '--proof', 'proof.json', '--public-key', 'pub.pem'], cwd).code, 0);
    const doc = JSON.parse(proof.stdout) as { record: { body: string } };
    doc.record.body = doc.record.body.replace('"i":4', '"i":5');
    writeFileSync(join(cwd, 'forged.json'), JSON.stringify(doc));
    const bad = sluice(['audit', 'verify-proof', 'forged.json', '--public-key', 'pub.pem'], cwd);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, /FAILED: record 7: its hash does not match/);
    const late = sluice(['audit', 'prove', '1000'], cwd);
    assert.equal(late.code, 1);
    assert.match(late.stderr, /not covered by a checkpoint yet/);
  });

  // Last: it cuts the store's tail.
  it('checks the store against the configured anchor file without being told, so a deleted tail fails', () => {
    const before = sluice(['audit', 'verify'], cwd);
    assert.equal(before.code, 0, before.stdout + before.stderr);
    assert.match(before.stdout, new RegExp(`anchors: \\d+ anchored checkpoint\\(s\\) match the ledger \\(${join(cwd, 'anchor.jsonl').replace(/[.]/g, '\\.')}\\)`));
    cutTail(join(cwd, 'data', 'sluice.db'), 12);
    const cut = sluice(['audit', 'verify'], cwd);
    assert.equal(cut.code, 1, cut.stdout + cut.stderr);
    assert.match(cut.stdout, /FAILED at record 13 \(truncated\): .*anchored outside the store/);
    // Without the file it says what was not checked rather than pass silently on that point.
    renameSync(join(cwd, 'anchor.jsonl'), join(cwd, 'anchor.moved'));
    const unanchored = sluice(['audit', 'verify'], cwd);
    assert.equal(unanchored.code, 0, unanchored.stdout + unanchored.stderr);
    assert.match(unanchored.stdout, /anchors: not checked: the anchor file .*anchor\.jsonl does not exist/);
  });
});

void describe('sluice audit verify with the default anchor file beside an embedded store', () => {
  const dir = tempDir('sluice-cp-anchor-');
  const cwd = dir.path;
  after(() => dir.remove());

  it('anchors every checkpoint beside the store without setup, and a cut tail fails verify', async () => {
    writeFileSync(join(cwd, 'sluice.yaml'), 'version: 1\nstore:\n  url: sqlite:data/sluice.db\naudit:\n  checkpoint:\n    every: 5\n');
    const runtime = await startRuntime(loadConfigFile(join(cwd, 'sluice.yaml')));
    for (let i = 0; i < 23; i++) await runtime.ledger.append({ kind: 'system', detail: { i } });
    await runtime.close();
    const anchorFile = join(cwd, 'data', 'audit-anchor.jsonl');
    assert.equal(statSync(anchorFile).mode & 0o777, 0o600);
    assert.ok(readFileSync(anchorFile, 'utf8').trim().split('\n').length >= 4);
    const ok = sluice(['audit', 'verify'], cwd);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /anchors: \d+ anchored checkpoint\(s\) match the ledger \(.*audit-anchor\.jsonl\)/);
    cutTail(join(cwd, 'data', 'sluice.db'), 10);
    const cut = sluice(['audit', 'verify'], cwd);
    assert.equal(cut.code, 1, cut.stdout + cut.stderr);
    assert.match(cut.stdout, /FAILED at record 11 \(truncated\)/);
    // --no-anchor checks the chain and its checkpoints only, which the cut leaves consistent.
    const unanchored = sluice(['audit', 'verify', '--no-anchor'], cwd);
    assert.equal(unanchored.code, 0, unanchored.stdout + unanchored.stderr);
  });
});
