// Two Sluice runtimes ("nodes") on one PostgreSQL store append concurrently with signed
// checkpoints on: the ledger is one chain, every record is there exactly once, each node's key
// is announced once, and `sluice audit verify` passes with the nodes' public keys, with their
// anchor files, and fails with one node's key only.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { startRuntime, type Runtime } from '../../src/app/runtime.js';
import { parseAnchorFile } from '../../src/audit/checkpoints.js';
import { CheckpointWriter } from '../../src/audit/checkpoints-writer.js';
import { AuditLedger } from '../../src/audit/ledger.js';
import { CheckpointSigner, publicKeyPem, readSigningPublicKey } from '../../src/audit/signing.js';
import { verifyAudit } from '../../src/audit/verify.js';
import { loadConfigText } from '../../src/config/load.js';
import { openStore } from '../../src/store/open.js';
import type { AuditRow, Store } from '../../src/store/store.js';
import { tempDir } from '../helpers.js';
import { createTestDatabase, type TestDatabase } from '../store/pg-helper.js';

const BIN = resolve('bin/sluice.mjs');
const PER_NODE = 3000;
const APPENDERS = 40;
const EVERY = 150;

function sluice(args: string[], cwd: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, SLUICE_LOG_LEVEL: 'silent' } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

function configText(url: string, node: string): string {
  return [
    'version: 1',
    'store:',
    `  url: ${url}`,
    'audit:',
    '  checkpoint:',
    `    every: ${EVERY}`,
    `    key: ${node}/audit-signing.key`,
    '    anchor:',
    `      file: ${node}/anchor.jsonl`,
    '  hmac_key: shared/audit-hmac.key',
    '',
  ].join('\n');
}

async function startNode(dir: string, url: string, node: string): Promise<Runtime> {
  mkdirSync(join(dir, node), { recursive: true });
  const text = configText(url, node);
  writeFileSync(join(dir, `${node}.yaml`), text);
  return startRuntime(loadConfigText(text, join(dir, `${node}.yaml`), dir));
}

/** `count` decision records from `node`, by `APPENDERS` concurrent callers (like door sessions). */
async function load(runtime: Runtime, node: string, count: number): Promise<void> {
  const per = count / APPENDERS;
  await Promise.all(
    Array.from({ length: APPENDERS }, async (_, w) => {
      for (let i = 0; i < per; i++) {
        await runtime.ledger.append({
          kind: 'decision',
          actionId: `${node}_${w}_${i}`,
          session: `${node}_ses_${w}`,
          principal: `agent-${w}`,
          connection: 'orders',
          door: 'postgres',
          command: `SELECT ${i}`,
          effect: 'allow',
          rule: 'read-orders',
        });
      }
    }),
  );
}

async function allRows(store: Store): Promise<AuditRow[]> {
  const out: AuditRow[] = [];
  let after = 0;
  for (;;) {
    const page = await store.readAudit({ afterSeq: after, limit: 5000 });
    out.push(...page);
    if (page.length < 5000) return out;
    after = page[page.length - 1]!.seq;
  }
}

void describe('several nodes on one PostgreSQL store', () => {
  const dir = tempDir('sluice-nodes-');
  const cwd = dir.path;
  let db: TestDatabase;

  before(async () => {
    db = await createTestDatabase();
    const a = await startNode(cwd, db.url, 'a');
    const b = await startNode(cwd, db.url, 'b');
    await Promise.all([load(a, 'a', PER_NODE), load(b, 'b', PER_NODE)]);
    await a.close();
    await b.close();
    // A restarted node finds its own key's announcement and does not announce it again.
    const again = await startNode(cwd, db.url, 'a');
    await load(again, 'a2', APPENDERS);
    await again.close();
    writeFileSync(join(cwd, 'a.pem'), publicKeyPem(readSigningPublicKey(join(cwd, 'a', 'audit-signing.key'))));
    writeFileSync(join(cwd, 'b.pem'), publicKeyPem(readSigningPublicKey(join(cwd, 'b', 'audit-signing.key'))));
    writeFileSync(
      join(cwd, 'anchors.jsonl'),
      readFileSync(join(cwd, 'a', 'anchor.jsonl'), 'utf8') + readFileSync(join(cwd, 'b', 'anchor.jsonl'), 'utf8'),
    );
  });

  after(async () => {
    await db?.drop();
    dir.remove();
  });

  void it('keeps one chain with every record exactly once, and announces each node key once', async () => {
    const store = await openStore(db.url);
    try {
      const rows = await allRows(store);
      rows.forEach((r, i) => assert.equal(r.seq, i + 1, 'seqs have no gaps'));
      const ids = rows.filter((r) => r.kind === 'decision').map((r) => r.actionId!);
      assert.equal(ids.length, 2 * PER_NODE + APPENDERS);
      const stored = new Set(ids);
      assert.equal(stored.size, ids.length, 'no record is stored twice');
      for (const node of ['a', 'b']) {
        for (let w = 0; w < APPENDERS; w++) {
          for (let i = 0; i < PER_NODE / APPENDERS; i++) assert.ok(stored.has(`${node}_${w}_${i}`), `${node}_${w}_${i} is missing`);
        }
      }
      const keys = rows
        .filter((r) => r.kind === 'key')
        .map((r) => (JSON.parse(r.body) as { detail: { event: string; node: string; keyFile: string; signingKey: { keyId: string; previous?: string } } }).detail);
      // a (announced once, though it started twice) and b: neither a rotation of the other.
      assert.equal(keys.length, 2, JSON.stringify(keys));
      assert.equal(new Set(keys.map((k) => k.signingKey.keyId)).size, 2);
      for (const k of keys) {
        assert.equal(k.event, 'signing-key-created');
        assert.equal(k.signingKey.previous, undefined);
        assert.match(k.keyFile, /audit-signing\.key$/);
      }
      const checkpoints = rows.filter((r) => r.kind === 'checkpoint');
      // About one per EVERY records across both nodes (a node skips when it reads another's).
      assert.ok(checkpoints.length >= (2 * PER_NODE) / EVERY / 4, `only ${checkpoints.length} checkpoints`);
    } finally {
      await store.close();
    }
  });

  void it('verifies with both nodes\' public keys and their anchors, offline through the CLI', () => {
    const ok = sluice(['--config', 'a.yaml', 'audit', 'verify', '--public-key', 'a.pem', '--public-key', 'b.pem', '--anchor', 'anchors.jsonl'], cwd);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^ok: \d+ records, chain intact/);
    assert.match(ok.stdout, /checkpoints: \d+ signed and consistent/);
    assert.match(ok.stdout, /anchors: \d+ anchored checkpoint\(s\) match the ledger/);
  });

  void it('names the other node\'s checkpoint when only one node\'s key is trusted', async () => {
    const r = sluice(['--config', 'a.yaml', 'audit', 'verify', '--public-key', 'a.pem'], cwd);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /\(untrusted-key\): checkpoint at record \d+ is signed by key ed25519:[0-9a-f]{16}, which is not among the trusted public keys/);
    // In the library, the same: and with every node's key trusted, the walk passes.
    const store = await openStore(db.url);
    try {
      const keys = ['a', 'b'].map((n) => readSigningPublicKey(join(cwd, n, 'audit-signing.key')));
      const result = await verifyAudit(store, { checkpoints: { trusted: keys, anchors: parseAnchorFile(readFileSync(join(cwd, 'anchors.jsonl'), 'utf8')) } });
      assert.equal(result.ok, true, result.problem?.message);
      assert.ok(result.checkpoints!.count > 0);
    } finally {
      await store.close();
    }
  });
});

