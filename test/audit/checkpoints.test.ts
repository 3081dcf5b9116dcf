// Signed checkpoints against an attacker who can write the audit table and recompute every
// hash (but has no signing key): each change must be caught, by the checkpoints or by the anchor
// file, with a precise message. On both stores, then offline on an export and with proofs.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '../../src/audit/canonical.js';
import { recordHash } from '../../src/audit/chain.js';
import { parseAnchorFile } from '../../src/audit/checkpoints.js';
import { checkInclusionProof, proveRecord } from '../../src/audit/checkpoints-proof.js';
import { CheckpointWriter } from '../../src/audit/checkpoints-writer.js';
import { exportAuditJsonl } from '../../src/audit/export.js';
import { AuditLedger } from '../../src/audit/ledger.js';
import { MerkleFrontier } from '../../src/audit/merkle.js';
import { CheckpointSigner, loadOrCreateSigningKey, rawPublicKey } from '../../src/audit/signing.js';
import { verifyAudit, verifyAuditJsonl, type AuditProblemKind, type VerifyOptions, type VerifyResult } from '../../src/audit/verify.js';
import { GENESIS_HASH, type AuditRow, type Store } from '../../src/store/store.js';
import { tempDir } from '../helpers.js';
import { freshTargets, rawAuditStores, type RawAuditAccess, type RawAuditStore } from './raw-stores.js';

const N = 60;
const EVERY = 10;

interface Target {
  store: Store;
  raw: RawAuditAccess;
  signer: CheckpointSigner;
  anchor: string;
  dir: string;
  close(): Promise<void>;
}

type Opener = (name: string) => Promise<RawAuditStore>;

const dirs: { remove(): void }[] = [];

async function build(open: Opener, name: string): Promise<Target> {
  const { store, raw, close } = await open(name);
  const dir = tempDir('sluice-cp-');
  dirs.push(dir);
  const { signer } = loadOrCreateSigningKey(join(dir.path, 'audit-signing.key'));
  const anchor = join(dir.path, 'anchor.jsonl');
  const ledger = new AuditLedger(store);
  const writer = new CheckpointWriter(store, ledger, signer, { every: EVERY, intervalMs: 0, anchorFile: anchor });
  await writer.start();
  for (let b = 0; b < 6; b++) {
    await Promise.all(
      Array.from({ length: N / 6 }, (_, i) => {
        const n = b * (N / 6) + i + 1;
        return ledger.append({ kind: 'decision', actionId: `act_${n}`, principal: 'agent-7', connection: 'orders', effect: 'allow', command: `SELECT ${n}` });
      }),
    );
  }
  await writer.close();
  await ledger.close();
  const result = await verifyAudit(store, { checkpoints: { trusted: [signer.publicKey], anchors: parseAnchorFile(readFileSync(anchor, 'utf8')) } });
  assert.equal(result.ok, true, result.problem?.message);
  assert.ok(result.checkpoints!.count >= 2, `checkpoints: ${result.checkpoints!.count}`);
  assert.equal(result.checkpoints!.uncovered, 1, 'the last checkpoint covers everything before it');
  return { store, raw, signer, anchor, dir: dir.path, close };
}

async function allRows(store: Store): Promise<AuditRow[]> {
  return store.readAudit({ limit: 100_000 });
}

/**
 * What an attacker with write access does: changes the list of records, then renumbers and
 * rehashes the whole chain so that every hash and link is valid again. With `resign`, every
 * checkpoint is recomputed over the new records and signed with the attacker's key (and, with
 * `announce`, the key record names the attacker's key as well).
 */
