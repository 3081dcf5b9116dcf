// Inclusion proofs: that one record is part of the tree a signed checkpoint covers. A proof is
// self-contained JSON (the record, the audit path, the signed checkpoint); checking it needs
// only the signer's public key.
import type { KeyObject } from 'node:crypto';
import type { AuditRow, Store } from '../store/store.js';
import { recordHash } from './chain.js';
import { parseSignedCheckpoint, type FoundCheckpoint } from './checkpoints.js';
import { MerkleFrontier, inclusionProofWith, leafHash, rootFromInclusionProof, subtreeAfterFrontier } from './merkle.js';
import { loadRetentionBase } from './retention-base.js';
import { keyIdOf, verifyCheckpointSignature } from './signing.js';

export const PROOF_FORMAT = 'sluice-audit-inclusion-proof/v1';

export interface InclusionProofDocument {
  format: typeof PROOF_FORMAT;
  /** The record as stored: its hash is recomputed from prevHash and body. */
  record: { seq: number; prevHash: string; hash: string; body: string };
  /** 0-based: seq - 1. */
  leafIndex: number;
  treeSize: number;
  /** RFC 6962 audit path, hex, from the leaf upwards. */
  proof: string[];
  checkpoint: FoundCheckpoint;
}

export class ProofError extends Error {}

/** The newest checkpoint in the store, read backwards from the head. */
export async function latestCheckpoint(store: Store): Promise<FoundCheckpoint | undefined> {
  let beforeSeq: number | undefined;
  for (;;) {
    const page = await store.readAudit({ descending: true, limit: 2000, ...(beforeSeq !== undefined ? { beforeSeq } : {}) });
    for (const row of page) {
      if (row.kind !== 'checkpoint') continue;
      const c = parseSignedCheckpoint((JSON.parse(row.body) as { detail?: unknown }).detail);
      if (typeof c !== 'string') return { ...c, seq: row.seq };
    }
    if (page.length < 2000) return undefined;
    beforeSeq = page[page.length - 1]!.seq;
  }
}

/** Builds the proof for record `seq` against the latest checkpoint (reads records 1..treeSize). */
export async function proveRecord(store: Store, seq: number): Promise<InclusionProofDocument> {
  const checkpoint = await latestCheckpoint(store);
  if (!checkpoint) throw new ProofError('the ledger has no checkpoint yet');
  if (!(Number.isSafeInteger(seq) && seq >= 1)) throw new ProofError('the record must be a seq >= 1');
  if (seq > checkpoint.treeSize) {
    throw new ProofError(`record ${seq} is not covered by a checkpoint yet (the latest covers records 1 to ${checkpoint.treeSize})`);
  }
  // After retention the early leaves are known by the base's frontier only (retention.ts).
  const retained = await loadRetentionBase(store, true);
  if ('problem' in retained) throw new ProofError(retained.problem.message);
  const base = retained.base;
  const first = base ? base.seq : 0;
  if (seq <= first) throw new ProofError(`record ${seq} was pruned (audit.retention): the ledger keeps records from ${first + 1} on`);
  const leaves: Buffer[] = [];
  let record: AuditRow | undefined;
  let after = first;
  while (after < checkpoint.treeSize) {
    const page = await store.readAudit({ afterSeq: after, beforeSeq: checkpoint.treeSize + 1, limit: 5000 });
    if (page.length === 0) break;
    for (const row of page) {
      if (row.seq !== first + leaves.length + 1) throw new ProofError(`record ${first + leaves.length + 1} is missing from the store`);
      leaves.push(leafHash(row.hash));
      if (row.seq === seq) record = row;
    }
    after = page[page.length - 1]!.seq;
  }
  if (first + leaves.length !== checkpoint.treeSize || !record) {
    throw new ProofError(`the store holds ${first + leaves.length} of the ${checkpoint.treeSize} records the checkpoint covers`);
  }
  const frontier = base?.frontier ?? new MerkleFrontier();
  const proof = inclusionProofWith(seq - 1, checkpoint.treeSize, (from, to) => subtreeAfterFrontier(frontier, leaves, from, to));
  return {
    format: PROOF_FORMAT,
    record: { seq: record.seq, prevHash: record.prevHash, hash: record.hash, body: record.body },
    leafIndex: seq - 1,
    treeSize: checkpoint.treeSize,
    proof: proof.map((h) => h.toString('hex')),
    checkpoint,
  };
}

/** Checks a proof document offline. Returns undefined when it holds, else the first reason it does not. */
export function checkInclusionProof(doc: unknown, trusted: readonly KeyObject[]): string | undefined {
  if (typeof doc !== 'object' || doc === null) return 'the proof is not a JSON object';
  const d = doc as Partial<InclusionProofDocument>;
  if (d.format !== PROOF_FORMAT) return `unknown proof format ${JSON.stringify(d.format)}`;
  const c = parseSignedCheckpoint(d.checkpoint);
  if (typeof c === 'string') return `checkpoint: ${c}`;
  const key = trusted.find((k) => keyIdOf(k) === c.keyId);
  if (!key) return `the checkpoint is signed by key ${c.keyId}, which is not among the trusted public keys`;
  if (!verifyCheckpointSignature(c, key)) return 'the checkpoint signature does not verify: the checkpoint was altered';
  const r = d.record;
  if (!r || typeof r.body !== 'string' || typeof r.prevHash !== 'string' || typeof r.hash !== 'string' || typeof r.seq !== 'number') {
    return 'record: seq, prevHash, hash and body are required';
  }
  if (recordHash(r.prevHash, r.body) !== r.hash) return `record ${r.seq}: its hash does not match its body and prevHash (the record was changed)`;
  let bodySeq: unknown;
  try {
    bodySeq = (JSON.parse(r.body) as { seq?: unknown }).seq;
  } catch {
    return `record ${r.seq}: the body is not JSON`;
  }
  if (bodySeq !== r.seq) return `record ${r.seq}: its body says seq ${String(bodySeq)}`;
  if (d.leafIndex !== r.seq - 1) return `leafIndex ${String(d.leafIndex)} is not seq - 1 (${r.seq - 1})`;
  if (d.treeSize !== c.treeSize) return `treeSize ${String(d.treeSize)} differs from the checkpoint's ${c.treeSize}`;
  if (!Array.isArray(d.proof) || !d.proof.every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h))) {
    return 'proof must be a list of 64-digit hex hashes';
  }
  const root = rootFromInclusionProof(
    leafHash(r.hash),
    d.leafIndex,
    c.treeSize,
    d.proof.map((h) => Buffer.from(h, 'hex')),
  );
  if (root === undefined) return `the audit path has the wrong length for leaf ${d.leafIndex} of ${c.treeSize}`;
  if (root.toString('hex') !== c.rootHash) return `record ${r.seq} is not in the tree the checkpoint signs: the path leads to another root`;
  return undefined;
}
