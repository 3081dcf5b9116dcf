// The approval workflow against both real stores (embedded SQLite and PostgreSQL): votes are a
// compare-and-set, a vote that cannot be audited does not count, abandoned reviews are
// cancelled, grants match only what they should; and the pattern keys grants use.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { approvalsExtraDefaults } from '../../src/approvals/config.js';
import { grantCovers, patternOf } from '../../src/approvals/grants.js';
import { StoreReviewHook, decideReview, ReviewError, type AuditAppender } from '../../src/approvals/reviews.js';
import { AuditLedger } from '../../src/audit/ledger.js';
import { createAnalysers } from '../../src/analyse/index.js';
import type { Action, Decision } from '../../src/gate/types.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers.js';
import { createTestDatabase, type TestDatabase } from '../store/pg-helper.js';

const analysers = await createAnalysers();

function action(command: string, language: 'postgres' | 'shell' = 'postgres', session = 's1'): Action {
  return {
    id: `act_${Math.random().toString(36).slice(2)}`,
    time: new Date(),
    principal: { name: 'bot', kind: 'agent', groups: ['agents'], onBehalfOf: 'alice', credentialId: 'k1' },
    session,
    connection: { name: 'db', kind: language, labels: {} },
    door: 'postgres',
    command,
    intent: analysers.get(language)!.analyse(command),
  };
}

const decision: Decision = { effect: 'review', rule: 'writes', reason: 'writes need a human', matched: [] };
const settings = () => ({
  timeout: 30_000,
  approvers: ['admin'],
  rules: { writes: { approvers: ['dba'], quorum: 2, justification: false, grants: ['once', 'session', 'pattern'] as ('once' | 'session' | 'pattern')[], destructive: false } },
  ...approvalsExtraDefaults,
  lease: 400,
});
const bob = { name: 'bob', kind: 'human' as const, groups: ['dba'] };
const carol = { name: 'carol', kind: 'human' as const, groups: ['dba'] };

