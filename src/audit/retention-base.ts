// The retention base (retention.ts prunes): where a pruned chain starts. Kept in the store's
// meta table, outside the chain:
//   { v: 1, seq: P, hash: chain hash of record P, checkpointSeq: S, checkpoint: C's signed
//     statement, frontier: Merkle frontier at P, keys: signing keys announced in pruned records,
//     before: the cutoff, prunedAt, recordSeq: seq of the audit-pruned record }
// Verify trusts nothing in it that it cannot check: the frontier must give C's signed root and
// C's signature must verify (with the trusted keys when given), record P+1 must link to `hash`,
// the chain must still hold C at S unchanged, and the audit-pruned record naming P. The base's
// `hash` is bound by every later checkpoint, whose root grows from the frontier over records
// P+1.. (each of which hashes its predecessor).
import type { KeyObject } from 'node:crypto';
import type { ChainHead, Store } from '../store/store.js';
import { parseSignedCheckpoint, type CheckerBase, type SigningKeyAnnouncement } from './checkpoints.js';
import { MerkleFrontier } from './merkle.js';
import { keyIdOf, publicKeyFromRaw, verifyCheckpointSignature, type SignedCheckpoint } from './signing.js';
import type { AuditProblem } from './verify.js';

export const BASE_FORMAT = 1;

export interface RetentionBase {
  v: typeof BASE_FORMAT;
  /** Records 1..seq were pruned. */
  seq: number;
  /** Chain hash of record `seq`: record seq+1 links to it. */
  hash: string;
  /** Seq of the checkpoint record the base was taken from (kept). */
  checkpointSeq: number;
  checkpoint: SignedCheckpoint;
  /** Merkle frontier at `seq` (MerkleFrontier.toJSON). */
  frontier: (string | null)[];
  /** Signing keys announced in the pruned records. */
  keys: SigningKeyAnnouncement[];
  /** The cutoff: every pruned record is older. */
  before: string;
  prunedAt: string;
  /** Seq of the audit-pruned record. */
  recordSeq: number;
}

export type LoadedBase = { head?: ChainHead; base?: CheckerBase; raw?: RetentionBase } | { problem: AuditProblem };

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Reads and checks the store's retention base. `trust`: the keys a checkpoint must be signed
 * with, `true` for the keys the base carries, `false` to take only the head (chain-only walks).
 * No base: an empty object (the chain starts at seq 1).
 */
export async function loadRetentionBase(store: Store, trust: readonly KeyObject[] | boolean): Promise<LoadedBase> {
  const text = await store.readAuditBase();
  if (text === undefined) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    raw = undefined;
  }
  const checked = checkBase(raw, trust);
  if (typeof checked === 'string') {
    const seq = (raw as { seq?: unknown } | undefined)?.seq;
    return { problem: { seq: typeof seq === 'number' && seq >= 1 ? seq : 1, kind: 'checkpoint-invalid', message: `the retention base in the store ${checked}` } };
  }
  return checked;
}

/** Checks a parsed base; a message saying what is wrong, or the head and the checker's base. */
export function checkBase(raw: unknown, trust: readonly KeyObject[] | boolean): { head: ChainHead; base?: CheckerBase; raw: RetentionBase } | string {
  if (typeof raw !== 'object' || raw === null) return 'is not a JSON object';
  const b = raw as Partial<RetentionBase>;
  if (b.v !== BASE_FORMAT) return `has an unknown format ${JSON.stringify(b.v)}`;
  if (typeof b.seq !== 'number' || !Number.isSafeInteger(b.seq) || b.seq < 1) return 'has no valid seq';
  if (typeof b.hash !== 'string' || !HEX64.test(b.hash)) return 'has no valid hash';
  const head = { seq: b.seq, hash: b.hash };
  if (trust === false) return { head, raw: b as RetentionBase };
  const c = parseSignedCheckpoint(b.checkpoint);
  if (typeof c === 'string') return `has an invalid checkpoint: ${c}`;
  if (c.treeSize !== b.seq) return `names a checkpoint of ${c.treeSize} records for ${b.seq} pruned records`;
  if (typeof b.checkpointSeq !== 'number' || !Number.isSafeInteger(b.checkpointSeq) || b.checkpointSeq <= b.seq) {
    return `names checkpoint record ${String(b.checkpointSeq)}, which is not after the pruned records`;
  }
  let frontier: MerkleFrontier;
  try {
    if (!Array.isArray(b.frontier)) throw new Error('no frontier');
    frontier = MerkleFrontier.from(b.seq, b.frontier);
  } catch {
    return 'has no valid Merkle frontier';
  }
  if (frontier.root().toString('hex') !== c.rootHash) return `has a Merkle frontier that does not give the checkpoint's root (records 1 to ${b.seq})`;
  const keys = new Map<string, KeyObject>();
  for (const a of Array.isArray(b.keys) ? b.keys : []) {
    try {
      const key = publicKeyFromRaw(Buffer.from(String(a.publicKey), 'base64'));
      if (keyIdOf(key) === a.keyId) keys.set(a.keyId, key);
    } catch {
      // an unusable announcement: the checkpoint it should verify fails below
    }
  }
  const key = trust === true ? keys.get(c.keyId) : trust.find((k) => keyIdOf(k) === c.keyId);
  if (!key) return `names a checkpoint signed by key ${c.keyId}, which is ${trust === true ? 'not among its keys' : 'not among the trusted public keys'}`;
  if (!verifyCheckpointSignature(c, key)) return `names a checkpoint whose signature does not verify with key ${c.keyId}`;
  return { head, base: { seq: b.seq, frontier, checkpoint: { ...c, seq: b.checkpointSeq }, keys }, raw: b as RetentionBase };
}

/** Signing keys announced in pruned records, as the retention base keeps them (none without a base). */
export async function prunedKeyAnnouncements(store: Store): Promise<SigningKeyAnnouncement[]> {
  const text = await store.readAuditBase();
  if (text === undefined) return [];
  try {
    const keys = (JSON.parse(text) as { keys?: unknown }).keys;
    return Array.isArray(keys) ? keys.filter((k): k is SigningKeyAnnouncement => typeof k?.keyId === 'string' && typeof k?.publicKey === 'string') : [];
  } catch {
    return [];
  }
}
