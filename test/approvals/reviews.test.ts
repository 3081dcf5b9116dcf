// Review requests in return-pending mode: an approval is used once, by the same command of the
// same principal, and only while it is fresh.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { StoreReviewHook, decideReview } from '../../src/approvals/reviews.js';
import { AuditLedger } from '../../src/audit/ledger.js';
import { unknownIntent } from '../../src/gate/gate.js';
import type { Action, Decision } from '../../src/gate/types.js';
import { SqliteStore } from '../../src/store/sqlite.js';

function action(command: string): Action {
  return {
    id: 'a1',
    time: new Date(),
    principal: { name: 'bot', kind: 'agent', groups: [] },
    session: 's1',
    connection: { name: 'db', kind: 'postgres', labels: {} },
    door: 'mcp',
    command,
    intent: unknownIntent('postgres', 'test'),
  };
}

const decision: Decision = { effect: 'review', rule: 'writes-reviewed', reason: 'writes need a human', matched: [] };

describe('review hook: return-pending', () => {
  it('an approval that is not used within the approval timeout expires instead of running', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.migrate();
    const ledger = new AuditLedger(store);
    const hook = new StoreReviewHook(store, ledger, { timeoutMs: 400, pollMs: 20 });
    try {
      const first = await hook.hold(action('DELETE FROM t WHERE id = 1'), decision, { returnPending: true });
      assert.equal(first.status, 'pending');
      await decideReview(store, ledger, first.reviewId, 'approved', 'human:ops');
      await sleep(500);
      const late = await hook.hold(action('DELETE FROM t WHERE id = 1'), decision, { returnPending: true, resume: first.reviewId });
      assert.equal(late.status, 'expired');
      assert.equal((await store.getReview(first.reviewId))?.status, 'expired');
      await ledger.flush();
      const expiredRecords = (await store.readAudit({ limit: 100 }))
        .map((row) => JSON.parse(row.body) as { kind: string; detail?: { reviewId?: string; status?: string } })
        .filter((b) => b.kind === 'review' && b.detail?.reviewId === first.reviewId && b.detail.status === 'expired');
      assert.equal(expiredRecords.length, 1, 'the approval running out is in the ledger');

      const second = await hook.hold(action('DELETE FROM t WHERE id = 2'), decision, { returnPending: true });
      await decideReview(store, ledger, second.reviewId, 'approved', 'human:ops');
      const other = await hook.hold(action('DELETE FROM t WHERE id = 3'), decision, { returnPending: true, resume: second.reviewId });
      assert.equal(other.status, 'rejected', 'another command cannot use the approval');
      const fresh = await hook.hold(action('DELETE FROM t WHERE id = 2'), decision, { returnPending: true, resume: second.reviewId });
      assert.equal(fresh.status, 'approved');
      const twice = await hook.hold(action('DELETE FROM t WHERE id = 2'), decision, { returnPending: true, resume: second.reviewId });
      assert.equal(twice.status, 'rejected', 'used once');
    } finally {
      await ledger.close();
      await store.close();
    }
  });

  it('an approved tool call runs only with the arguments that were approved', async () => {
    const store = new SqliteStore({ path: ':memory:' });
    await store.migrate();
    const ledger = new AuditLedger(store);
    const hook = new StoreReviewHook(store, ledger, { timeoutMs: 5000, pollMs: 20 });
    const call = (path: string): Action => ({ ...action('files__write_file'), args: { path, content: 'x' } });
    try {
      const held = await hook.hold(call('/tmp/notes.txt'), decision, { returnPending: true });
      assert.equal(held.status, 'pending');
      await decideReview(store, ledger, held.reviewId, 'approved', 'human:ops');
      const swapped = await hook.hold(call('/etc/passwd'), decision, { returnPending: true, resume: held.reviewId });
      assert.equal(swapped.status, 'rejected', 'other arguments cannot use the approval');
      const same = await hook.hold(call('/tmp/notes.txt'), decision, { returnPending: true, resume: held.reviewId });
      assert.equal(same.status, 'approved');
    } finally {
      await ledger.close();
      await store.close();
    }
  });
});
