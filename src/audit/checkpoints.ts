// Signed checkpoints in the chain, and the checks verify runs on them.
//
// A checkpoint is a record of kind `checkpoint` whose detail is a SignedCheckpoint (tree size,
// RFC 6962 root over records 1..treeSize, time, key id, Ed25519 signature) plus the frontier
// the writer resumes from. The signing key is announced in the chain before its first
// checkpoint by a `key` record whose detail is `{ signingKey: { keyId, publicKey, previous? } }`
// (publicKey: base64 of the 32 raw bytes); a new key is a rotation and names the previous one.
//
// While verify walks the chain, CheckpointChecker grows the Merkle tree one leaf per record and,
// at each checkpoint, recomputes the root at its tree size and checks the signature.
//
// Several nodes on one PostgreSQL store each sign checkpoints with their own key (or a shared
// one), so checkpoints need not grow in order: a node that was a little behind may sign a
// smaller tree after another node's larger one, or two nodes the same size. Every checkpoint is
// checked against the records themselves, which makes them all consistent with each other; the
// order in which they were appended proves nothing and is not required.
//
// After retention (retention.ts) the walk starts from a base: the frontier of a signed
// checkpoint whose records were pruned; checkpoints over pruned records are checked by
// signature only, as their records are gone.
import type { KeyObject } from 'node:crypto';
import type { AuditRow } from '../store/store.js';
import { MerkleFrontier, leafHash } from './merkle.js';
import { keyIdOf, publicKeyFromRaw, verifyCheckpointSignature, type SignedCheckpoint } from './signing.js';

export interface SigningKeyAnnouncement {
  keyId: string;
  publicKey: string;
  previous?: string;
}

export type CheckpointProblemKind = 'deleted' | 'checkpoint-invalid' | 'checkpoint-signature' | 'checkpoint-root' | 'untrusted-key' | 'anchor-mismatch' | 'truncated';

export interface CheckpointProblem {
  seq: number;
  kind: CheckpointProblemKind;
  message: string;
}

/** A checkpoint as found in the chain (or an anchor file), with the seq of its record when known. */
export interface FoundCheckpoint extends SignedCheckpoint {
  seq?: number;
}

export interface CheckpointSummary {
  count: number;
  last?: FoundCheckpoint;
  /** Records after the last checkpoint (not yet covered by a signature). */
  uncovered: number;
  /** Anchored checkpoints that were checked against the chain. */
  anchored?: number;
  /** After retention: records 1..prunedTo were pruned and the walk started from the base. */
  prunedTo?: number;
  /** Checkpoints over pruned records only (signature checked, root not checkable). */
  prunedCheckpoints?: number;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** `detail.event` of the system record a prune writes before it deletes (retention.ts). */
export const PRUNE_EVENT = 'audit-pruned';

/** Reads a SignedCheckpoint out of a checkpoint record's detail (or an anchor line); a message when it is not one. */
/** One line of an anchor (file or stream target): the checkpoint record's seq and what it signed. */
export function formatAnchorLine(seq: number, signed: SignedCheckpoint): string {
  return JSON.stringify({ seq, ...signed });
}

export function parseSignedCheckpoint(v: unknown): SignedCheckpoint | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not an object';
  const o = v as Record<string, unknown>;
  if (typeof o.treeSize !== 'number' || !Number.isSafeInteger(o.treeSize) || o.treeSize < 1) return 'treeSize is not a whole number >= 1';
  if (typeof o.rootHash !== 'string' || !HEX64.test(o.rootHash)) return 'rootHash is not 64 hex digits';
  if (typeof o.time !== 'string' || Number.isNaN(Date.parse(o.time))) return 'time is not an ISO time';
  if (typeof o.keyId !== 'string' || o.keyId.length === 0) return 'keyId is missing';
  if (typeof o.signature !== 'string' || o.signature.length === 0) return 'signature is missing';
  return { treeSize: o.treeSize, rootHash: o.rootHash, time: o.time, keyId: o.keyId, signature: o.signature };
}

export function parseKeyAnnouncement(detail: unknown): SigningKeyAnnouncement | undefined {
  const sk = (detail as { signingKey?: unknown } | undefined)?.signingKey;
  if (typeof sk !== 'object' || sk === null) return undefined;
  const o = sk as Record<string, unknown>;
  if (typeof o.keyId !== 'string' || typeof o.publicKey !== 'string') return undefined;
  return { keyId: o.keyId, publicKey: o.publicKey, ...(typeof o.previous === 'string' ? { previous: o.previous } : {}) };
}

