// RFC 6962 (Certificate Transparency) Merkle tree over the audit chain.
//
//   leaf data  = the 32 raw bytes of a record's chain hash (the `hash` column, hex-decoded),
//                leaf i (0-based) is the record with seq i + 1
//   leaf hash  = SHA-256(0x00 || leaf data)
//   node hash  = SHA-256(0x01 || left || right)
//   root of n leaves: MTH(D[0:n]) = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of 2 < n;
//   the root of the empty tree is SHA-256 of nothing.
//
// The chain hash already covers the record's body and everything before it, so the leaf needs
// nothing else. `MerkleFrontier` keeps only the roots of the perfect subtrees on the right edge
// (O(log n) hashes), which is all an appender or a verifier walking in order needs.
import { hash as oneShotHash } from 'node:crypto';

// Scratch inputs, reused: the hash copies its input, and this runs for every record verified.
const leafInput = Buffer.alloc(33, 0);
const nodeInput = Buffer.alloc(65, 1);

export const EMPTY_ROOT: Buffer = oneShotHash('sha256', Buffer.alloc(0), 'buffer') as unknown as Buffer;

/**
 * A digest as a Buffer from the shared pool. The hash's own Buffer output costs a fresh
 * ArrayBuffer each time, about twice the hash of these short inputs; a latin1 string maps
 * bytes to chars one to one, so writing it back gives the same 32 bytes.
 */
function digest(input: Buffer): Buffer {
  const out = Buffer.allocUnsafe(32);
  out.write(oneShotHash('sha256', input, 'binary'), 0, 32, 'latin1');
  return out;
}

/** The leaf hash of a record, from its chain hash (64 hex digits). */
export function leafHash(recordHashHex: string): Buffer {
  if (recordHashHex.length !== 64 || leafInput.write(recordHashHex, 1, 'hex') !== 32) {
    throw new Error(`not a record hash: ${JSON.stringify(String(recordHashHex).slice(0, 80))}`);
  }
  return digest(leafInput);
}

export function nodeHash(left: Buffer, right: Buffer): Buffer {
  nodeInput.set(left, 1);
  nodeInput.set(right, 33);
  return digest(nodeInput);
}

/** The right edge of a tree grown leaf by leaf: `levels[h]` is the perfect subtree of 2^h leaves, if any. */
export class MerkleFrontier {
  size = 0;
  levels: (Buffer | undefined)[] = [];

  static from(size: number, levels: readonly (string | null)[]): MerkleFrontier {
    const f = new MerkleFrontier();
    f.size = size;
    f.levels = levels.map((h) => (h === null ? undefined : Buffer.from(h, 'hex')));
    for (let h = 0; h < Math.max(f.levels.length, 53); h++) {
      const bit = Math.floor(size / 2 ** h) % 2 === 1;
      if (bit !== (f.levels[h] !== undefined && f.levels[h]!.length === 32)) throw new Error('the frontier does not match its size');
    }
    return f;
  }

  clone(): MerkleFrontier {
    const f = new MerkleFrontier();
    f.size = this.size;
    f.levels = this.levels.slice();
    return f;
  }

  /** Adds the next leaf, given as its leaf hash. */
  push(leaf: Buffer): void {
    let h = leaf;
    let level = 0;
    let n = this.size;
    while (n % 2 === 1) {
      h = nodeHash(this.levels[level]!, h);
      this.levels[level] = undefined;
      level += 1;
      n = Math.floor(n / 2);
    }
    this.levels[level] = h;
    this.size += 1;
  }

  /** Adds the record with chain hash `recordHashHex` as the next leaf. */
  pushRecord(recordHashHex: string): void {
    this.push(leafHash(recordHashHex));
  }

  /** The tree's root (RFC 6962 MTH of all leaves so far). */
  root(): Buffer {
    let acc: Buffer | undefined;
    for (const h of this.levels) {
      if (h === undefined) continue;
      acc = acc === undefined ? h : nodeHash(h, acc);
    }
    return acc ?? EMPTY_ROOT;
  }

  /** For storing: hex per level, null for an empty level. */
  toJSON(): (string | null)[] {
    return this.levels.map((h) => (h === undefined ? null : h.toString('hex')));
  }
}

/** MTH over leaf hashes (for proofs; O(n)). */
export function rootOf(leaves: readonly Buffer[], from = 0, to = leaves.length): Buffer {
  const n = to - from;
  if (n === 0) return EMPTY_ROOT;
  if (n === 1) return leaves[from]!;
  const k = largestPowerOfTwoBelow(n);
  return nodeHash(rootOf(leaves, from, from + k), rootOf(leaves, from + k, to));
}

function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** RFC 6962 PATH(m, D[n]): the audit path of leaf `index` (0-based) in the tree of all `leaves`. */
export function inclusionProof(leaves: readonly Buffer[], index: number): Buffer[] {
  return inclusionProofWith(index, leaves.length, (from, to) => rootOf(leaves, from, to));
}

/**
 * PATH(m, D[size]) with the subtree hashes from `subtree(from, to)` (leaf ranges of the
 * RFC 6962 recursion): for a tree whose early leaves are known only by the roots of their
 * perfect subtrees (a pruned ledger's frontier).
 */
export function inclusionProofWith(index: number, size: number, subtree: (from: number, to: number) => Buffer): Buffer[] {
  if (!(index >= 0 && index < size)) throw new RangeError(`leaf ${index} is not in a tree of ${size}`);
  const path: Buffer[] = [];
  const walk = (m: number, from: number, to: number): void => {
    const n = to - from;
    if (n <= 1) return;
    const k = largestPowerOfTwoBelow(n);
    if (m < k) {
      walk(m, from, from + k);
      path.push(subtree(from + k, to));
    } else {
      walk(m - k, from + k, to);
      path.push(subtree(from, from + k));
    }
  };
  walk(index, 0, size);
  return path;
}

/**
 * The hash of leaves [from, to) of a tree whose first `frontier.size` leaves are known only by
 * the frontier's perfect subtrees, and whose later leaves are `later` (leaf frontier.size + i
 * is later[i]). Every range the RFC 6962 recursion asks for is either after the frontier, one
 * of its subtrees, or splits into those; anything else throws.
 */
export function subtreeAfterFrontier(frontier: MerkleFrontier, later: readonly Buffer[], from: number, to: number): Buffer {
  const p = frontier.size;
  if (from >= p) return rootOf(later, from - p, to - p);
  if (to <= p) {
    const n = to - from;
    const h = Math.log2(n);
    const block = 2 ** (h + 1);
    const hash = frontier.levels[h];
    if (!Number.isInteger(h) || !hash || Math.floor(p / block) * block !== from || from + n > p) {
      throw new RangeError(`leaves ${from}..${to - 1} are not a subtree of the frontier at ${p}`);
    }
    return hash;
  }
  const k = largestPowerOfTwoBelow(to - from);
  return nodeHash(subtreeAfterFrontier(frontier, later, from, from + k), subtreeAfterFrontier(frontier, later, from + k, to));
}

/**
 * RFC 9162 section 2.1.3.2: the root that `proof` yields for leaf `index` of a tree of
 * `size` leaves, or undefined when the proof has the wrong length for that position.
 */
export function rootFromInclusionProof(leaf: Buffer, index: number, size: number, proof: readonly Buffer[]): Buffer | undefined {
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size) && index >= 0 && index < size)) return undefined;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return undefined;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : undefined;
}