function suite(name: string, open: () => Promise<{ store: Store; other: () => Promise<Store>; cleanup(): Promise<void> }>): void {
  describe(`approval workflow on ${name}`, () => {
    let store: Store;
    let other: () => Promise<Store>;
    let cleanup: () => Promise<void>;
    let ledger: AuditLedger;
    let hook: StoreReviewHook;

    before(async () => {
      ({ store, other, cleanup } = await open());
      ledger = new AuditLedger(store);
      hook = new StoreReviewHook(store, ledger, { timeoutMs: 30_000, pollMs: 20, settings });
    });
    after(async () => {
      hook.close();
      await ledger.close();
      await cleanup();
    });

    it('a vote is a compare-and-set on the vote count: a stale vote is a conflict and changes nothing', async () => {
      const pending = await hook.hold(action('UPDATE t SET a = 1 WHERE id = 1'), decision, { returnPending: true });
      const id = pending.reviewId;
      const at = new Date().toISOString();
      assert.equal(await store.castVote({ reviewId: id, approver: 'bob', verdict: 'approved', at }, 1), 'conflict');
      assert.equal(await store.castVote({ reviewId: id, approver: 'bob', verdict: 'approved', at }, 0), 'cast');
      assert.equal(await store.castVote({ reviewId: id, approver: 'bob', verdict: 'approved', at }, 1), 'duplicate');
      const second = await other();
      try {
        // Two nodes vote at once, both having read one vote: exactly one counts.
        const results = await Promise.all([
          store.castVote({ reviewId: id, approver: 'carol', verdict: 'approved', at }, 1, { status: 'approved', decidedAt: at, decidedBy: 'bob, carol' }),
          second.castVote({ reviewId: id, approver: 'erin', verdict: 'approved', at }, 1, { status: 'approved', decidedAt: at, decidedBy: 'bob, erin' }),
        ]);
        assert.deepEqual([...results].sort(), ['cast', results.includes('conflict') ? 'conflict' : 'not_pending'].sort());
      } finally {
        await second.close();
      }
      assert.equal((await store.getReview(id))?.status, 'approved');
      assert.equal((await store.listVotes(id)).length, 2);
      assert.equal(await store.castVote({ reviewId: id, approver: 'dave', verdict: 'rejected', at }, 2), 'not_pending');
    });

    it('a vote that cannot be written to the audit ledger does not count (fail closed)', async () => {
      const pending = await hook.hold(action('UPDATE t SET a = 2 WHERE id = 2'), decision, { returnPending: true });
      const broken: AuditAppender = { append: () => Promise.reject(new Error('ledger down')) };
      await assert.rejects(decideReview(store, broken, pending.reviewId, 'approved', bob), (e: unknown) => e instanceof ReviewError && e.code === 'audit_unavailable');
      assert.equal((await store.getReview(pending.reviewId))?.status, 'pending');
      assert.equal((await store.listVotes(pending.reviewId)).length, 0);
      // With the ledger back, the same vote counts, and its record precedes the verdict.
      const first = await decideReview(store, ledger, pending.reviewId, 'approved', bob);
      assert.equal(first.status, 'pending');
      const decided = await decideReview(store, ledger, pending.reviewId, 'approved', carol, { grant: { scope: 'session', durationMs: 60_000 } });
      assert.equal(decided.status, 'approved');
      assert.equal(decided.grant, undefined, 'bob approved this command only, so the quorum gives no grant');
      await ledger.flush();
      const votes = (await store.readAudit({ limit: 1000 })).map((r) => JSON.parse(r.body)).filter((b) => b.detail?.reviewId === pending.reviewId && b.detail.event === 'vote');
      assert.deepEqual(votes.map((v) => [v.approver, v.detail.status]), [['bob', 'pending'], ['carol', 'approved']]);
    });

    it('the requester and the human an agent acts for never vote; only the rule\'s groups do', async () => {
      const pending = await hook.hold(action('UPDATE t SET a = 3 WHERE id = 3'), decision, { returnPending: true });
      for (const [who, code] of [
        [{ name: 'alice', kind: 'human' as const, groups: ['dba'] }, 'self_approval'],
        [{ name: 'bot', kind: 'agent' as const, groups: ['dba'] }, 'not_approver'],
        [{ name: 'root', kind: 'human' as const, groups: ['admin'] }, 'not_approver'],
      ] as const) {
        await assert.rejects(decideReview(store, ledger, pending.reviewId, 'approved', who), (e: unknown) => e instanceof ReviewError && e.code === code);
      }
      assert.equal((await store.listVotes(pending.reviewId)).length, 0);
    });

    it('grants: a session grant covers the session only, a pattern grant the shape only, never a riskier command; revoked grants stop', async () => {
      const held = action("UPDATE t SET a = 'x' WHERE id = 4");
      const pending = await hook.hold(held, decision, { returnPending: true });
      await decideReview(store, ledger, pending.reviewId, 'approved', bob, { grant: { scope: 'pattern', durationMs: 60_000 } });
      const decided = await decideReview(store, ledger, pending.reviewId, 'approved', carol, { grant: { scope: 'pattern', durationMs: 30_000 } });
      const grant = decided.grant!;
      assert.equal(grant.scope, 'pattern');
      assert.ok(Date.parse(grant.expiresAt) - Date.parse(grant.createdAt) <= 30_000, 'the shortest duration of the quorum');
      const other = await hook.hold(action("UPDATE t SET a = 'x' WHERE id = 99", 'postgres', 's2'), decision, { returnPending: true });
      assert.equal(other.status, 'approved');
      assert.equal(other.grantId, grant.id);
      const shapeChanged = await hook.hold(action("UPDATE t SET a = 'y' WHERE id = 99"), decision, { returnPending: true });
      assert.equal(shapeChanged.status, 'pending');
      assert.equal(grantCovers(grant, action('UPDATE t SET a = 1'), 'writes'), false, 'no WHERE: another shape and a riskier flag');
      assert.equal(grantCovers(grant, held, 'other-rule'), false);
      await store.revokeGrant(grant.id, new Date().toISOString(), 'bob');
      assert.equal((await hook.hold(action("UPDATE t SET a = 'x' WHERE id = 98"), decision, { returnPending: true })).status, 'pending');
    });

    it('a pending review whose holder stops renewing its heartbeat is cancelled, and the cancellation is audited', async () => {
      const node = new StoreReviewHook(store, ledger, { timeoutMs: 30_000, pollMs: 20, settings, node: 'node_a' });
      const abort = new AbortController();
      const waiting = node.hold(action('UPDATE t SET a = 5 WHERE id = 5'), decision, { signal: abort.signal });
      const review = await (async () => {
        for (;;) {
          const found = (await store.listReviews({ status: 'pending' })).find((r) => r.holder === 'node_a');
          if (found) return found;
          await sleep(10);
        }
      })();
      // While node_a beats, another node's sweep leaves its review alone.
      const sweeper = new StoreReviewHook(store, ledger, { timeoutMs: 30_000, settings, node: 'node_b' });
      sweeper.start();
      await sleep(900);
      assert.equal((await store.getReview(review.id))?.status, 'pending', 'a live holder keeps its review');
      // node_a dies without cleaning up: its timers stop, its caller never hears back.
      node.close();
      const cancelled = await (async () => {
        for (let i = 0; i < 200; i++) {
          const r = await store.getReview(review.id);
          if (r?.status !== 'pending') return r;
          await sleep(20);
        }
        return undefined;
      })();
      sweeper.close();
      abort.abort();
      await waiting.catch(() => undefined);
      assert.equal(cancelled?.status, 'cancelled');
      await ledger.flush();
      const records = (await store.readAudit({ limit: 1000 })).map((r) => JSON.parse(r.body)).filter((b) => b.detail?.reviewId === review.id && b.detail.status === 'cancelled');
      assert.ok(records.some((r) => r.detail.by === 'node_b'));
    });
  });
}