/** How far back (in records) a checkpoint's tree size may lie behind its own record. */
export const CHECKPOINT_WINDOW = 63 * 1024;
/** A copy of the frontier every so many leaves: a root a little in the past costs fewer than this many pushes. */
const SNAPSHOT_EVERY = 64;
const RING = 64 * 1024;

export interface CheckpointCheckerOptions {
  /** Keys a checkpoint must be signed with (by key id). Without: the keys the chain announces. */
  trusted?: readonly KeyObject[];
  /** Checkpoints kept outside the store: the chain must still contain what they cover. */
  anchors?: readonly FoundCheckpoint[];
}

/**
 * Where a pruned chain starts (retention.ts checks it before handing it over): records
 * 1..seq are gone, `frontier` gives the signed root over them, `keys` are signing keys
 * announced in the pruned records.
 */
export interface CheckerBase {
  seq: number;
  frontier: MerkleFrontier;
  checkpoint: FoundCheckpoint & { seq: number };
  keys: ReadonlyMap<string, KeyObject>;
}

export class CheckpointChecker {
  frontier = new MerkleFrontier();
  private readonly ring: Buffer[] = new Array<Buffer>(RING);
  /** Frontier copies at sizes that are multiples of SNAPSHOT_EVERY, in a ring by size. */
  private readonly snapshots: (MerkleFrontier | undefined)[] = new Array<MerkleFrontier | undefined>(RING / SNAPSHOT_EVERY);
  private readonly announced = new Map<string, KeyObject>();
  private readonly trusted: Map<string, KeyObject> | undefined;
  private readonly anchors: FoundCheckpoint[];
  private nextAnchor = 0;
  private last: FoundCheckpoint | undefined;
  private count = 0;
  /** The frontier the walk started from (a retention base), for roots between it and the first snapshot. */
  private origin: MerkleFrontier | undefined;
  private readonly base: CheckerBase | undefined;
  /** Checkpoints over pruned records: signature checked, root no longer checkable. */
  private pruned = 0;
  private baseProblem: CheckpointProblem | undefined;
  /** Whether the ledger holds the record of the prune that made the base. */
  private pruneRecorded = false;

  constructor(options: CheckpointCheckerOptions & { base?: CheckerBase } = {}) {
    this.trusted = options.trusted ? new Map(options.trusted.map((k) => [keyIdOf(k), k])) : undefined;
    this.anchors = [...(options.anchors ?? [])].sort((a, b) => a.treeSize - b.treeSize);
    const base = options.base;
    this.base = base;
    if (base) {
      this.frontier = base.frontier.clone();
      this.origin = base.frontier.clone();
      for (const [id, key] of base.keys) this.announced.set(id, key);
      this.last = base.checkpoint;
      // Anchors over pruned records cannot be compared with records any more, except the one
      // at the base itself, whose root the base carries.
      while (this.anchors[this.nextAnchor] && this.anchors[this.nextAnchor]!.treeSize <= base.seq) {
        const a = this.anchors[this.nextAnchor++]!;
        if (a.treeSize === base.seq && a.rootHash !== base.checkpoint.rootHash && !this.baseProblem) {
          this.baseProblem = {
            seq: base.seq + 1,
            kind: 'anchor-mismatch',
            message: `the anchored checkpoint of ${a.treeSize} records (signed ${a.time}) has root ${a.rootHash}, but the retention base the ledger starts from has ${base.checkpoint.rootHash}`,
          };
        }
      }
    }
  }