async function rewrite(
  t: Target,
  mutate: (rows: AuditRow[]) => AuditRow[],
  forge: { resign?: CheckpointSigner; announce?: boolean } = {},
): Promise<AuditRow[]> {
  const rows = mutate(await allRows(t.store));
  let prev = GENESIS_HASH;
  const frontier = new MerkleFrontier();
  const out: AuditRow[] = [];
  for (const [i, row] of rows.entries()) {
    const body = JSON.parse(row.body) as Record<string, unknown> & { detail?: Record<string, unknown> };
    body.seq = i + 1;
    if (forge.resign && row.kind === 'checkpoint') {
      const signed = forge.resign.sign({ treeSize: frontier.size, rootHash: frontier.root().toString('hex'), time: String(body.detail!.time) });
      body.detail = { ...signed, frontier: frontier.toJSON() };
    }
    if (forge.resign && forge.announce && row.kind === 'key') {
      body.detail = { event: 'signing-key-created', signingKey: { keyId: forge.resign.keyId, publicKey: rawPublicKey(forge.resign.publicKey).toString('base64') } };
    }
    const text = canonicalJson(body);
    const hash = recordHash(prev, text);
    out.push({ ...row, seq: i + 1, prevHash: prev, hash, body: text });
    frontier.pushRecord(hash);
    prev = hash;
  }
  await t.raw.run('DELETE FROM audit');
  for (const r of out) {
    await t.raw.run(
      'INSERT INTO audit (seq, time, kind, action_id, session, principal, connection, effect, prev_hash, hash, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [r.seq, r.time, r.kind, r.actionId ?? null, r.session ?? null, r.principal ?? null, r.connection ?? null, r.effect ?? null, r.prevHash, r.hash, r.body],
    );
  }
  return out;
}

/** The seq of the first checkpoint (in `rows`) whose tree covers position `pos`. */
function firstCheckpointCovering(rows: AuditRow[], pos: number): number {
  for (const r of rows) {
    if (r.kind !== 'checkpoint') continue;
    const size = (JSON.parse(r.body) as { detail: { treeSize: number } }).detail.treeSize;
    if (size >= pos) return r.seq;
  }
  throw new Error(`no checkpoint covers ${pos}`);
}

/** Seq of the n-th data record (kind decision). */
function decisionSeq(rows: AuditRow[], n: number): number {
  return rows.filter((r) => r.kind === 'decision')[n - 1]!.seq;
}

function expectProblem(result: VerifyResult, seq: number, kind: AuditProblemKind, pattern?: RegExp): void {
  assert.equal(result.ok, false, 'verify must fail');
  assert.equal(result.problem?.kind, kind, result.problem?.message);
  assert.equal(result.problem?.seq, seq, result.problem?.message);
  if (pattern) assert.match(result.problem!.message, pattern);
}

