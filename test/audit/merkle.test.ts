// The RFC 6962 tree against a deliberately naive implementation written from the RFC text.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { EMPTY_ROOT, MerkleFrontier, inclusionProof, leafHash, rootFromInclusionProof, rootOf } from '../../src/audit/merkle.js';

const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();

/** MTH(D[n]) exactly as RFC 6962 section 2.1 writes it, over raw leaf data. */
function naiveRoot(data: Buffer[]): Buffer {
  if (data.length === 0) return sha();
  if (data.length === 1) return sha(Buffer.from([0]), data[0]!);
  let k = 1;
  while (k << 1 < data.length) k <<= 1;
  return sha(Buffer.from([1]), naiveRoot(data.slice(0, k)), naiveRoot(data.slice(k)));
}

/** PATH(m, D[n]) from RFC 6962 section 2.1.1. */
function naivePath(m: number, data: Buffer[]): Buffer[] {
  if (data.length <= 1) return [];
  let k = 1;
  while (k << 1 < data.length) k <<= 1;
  if (m < k) return [...naivePath(m, data.slice(0, k)), naiveRoot(data.slice(k))];
  return [...naivePath(m - k, data.slice(k)), naiveRoot(data.slice(0, k))];
}

void describe('merkle tree (RFC 6962)', () => {
  const hashes = Array.from({ length: 70 }, () => randomBytes(32).toString('hex'));
  const data = hashes.map((h) => Buffer.from(h, 'hex'));

  void it('the frontier root equals the naive root for every size from 0 to 70', () => {
    const f = new MerkleFrontier();
    assert.deepEqual(f.root(), naiveRoot([]));
    assert.deepEqual(EMPTY_ROOT, sha());
    for (let n = 1; n <= hashes.length; n++) {
      f.pushRecord(hashes[n - 1]!);
      assert.deepEqual(f.root(), naiveRoot(data.slice(0, n)), `size ${n}`);
      // Stored and resumed, the frontier gives the same root.
      assert.deepEqual(MerkleFrontier.from(n, f.toJSON()).root(), f.root());
    }
  });

  void it('inclusion proofs match the naive PATH and verify, for several sizes and every leaf', () => {
    for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 33, 70]) {
      const leaves = hashes.slice(0, n).map(leafHash);
      const root = rootOf(leaves);
      assert.deepEqual(root, naiveRoot(data.slice(0, n)));
      for (let m = 0; m < n; m++) {
        const proof = inclusionProof(leaves, m);
        assert.deepEqual(proof, naivePath(m, data.slice(0, n)), `size ${n} leaf ${m}`);
        assert.deepEqual(rootFromInclusionProof(leaves[m]!, m, n, proof), root, `size ${n} leaf ${m}`);
        // Another leaf, another index or a shortened path does not lead to the root.
        if (n > 1) {
          const other = rootFromInclusionProof(leaves[(m + 1) % n]!, m, n, proof);
          assert.notDeepEqual(other, root);
          assert.notDeepEqual(rootFromInclusionProof(leaves[m]!, (m + 1) % n, n, proof), root);
          assert.equal(rootFromInclusionProof(leaves[m]!, m, n, proof.slice(1)), undefined);
        }
      }
    }
  });

  void it('refuses a frontier that does not fit its size', () => {
    const f = new MerkleFrontier();
    for (const h of hashes.slice(0, 5)) f.pushRecord(h);
    assert.throws(() => MerkleFrontier.from(6, f.toJSON()), /does not match/);
    assert.throws(() => leafHash('zz'), /not a record hash/);
  });
});