  /**
   * Checks a record that passed the chain checks, then adds it as a leaf. `body` is the parsed
   * body; only `key`, `checkpoint` and (after retention) `system` records are looked into.
   * `leaf`: the record's leaf hash when the caller already has it (verify's parallel walk).
   */
  check(row: Pick<AuditRow, 'seq' | 'kind' | 'hash'>, body: Record<string, unknown>, leaf?: Buffer): CheckpointProblem | undefined {
    if (this.baseProblem) return this.baseProblem;
    if (row.kind === 'checkpoint') {
      const problem = this.checkCheckpoint(row.seq, body.detail);
      if (problem) return problem;
    } else if (row.kind === 'key') {
      const problem = this.checkAnnouncement(row.seq, body.detail);
      if (problem) return problem;
    } else if (row.kind === 'system' && this.base && !this.pruneRecorded) {
      const d = body.detail as { event?: unknown; upto?: unknown } | undefined;
      if (d?.event === PRUNE_EVENT && d.upto === this.base.seq) this.pruneRecorded = true;
    }
    leaf ??= leafHash(row.hash);
    const i = this.frontier.size;
    this.ring[i % RING] = leaf;
    if (i % SNAPSHOT_EVERY === 0) this.snapshots[(i / SNAPSHOT_EVERY) % this.snapshots.length] = this.frontier.clone();
    this.frontier.push(leaf);
    const anchor = this.anchors[this.nextAnchor];
    if (anchor && anchor.treeSize === this.frontier.size) return this.checkAnchors(row.seq);
    return undefined;
  }

  private checkAnchors(seq: number): CheckpointProblem | undefined {
    const root = this.frontier.root().toString('hex');
    for (let a = this.anchors[this.nextAnchor]; a && a.treeSize === this.frontier.size; a = this.anchors[++this.nextAnchor]) {
      if (a.rootHash !== root) {
        return {
          seq,
          kind: 'anchor-mismatch',
          message: `the anchored checkpoint of ${a.treeSize} records (signed ${a.time}) has root ${a.rootHash}, but records 1..${a.treeSize} give ${root}: the chain up to ${a.treeSize} was rewritten`,
        };
      }
    }
    return undefined;
  }

  private checkAnnouncement(seq: number, detail: unknown): CheckpointProblem | undefined {
    const a = parseKeyAnnouncement(detail);
    if (!a) return undefined; // an API key record
    let key: KeyObject;
    try {
      key = publicKeyFromRaw(Buffer.from(a.publicKey, 'base64'));
    } catch {
      return { seq, kind: 'checkpoint-invalid', message: `record ${seq} announces signing key ${a.keyId} with an invalid public key` };
    }
    if (keyIdOf(key) !== a.keyId) {
      return { seq, kind: 'checkpoint-invalid', message: `record ${seq} announces signing key ${a.keyId}, but its public key has id ${keyIdOf(key)}` };
    }
    this.announced.set(a.keyId, key);
    return undefined;
  }

  private checkCheckpoint(seq: number, detail: unknown): CheckpointProblem | undefined {
    const c = parseSignedCheckpoint(detail);
    if (typeof c === 'string') return { seq, kind: 'checkpoint-invalid', message: `checkpoint at record ${seq}: ${c}` };
    const announced = this.announced.get(c.keyId);
    if (!announced) {
      return { seq, kind: 'untrusted-key', message: `checkpoint at record ${seq} is signed by key ${c.keyId}, which no earlier record announces` };
    }
    let key = announced;
    if (this.trusted) {
      const trusted = this.trusted.get(c.keyId);
      if (!trusted) {
        return { seq, kind: 'untrusted-key', message: `checkpoint at record ${seq} is signed by key ${c.keyId}, which is not among the trusted public keys` };
      }
      key = trusted;
    }
    if (!verifyCheckpointSignature(c, key)) {
      return { seq, kind: 'checkpoint-signature', message: `checkpoint at record ${seq}: the signature does not verify with key ${c.keyId} (the checkpoint was altered or signed by another key)` };
    }
    if (c.treeSize >= seq) {
      return {
        seq,
        kind: 'deleted',
        message: `checkpoint at record ${seq} signs ${c.treeSize} records, but only ${seq - 1} precede it: records before it were removed`,
      };
    }
    const base = this.base;
    if (base && seq === base.checkpoint.seq) {
      // The checkpoint the retention base was taken from: it must be the very one.
      if (c.signature !== base.checkpoint.signature || c.treeSize !== base.seq || c.rootHash !== base.checkpoint.rootHash) {
        return { seq, kind: 'checkpoint-invalid', message: `checkpoint at record ${seq} is not the checkpoint the retention base names (${base.seq} records, root ${base.checkpoint.rootHash})` };
      }
    }
    if (base && c.treeSize < base.seq) {
      this.pruned += 1;
      return undefined;
    }
    // Checkpoints of several nodes interleave: no order among them is required (see the top).
    const root = this.rootAt(c.treeSize);
    if (root === undefined) {
      return { seq, kind: 'checkpoint-invalid', message: `checkpoint at record ${seq} covers ${c.treeSize} records, too far behind its own position to check (more than ${CHECKPOINT_WINDOW})` };
    }
    if (root !== c.rootHash) {
      return {
        seq,
        kind: 'checkpoint-root',
        message: `checkpoint at record ${seq} has root ${c.rootHash} for ${c.treeSize} records, but the records give ${root}: a record up to ${c.treeSize} differs from what was signed`,
      };
    }
    if (!this.last || c.treeSize >= this.last.treeSize) this.last = { ...c, seq };
    this.count += 1;
    return undefined;
  }