suite('SQLite', async () => {
  const dir = tempDir('sluice-approvals-store-');
  const url = `sqlite:${dir.path}/sluice.db`;
  const store = await openStore(url);
  return {
    store,
    other: () => openStore(url),
    async cleanup() {
      await store.close();
      dir.remove();
    },
  };
});

suite('PostgreSQL', async () => {
  const db: TestDatabase = await createTestDatabase();
  const store = await openStore(db.url);
  return {
    store,
    other: () => openStore(db.url),
    async cleanup() {
      await store.close();
      await db.drop();
    },
  };
});

describe('pattern keys', () => {
  it('SQL: the statement shape; shell: program and subcommand of plain words only; MCP: the tool', () => {
    assert.equal(patternOf(action('UPDATE t SET a = 1 WHERE id = 7'))?.key, patternOf(action('UPDATE t SET a = 1 WHERE id = 8'))?.key);
    assert.notEqual(patternOf(action('UPDATE t SET a = 1 WHERE id = 7'))?.key, patternOf(action('UPDATE t SET a = 2 WHERE id = 7'))?.key);
    assert.equal(patternOf(action('git push origin main', 'shell'))?.key, 'shell:git push');
    assert.equal(patternOf(action('git push --force origin dev', 'shell'))?.key, 'shell:git push');
    assert.equal(patternOf(action('git pull', 'shell'))?.key, 'shell:git pull');
    assert.equal(patternOf(action('git push $(cat remote)', 'shell')), undefined, 'expansions have no pattern');
    assert.equal(patternOf(action('sudo git push', 'shell')), undefined, 'a wrapper names another program');
    assert.equal(patternOf(action('git push; rm -rf /', 'shell')), undefined);
  });
});
