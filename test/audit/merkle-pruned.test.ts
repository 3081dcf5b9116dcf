// Inclusion proofs over a pruned tree: leaves before the frontier are known only by the roots of
// its perfect subtrees, and every audit path must still come out exactly as over all leaves.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { MerkleFrontier, inclusionProof, inclusionProofWith, leafHash, rootOf, subtreeAfterFrontier } from '../../src/audit/merkle.js';

function leaves(n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => leafHash(createHash('sha256').update(String(i)).digest('hex')));
}

void describe('audit paths after the frontier', () => {
  void it('equal the paths over every leaf, for every pruned size, tree size and leaf', () => {
    const all = leaves(70);
    let checked = 0;
    for (let p = 0; p <= 40; p++) {
      const frontier = new MerkleFrontier();
      for (let i = 0; i < p; i++) frontier.push(all[i]!);
      for (let size = p + 1; size <= 70; size += p % 3 === 0 ? 1 : 7) {
        const later = all.slice(p, size);
        assert.deepEqual(subtreeAfterFrontier(frontier, later, 0, size), rootOf(all, 0, size), `root p=${p} size=${size}`);
        for (let m = p; m < size; m++) {
          const expected = inclusionProof(all.slice(0, size), m);
          const got = inclusionProofWith(m, size, (from, to) => subtreeAfterFrontier(frontier, later, from, to));
          assert.deepEqual(got, expected, `p=${p} size=${size} m=${m}`);
          checked += 1;
        }
      }
    }
    assert.ok(checked > 1000);
  });

  void it('refuses a range inside a pruned subtree', () => {
    const all = leaves(8);
    const frontier = new MerkleFrontier();
    for (const l of all) frontier.push(l);
    assert.throws(() => subtreeAfterFrontier(frontier, [], 2, 4), /not a subtree of the frontier at 8/);
  });
});