  /** Root of the first `size` leaves, for a size at most CHECKPOINT_WINDOW behind the current one. */
  private rootAt(size: number): string | undefined {
    const now = this.frontier.size;
    if (size === now) return this.frontier.root().toString('hex');
    if (size > now || now - size > CHECKPOINT_WINDOW) return undefined;
    const at = Math.floor(size / SNAPSHOT_EVERY) * SNAPSHOT_EVERY;
    let base = this.snapshots[(at / SNAPSHOT_EVERY) % this.snapshots.length];
    if (!base || base.size !== at || now - base.size > RING) base = undefined;
    // Between a retention base and the first snapshot after it, grow from the base.
    if (!base && this.origin && size >= this.origin.size && now - this.origin.size <= RING) base = this.origin;
    if (!base) return undefined;
    const f = base.clone();
    for (let i = base.size; i < size; i++) f.push(this.ring[i % RING]!);
    return f.root().toString('hex');
  }

  /** After the walk: anchored checkpoints beyond the end mean records were cut off. */
  finish(nextSeq: number): CheckpointProblem | undefined {
    if (this.baseProblem) return this.baseProblem;
    const base = this.base;
    if (base && this.frontier.size < base.checkpoint.seq) {
      return {
        seq: nextSeq,
        kind: 'truncated',
        message: `the ledger was pruned to the checkpoint at record ${base.checkpoint.seq}, but it ends at record ${this.frontier.size}: records were removed from the end`,
      };
    }
    if (base && !this.pruneRecorded) {
      return {
        seq: base.seq,
        kind: 'deleted',
        message: `records 1 to ${base.seq} are missing: the store says they were pruned, but no ${PRUNE_EVENT} record in the ledger says so`,
      };
    }
    const a = this.anchors[this.nextAnchor];
    if (a) {
      return {
        seq: nextSeq,
        kind: 'truncated',
        message: `the chain ends at ${this.frontier.size} records, but a checkpoint anchored outside the store (signed ${a.time}) covers ${a.treeSize}: records were removed from the end`,
      };
    }
    return undefined;
  }

  summary(): CheckpointSummary {
    return {
      count: this.count,
      ...(this.last ? { last: this.last } : {}),
      uncovered: this.frontier.size - (this.last?.treeSize ?? 0),
      ...(this.anchors.length > 0 ? { anchored: this.nextAnchor } : {}),
      ...(this.base ? { prunedTo: this.base.seq, prunedCheckpoints: this.pruned } : {}),
    };
  }

  /** Anchors whose signature does not verify with a trusted (or announced) key are refused up front. */
  static checkAnchorSignatures(anchors: readonly FoundCheckpoint[], trusted: readonly KeyObject[]): string | undefined {
    const byId = new Map(trusted.map((k) => [keyIdOf(k), k]));
    for (const [i, a] of anchors.entries()) {
      const key = byId.get(a.keyId);
      if (!key) return `anchor ${i + 1} (${a.treeSize} records) is signed by key ${a.keyId}, which is not among the trusted public keys`;
      if (!verifyCheckpointSignature(a, key)) return `anchor ${i + 1} (${a.treeSize} records): the signature does not verify`;
    }
    return undefined;
  }
}

/** Parses an anchor file (JSON lines of signed checkpoints). */
export function parseAnchorFile(text: string): FoundCheckpoint[] {
  const out: FoundCheckpoint[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (line.trim() === '') continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      throw new Error(`anchor line ${i + 1} is not JSON`);
    }
    const c = parseSignedCheckpoint(v);
    if (typeof c === 'string') throw new Error(`anchor line ${i + 1}: ${c}`);
    const seq = (v as { seq?: unknown }).seq;
    out.push({ ...c, ...(typeof seq === 'number' ? { seq } : {}) });
  }
  return out;
}