void describe('several nodes sharing one signing key file', () => {
  void it('append concurrently, and plain `sluice audit verify` passes with the local key', async () => {
    const dir = tempDir('sluice-nodes-shared-');
    const db = await createTestDatabase();
    try {
      const text = (node: string) =>
        ['version: 1', 'store:', `  url: ${db.url}`, 'audit:', '  checkpoint:', `    every: ${EVERY}`, '    key: shared/audit-signing.key', `  hmac_key: shared/audit-hmac.key`, `# ${node}`, ''].join('\n');
      writeFileSync(join(dir.path, 'sluice.yaml'), text('a'));
      const started = await Promise.allSettled(['a', 'b'].map((n) => startRuntime(loadConfigText(text(n), join(dir.path, `${n}.yaml`), dir.path))));
      const nodes = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      try {
        for (const r of started) if (r.status === 'rejected') throw r.reason;
        await Promise.all(nodes.map((n, i) => load(n, `n${i}`, 1000)));
      } finally {
        for (const n of nodes) await n.close();
      }
      const ok = sluice(['audit', 'verify'], dir.path);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, /signatures checked with the local signing key/);
      const store = await openStore(db.url);
      try {
        const rows = await allRows(store);
        assert.equal(rows.filter((r) => r.kind === 'decision').length, 2000);
        // Two nodes starting at the same moment may both announce the key: the same key, no rotation.
        const keys = rows.filter((r) => r.kind === 'key').map((r) => (JSON.parse(r.body) as { detail: { event: string; signingKey: { keyId: string } } }).detail);
        assert.ok(keys.length >= 1 && keys.length <= 2, JSON.stringify(keys));
        assert.equal(new Set(keys.map((k) => k.signingKey.keyId)).size, 1);
        assert.ok(keys.every((k) => k.event === 'signing-key-created'));
      } finally {
        await store.close();
      }
    } finally {
      await db.drop();
      dir.remove();
    }
  });
});

void describe('signing keys of several nodes', () => {
  void it('a new key on one node is a rotation of that node\'s key only; a restart announces nothing', async () => {
    const dir = tempDir('sluice-nodes-keys-');
    const store = await openStore(join(dir.path, 'sluice.db'));
    try {
      const ledger = new AuditLedger(store);
      const run = async (signer: CheckpointSigner, node: string) => {
        const writer = new CheckpointWriter(store, ledger, signer, { every: 5, intervalMs: 0, node, keyFile: `/etc/sluice/${node}.key` });
        await writer.start();
        for (let i = 0; i < 7; i++) await ledger.append({ kind: 'system', detail: { node, i } });
        await writer.close();
      };
      const a1 = CheckpointSigner.generate();
      const b1 = CheckpointSigner.generate();
      const a2 = CheckpointSigner.generate();
      await run(a1, 'a');
      await run(b1, 'b');
      await run(a1, 'a'); // restart: already announced
      await run(b1, 'b');
      await run(a2, 'a'); // a's key replaced
      await run(b1, 'b');
      await ledger.close();
      const keys = (await store.readAudit({ limit: 1000 }))
        .filter((r) => r.kind === 'key')
        .map((r) => (JSON.parse(r.body) as { detail: { event: string; node: string; signingKey: { keyId: string; previous?: string } } }).detail);
      assert.deepEqual(
        keys.map((k) => [k.event, k.node, k.signingKey.keyId, k.signingKey.previous]),
        [
          ['signing-key-created', 'a', a1.keyId, undefined],
          ['signing-key-created', 'b', b1.keyId, undefined],
          ['signing-key-rotated', 'a', a2.keyId, a1.keyId],
        ],
      );
      const result = await verifyAudit(store, { checkpoints: { trusted: [a1.publicKey, b1.publicKey, a2.publicKey] } });
      assert.equal(result.ok, true, result.problem?.message);
    } finally {
      await store.close();
      dir.remove();
    }
  });
});