function suite(label: string, open: Opener): void {
  void describe(`signed checkpoints on the ${label} store`, () => {
    const run = freshTargets('c', (name) => build(open, name));
    // On the embedded store also with worker threads checking the chain while this thread
    // checks the checkpoints: the result must be exactly the sequential walk's.
    const verify = async (t: Target, withAnchor = false) => {
      const options: VerifyOptions = {
        checkpoints: {
          trusted: [t.signer.publicKey],
          ...(withAnchor ? { anchors: parseAnchorFile(readFileSync(t.anchor, 'utf8')) } : {}),
        },
      };
      const sequential = await verifyAudit(t.store, { ...options, workers: 0, pageSize: 7 });
      if (t.store.kind === 'sqlite') {
        assert.deepStrictEqual(await verifyAudit(t.store, { ...options, workers: 3, pageSize: 5 }), sequential, 'with workers');
      }
      return sequential;
    };

    void it('an edited field, rehashed to the head, contradicts the next checkpoint', () =>
      run(async (t) => {
        const rows = await rewrite(t, (rows) => {
          const s = decisionSeq(rows, 25);
          rows[s - 1]!.body = rows[s - 1]!.body.replace('"SELECT 25"', '"DROP TABLE orders"');
          return rows;
        });
        const pos = decisionSeq(rows, 25);
        expectProblem(await verify(t), firstCheckpointCovering(rows, pos), 'checkpoint-root', /the records give/);
      }));

    void it('a deleted record (renumbered, rehashed) contradicts the next checkpoint', () =>
      run(async (t) => {
        let pos = 0;
        const rows = await rewrite(t, (rows) => {
          pos = decisionSeq(rows, 30);
          return rows.filter((r) => r.seq !== pos);
        });
        // The checkpoint right after the gap signs more records than now precede it; a later one
        // signs a root the remaining records no longer give.
        const result = await verify(t);
        assert.equal(result.problem?.seq, firstCheckpointCovering(rows, pos), result.problem?.message);
        if (result.problem?.kind === 'deleted') assert.match(result.problem.message, /records before it were removed/);
        else assert.equal(result.problem?.kind, 'checkpoint-root', result.problem?.message);
      }));

    void it('an inserted record (renumbered, rehashed) contradicts the next checkpoint', () =>
      run(async (t) => {
        let pos = 0;
        const rows = await rewrite(t, (rows) => {
          pos = decisionSeq(rows, 12);
          const copy = { ...rows[pos - 1]!, body: rows[pos - 1]!.body.replace('"SELECT 12"', '"SELECT 1200"') };
          return [...rows.slice(0, pos), copy, ...rows.slice(pos)];
        });
        expectProblem(await verify(t), firstCheckpointCovering(rows, pos + 1), 'checkpoint-root');
      }));

    void it('two records swapped (rehashed) contradict the next checkpoint', () =>
      run(async (t) => {
        let pos = 0;
        const rows = await rewrite(t, (rows) => {
          pos = decisionSeq(rows, 40);
          const next = decisionSeq(rows, 41);
          [rows[pos - 1], rows[next - 1]] = [rows[next - 1]!, rows[pos - 1]!];
          return rows;
        });
        expectProblem(await verify(t), firstCheckpointCovering(rows, pos), 'checkpoint-root');
      }));

    void it('a truncated tail passes the chain alone but is caught with the anchor file', () =>
      run(async (t) => {
        const cut = decisionSeq(await allRows(t.store), 35);
        await t.raw.run('DELETE FROM audit WHERE seq >= ?', [cut]);
        const alone = await verify(t);
        assert.equal(alone.ok, true, 'a shorter chain is still a valid chain');
        expectProblem(await verify(t, true), cut, 'truncated', /anchored outside the store/);
      }));

    void it('a replaced checkpoint (new root, rehashed chain) fails its signature', () =>
      run(async (t) => {
        let cp = 0;
        await rewrite(t, (rows) => {
          const r = rows.find((x) => x.kind === 'checkpoint' && x.seq > 20)!;
          cp = r.seq;
          const body = JSON.parse(r.body) as { detail: { rootHash: string } };
          body.detail.rootHash = 'ab'.repeat(32);
          r.body = canonicalJson(body);
          return rows;
        });
        expectProblem(await verify(t), cp, 'checkpoint-signature', /does not verify/);
      }));

    void it('checkpoints re-signed with another key are refused', () =>
      run(async (t) => {
        const mallory = CheckpointSigner.generate();
        const rows = await rewrite(
          t,
          (rows) => {
            const s = decisionSeq(rows, 5);
            rows[s - 1]!.body = rows[s - 1]!.body.replace('"SELECT 5"', '"SELECT 6"');
            return rows;
          },
          { resign: mallory },
        );
        const first = rows.find((r) => r.kind === 'checkpoint')!.seq;
        expectProblem(await verify(t), first, 'untrusted-key', /no earlier record announces/);
        // Announcing the forged key in the chain does not help against a trusted key...
        await rewrite(t, (r) => r, { resign: mallory, announce: true });
        expectProblem(await verify(t), first, 'untrusted-key', /not among the trusted public keys/);
        // ...but without one, the chain alone cannot tell: the trusted key is what anchors it.
        assert.equal((await verifyAudit(t.store)).ok, true);
      }));

    void it('an export verifies offline with the public key, and a tampered export does not', () =>
      run(async (t) => {
        let text = '';
        for await (const line of exportAuditJsonl(t.store)) text += line;
        const trusted = { trusted: [t.signer.publicKey] };
        const ok = await verifyAuditJsonl([text], { checkpoints: trusted });
        assert.equal(ok.ok, true, ok.problem?.message);
        assert.ok(ok.checkpoints!.count >= 2);
        const other = await verifyAuditJsonl([text], { checkpoints: { trusted: [CheckpointSigner.generate().publicKey] } });
        assert.equal(other.problem?.kind, 'untrusted-key');
        const lines = text.trimEnd().split('\n');
        const cut = lines.slice(0, 30).join('\n') + '\n';
        const anchors = parseAnchorFile(readFileSync(t.anchor, 'utf8'));
        const truncated = await verifyAuditJsonl([cut], { checkpoints: { ...trusted, anchors } });
        expectProblem(truncated, 31, 'truncated');
      }));

    void it('inclusion proofs for several records check offline, and altered ones do not', () =>
      run(async (t) => {
        const keys = [t.signer.publicKey];
        const head = (await t.store.auditHead()).seq;
        for (const seq of [1, 2, 7, 33, head - 1]) {
          const doc = await proveRecord(t.store, seq);
          assert.equal(checkInclusionProof(JSON.parse(JSON.stringify(doc)), keys), undefined, `seq ${seq}`);
        }
        await assert.rejects(proveRecord(t.store, head), /not covered by a checkpoint/);
        const doc = await proveRecord(t.store, decisionSeq(await allRows(t.store), 20));
        assert.match(checkInclusionProof(doc, [CheckpointSigner.generate().publicKey])!, /not among the trusted/);
        assert.match(checkInclusionProof({ ...doc, record: { ...doc.record, body: doc.record.body.replace('agent-7', 'alice') } }, keys)!, /was changed/);
        const swapped = [...doc.proof];
        swapped[0] = 'cd'.repeat(32);
        assert.match(checkInclusionProof({ ...doc, proof: swapped }, keys)!, /another root/);
        assert.match(checkInclusionProof({ ...doc, checkpoint: { ...doc.checkpoint, treeSize: doc.checkpoint.treeSize + 1 } }, keys)!, /signature/);
        const proofFile = join(t.dir, 'proof.json');
        writeFileSync(proofFile, JSON.stringify(doc));
        assert.equal(checkInclusionProof(JSON.parse(readFileSync(proofFile, 'utf8')), keys), undefined);
      }));

    void it('records appended by another process or node in between are read back and covered', () =>
      run(async (t) => {
        const ours = new AuditLedger(t.store);
        const theirs = new AuditLedger(t.store); // another process on the same store, without checkpoints
        const writer = new CheckpointWriter(t.store, ours, t.signer, { every: 7, intervalMs: 0 });
        await writer.start();
        await Promise.all([
          (async () => {
            for (let i = 0; i < 40; i++) await ours.append({ kind: 'system', detail: { ours: i } });
          })(),
          (async () => {
            for (let i = 0; i < 40; i++) await theirs.append({ kind: 'system', detail: { theirs: i } });
          })(),
        ]);
        await theirs.close();
        await writer.close();
        await ours.close();
        const result = await verify(t);
        assert.equal(result.ok, true, result.problem?.message);
        assert.equal(result.checkpoints!.uncovered, 1);
      }));

    void it('a restarted writer resumes from the last checkpoint; a new key is announced as a rotation', () =>
      run(async (t) => {
        const ledger = new AuditLedger(t.store);
        const writer = new CheckpointWriter(t.store, ledger, t.signer, { every: EVERY, intervalMs: 0 });
        await writer.start();
        for (let i = 0; i < 15; i++) await ledger.append({ kind: 'system', detail: { i } });
        await writer.close();
        const next = CheckpointSigner.generate();
        const writer2 = new CheckpointWriter(t.store, ledger, next, { every: EVERY, intervalMs: 0 });
        await writer2.start();
        for (let i = 0; i < 5; i++) await ledger.append({ kind: 'system', detail: { i } });
        await writer2.close();
        await ledger.close();
        const rows = await allRows(t.store);
        const rotation = rows.filter((r) => r.kind === 'key').map((r) => JSON.parse(r.body) as { detail: { event: string; signingKey: { previous?: string } } });
        assert.equal(rotation.length, 2);
        assert.equal(rotation[1]!.detail.event, 'signing-key-rotated');
        assert.equal(rotation[1]!.detail.signingKey.previous, t.signer.keyId);
        const both = await verifyAudit(t.store, { checkpoints: { trusted: [t.signer.publicKey, next.publicKey] } });
        assert.equal(both.ok, true, both.problem?.message);
        assert.equal(both.checkpoints!.last!.keyId, next.keyId);
        const oldOnly = await verifyAudit(t.store, { checkpoints: { trusted: [t.signer.publicKey] } });
        assert.equal(oldOnly.problem?.kind, 'untrusted-key');
      }));
  });
}

const stores = rawAuditStores('sluice-cp-store-');
after(async () => {
  for (const d of dirs) d.remove();
  await stores.cleanUp();
});

// The attacker lifts the append-only triggers before any test begins.
const unlocked = async (opened: RawAuditStore): Promise<RawAuditStore> => {
  await opened.raw.unlock();
  return opened;
};
suite('sqlite', async () => unlocked(await stores.sqlite()));
suite('postgres', async (name) => unlocked(await stores.postgres(`cp_${name}`)));
