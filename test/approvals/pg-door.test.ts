// The approval workflow end to end through the PostgreSQL door: an agent's writes over
// node-postgres are held, and humans decide them through the REST API (quorum, justification,
// self-approval, grants for a session and for a statement shape, destructive classes, expiry,
// revocation, concurrent votes, a signed webhook that leads to the approval).
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { decideReview } from '../../src/approvals/reviews.js';
import { directSql, tempDir, uniqueName } from '../helpers.js';
import { eventually, query, run, startApprovalSluice, type ApprovalSluice } from './helpers.js';

const table = uniqueName('approvals_pg');

describe('approvals through the PostgreSQL door', () => {
  const dir = tempDir('sluice-approvals-pg-');
  let s: ApprovalSluice;
  let keys: Record<string, string>;
  let webhook: { server: Server; url: string; verified: Record<string, any>[]; bad: number };
  const secret = 'webhook-secret-for-tests';

  before(async () => {
    await directSql(`CREATE TABLE ${table} (id int PRIMARY KEY, note text)`);
    webhook = await signedReceiver(secret);
    process.env.APPROVALS_TEST_WEBHOOK_SECRET = secret;
    s = await startApprovalSluice({
      dir: dir.path,
      connections: {
        two: { kind: 'postgres', host: '127.0.0.1', port: 5432, database: 'test', user: 'root' },
        quick: { kind: 'postgres', host: '127.0.0.1', port: 5432, database: 'test', user: 'root' },
      },
      rules: [
        { name: 'reads', effect: 'allow', when: 'intent.class == "read"' },
        { name: 'writes', effect: 'review', when: 'intent.class == "write"', connections: ['test'] },
        { name: 'two-person', effect: 'review', when: 'intent.class == "write"', connections: ['two'] },
        { name: 'quick', effect: 'review', when: 'intent.class == "write"', connections: ['quick'] },
        { name: 'schema-changes', effect: 'review', when: 'intent.class == "schema"' },
      ],
      approvals: {
        approvers: ['admin'],
        notify: [{ url: webhook.url, secret: { env: 'APPROVALS_TEST_WEBHOOK_SECRET' } }],
        rules: {
          writes: { approvers: ['dba'] },
          'two-person': { approvers: ['dba'], quorum: 2, justification: true },
          quick: { approvers: ['dba'], timeout: '1s' },
          'schema-changes': { approvers: ['dba'] },
        },
      },
    });
    keys = {};
    for (const name of ['bot', 'alice', 'bob', 'carol', 'erin', 'dave'] as const) keys[name] = await s.key(name);
  });

  after(async () => {
    await s?.stop();
    await new Promise<void>((resolve) => webhook.server.close(() => resolve()));
    await directSql(`DROP TABLE IF EXISTS ${table}`);
    dir.remove();
  });

  it('approve: the agent and the human it acts for cannot approve; an approver in the rule\'s group can, and the statement runs once', async () => {
    const sql = `INSERT INTO ${table} VALUES (1, 'one')`;
    const held = query(s.pgClient('bot', keys.bot!), sql);
    const review = await s.pending(sql);
    assert.deepEqual(review.requirements?.approvers, ['dba']);
    const own = await s.vote(review.id, 'approve', keys.bot!);
    assert.equal(own.status, 403);
    const forAlice = await s.vote(review.id, 'approve', keys.alice!);
    assert.equal(forAlice.status, 403);
    assert.equal(forAlice.body.error.code, 'self_approval');
    const analyst = await s.vote(review.id, 'approve', keys.dave!);
    assert.equal(analyst.status, 403, 'dave is human but not in the rule\'s approver group');
    assert.equal(analyst.body.error.code, 'not_approver');
    const ok = await s.vote(review.id, 'approve', keys.bob!);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.status, 'approved');
    const result = await held;
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal((await directSql(`SELECT count(*)::int AS n FROM ${table} WHERE id = 1`)).rows[0]!.n, 1);
    const records = (await s.audit()).filter((r) => r.actionId === review.actionId);
    const vote = records.findIndex((r) => r.kind === 'review' && r.detail?.event === 'vote');
    const outcome = records.findIndex((r) => r.kind === 'outcome');
    assert.ok(vote >= 0 && outcome > vote, 'the vote is in the ledger before the outcome');
    assert.equal(records[vote]!.approver, 'bob');
    assert.equal(records[outcome]!.approver, 'bob');
  });

  it('reject: the statement does not run and the caller is told who rejected it and why', async () => {
    const sql = `INSERT INTO ${table} VALUES (2, 'two')`;
    const held = query(s.pgClient('bot', keys.bot!), sql);
    const review = await s.pending(sql);
    assert.equal((await s.vote(review.id, 'reject', keys.carol!, { note: 'not today' })).status, 200);
    const result = await held;
    assert.equal(result.ok, false);
    assert.match((result as { message: string }).message, /rejected by carol: not today/);
    assert.equal((await directSql(`SELECT count(*)::int AS n FROM ${table} WHERE id = 2`)).rows[0]!.n, 0);
  });

  it('expire: a request nobody decides within its rule\'s timeout is denied', async () => {
    const sql = `INSERT INTO ${table} VALUES (3, 'three')`;
    const result = await query(s.pgClient('bot', keys.bot!, 'quick'), sql);
    assert.equal(result.ok, false);
    assert.match((result as { message: string }).message, /expired/);
    const review = (await s.sluice.runtime.store.listReviews({ status: 'expired' })).find((r) => (r.action as { command?: string }).command === sql);
    assert.ok(review, 'the review is stored as expired');
    assert.ok(Date.parse(review.expiresAt) - Date.parse(review.createdAt) <= 1500, 'the rule\'s 1s timeout applies, not approvals.timeout');
  });

  it('quorum of two with a justification: one approval waits, the same approver cannot vote twice, the second distinct approver releases it', async () => {
    const sql = `INSERT INTO ${table} VALUES (4, 'four')`;
    const held = query(s.pgClient('bot', keys.bot!, 'two'), sql);
    const review = await s.pending(sql);
    const bare = await s.vote(review.id, 'approve', keys.bob!);
    assert.equal(bare.status, 400);
    assert.equal(bare.body.error.code, 'justification_required');
    const first = await s.vote(review.id, 'approve', keys.bob!, { note: 'checked the id' });
    assert.equal(first.status, 200);
    assert.equal(first.body.status, 'pending');
    assert.equal(first.body.approvals, 1);
    assert.equal(first.body.quorum, 2);
    const again = await s.vote(review.id, 'approve', keys.bob!, { note: 'really' });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'already_voted');
    assert.equal((await s.sluice.runtime.store.getReview(review.id))?.status, 'pending');
    const second = await s.vote(review.id, 'approve', keys.carol!, { note: 'agreed' });
    assert.equal(second.status, 200);
    assert.equal(second.body.status, 'approved');
    assert.equal(second.body.decided_by, 'bob, carol');
    const result = await held;
    assert.equal(result.ok, true, JSON.stringify(result));
    const shown = await s.get(`/v1/reviews/${review.id}`, keys.erin!);
    assert.deepEqual(shown.body.votes.map((v: { approver: string }) => v.approver).sort(), ['bob', 'carol']);
  });

  it('concurrent votes: three approvers at once on a quorum of two reach the quorum exactly once, and the statement runs once', async () => {
    const sql = `INSERT INTO ${table} VALUES (5, 'five')`;
    const held = query(s.pgClient('bot', keys.bot!, 'two'), sql);
    const review = await s.pending(sql);
    const votes = await Promise.all(['bob', 'carol', 'erin'].map((n) => s.vote(review.id, 'approve', keys[n]!, { note: `ok from ${n}` })));
    const settled = votes.filter((v) => v.status === 200 && v.body.status === 'approved');
    assert.equal(settled.length, 1, JSON.stringify(votes.map((v) => v.body)));
    const counted = votes.filter((v) => v.status === 200);
    assert.equal(counted.length, 2, 'two votes count; the third finds the review decided');
    assert.equal(votes.filter((v) => v.status === 409).length, 1);
    assert.equal((await held).ok, true);
    assert.equal((await s.sluice.runtime.store.listVotes(review.id)).length, 2);
    assert.equal((await directSql(`SELECT count(*)::int AS n FROM ${table} WHERE id = 5`)).rows[0]!.n, 1);
  });

  it('grant for the session: later writes of the same session pass without asking, audited with the grant id; another session is asked again', async () => {
    const client = new pg.Client(s.pgClient('bot', keys.bot!));
    await client.connect();
    try {
      const sql = `INSERT INTO ${table} VALUES (10, 'ten')`;
      const held = run(client, sql);
      const review = await s.pending(sql);
      const ok = await s.vote(review.id, 'approve', keys.bob!, { grant: { scope: 'session', minutes: 5 } });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.grant.scope, 'session');
      const grantId = ok.body.grant.id as string;
      assert.equal((await held).ok, true);
      const next = await run(client, `UPDATE ${table} SET note = 'eleven' WHERE id = 10`);
      assert.equal(next.ok, true, JSON.stringify(next));
      const used = (await s.audit()).filter((r) => r.kind === 'review' && r.detail?.event === 'grant-used' && r.detail.grantId === grantId);
      assert.equal(used.length, 1);
      // The door writes an outcome with the session's next decision, or a few milliseconds later.
      const outcome = await eventually('the outcome', async () => (await s.audit()).find((r) => r.kind === 'outcome' && r.actionId === used[0]!.actionId));
      assert.equal(outcome.detail?.reviewId, review.id, 'the outcome links the review that made the grant');
      assert.equal((await s.sluice.runtime.store.getGrant(grantId))?.uses, 1);
      const listed = await s.get('/v1/grants', keys.erin!);
      assert.ok(listed.body.grants.some((g: { id: string }) => g.id === grantId));

      const elsewhere = `INSERT INTO ${table} VALUES (12, 'twelve')`;
      const other = query(s.pgClient('bot', keys.bot!), elsewhere);
      const otherReview = await s.pending(elsewhere);
      await s.vote(otherReview.id, 'reject', keys.bob!);
      assert.equal((await other).ok, false, 'another session needs its own approval');
    } finally {
      await client.end();
    }
  });

  it('grant for a pattern: the same statement shape with other literals passes in any session; another shape is held', async () => {
    await directSql(`INSERT INTO ${table} VALUES (20, 'a'), (21, 'b'), (22, 'c')`);
    const first = `UPDATE ${table} SET note = 'seen' WHERE id = 20`;
    const held = query(s.pgClient('bot', keys.bot!), first);
    const review = await s.pending(first);
    const ok = await s.vote(review.id, 'approve', keys.carol!, { grant: { scope: 'pattern', minutes: 10 } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.match(ok.body.grant.pattern, /WHERE id = /);
    assert.equal((await held).ok, true);
    const same = await query(s.pgClient('bot', keys.bot!), `UPDATE ${table} SET note = 'seen' WHERE id = 21`);
    assert.equal(same.ok, true, JSON.stringify(same));
    const otherShape = `UPDATE ${table} SET note = 'changed' WHERE id = 22`;
    const pending = query(s.pgClient('bot', keys.bot!), otherShape);
    const otherReview = await s.pending(otherShape);
    await s.vote(otherReview.id, 'reject', keys.carol!);
    assert.equal((await pending).ok, false);
    assert.deepEqual((await directSql(`SELECT id, note FROM ${table} WHERE id IN (21, 22) ORDER BY id`)).rows, [
      { id: 21, note: 'seen' },
      { id: 22, note: 'c' },
    ]);
  });

  it('destructive classes are approved once only: a grant is refused, a single approval runs', async () => {
    const view = uniqueName('approvals_view');
    const sql = `CREATE VIEW ${view} AS SELECT 1 AS one`;
    const held = query(s.pgClient('bot', keys.bot!), sql);
    const review = await s.pending(sql);
    assert.deepEqual(review.requirements?.grants, ['once']);
    const refused = await s.vote(review.id, 'approve', keys.bob!, { grant: { scope: 'session', minutes: 5 } });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'grant_not_allowed');
    assert.equal((await s.vote(review.id, 'approve', keys.bob!)).status, 200);
    assert.equal((await held).ok, true);
    await directSql(`DROP VIEW IF EXISTS ${view}`);
  });

  it('grant expiry and revocation: an expired or revoked grant no longer lets commands through', async () => {
    const client = new pg.Client(s.pgClient('bot', keys.bot!));
    await client.connect();
    try {
      // Expiry: a grant of half a second (the API counts in minutes; the store path takes ms).
      const sql = `INSERT INTO ${table} VALUES (30, 'thirty')`;
      const held = run(client, sql);
      const review = await s.pending(sql);
      const decided = await decideReview(s.sluice.runtime.store, s.sluice.runtime.ledger, review.id, 'approved', { name: 'bob', kind: 'human', groups: ['dba'] }, { grant: { scope: 'session', durationMs: 500 } });
      assert.ok(decided.grant);
      assert.equal((await held).ok, true);
      await sleep(700);
      const late = `UPDATE ${table} SET note = 'late' WHERE id = 30`;
      const lateRun = run(client, late);
      const lateReview = await s.pending(late);
      assert.equal((await s.get('/v1/grants', keys.bob!)).body.grants.some((g: { id: string }) => g.id === decided.grant!.id), false, 'expired grants are not listed as active');

      // Revocation: approve the held one with a session grant, use it, revoke it, be asked again.
      const ok = await s.vote(lateReview.id, 'approve', keys.bob!, { grant: { scope: 'session', minutes: 30 } });
      assert.equal((await lateRun).ok, true);
      const grantId = ok.body.grant.id as string;
      assert.equal((await run(client, `UPDATE ${table} SET note = 'again' WHERE id = 30`)).ok, true);
      const revoked = await s.post(`/v1/grants/${grantId}/revoke`, keys.erin!, { note: 'enough' });
      assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
      assert.equal(revoked.body.revoked_by, 'erin');
      assert.equal((await s.post(`/v1/grants/${grantId}/revoke`, keys.erin!)).status, 409);
      assert.equal((await s.post(`/v1/grants/${grantId}/revoke`, keys.bot!)).status, 403, 'agents cannot revoke');
      const after = `UPDATE ${table} SET note = 'after' WHERE id = 30`;
      const afterRun = run(client, after);
      const afterReview = await s.pending(after);
      await s.vote(afterReview.id, 'reject', keys.bob!);
      assert.equal((await afterRun).ok, false);
      const ledger = await s.audit();
      assert.ok(ledger.some((r) => r.detail?.event === 'grant-revoked' && r.detail.grantId === grantId && r.approver === 'erin'));
    } finally {
      await client.end();
    }
  });

  it('webhook: a receiver on loopback checks the signature of the notice, then approves through the link it carries', async () => {
    const sql = `INSERT INTO ${table} VALUES (40, 'forty')`;
    const held = query(s.pgClient('bot', keys.bot!), sql);
    const review = await s.pending(sql);
    const notice = await eventually('the signed notice', async () => webhook.verified.find((n) => n.review?.id === review.id));
    assert.equal(webhook.bad, 0);
    assert.equal(notice.command, sql);
    assert.equal(notice.on_behalf_of, 'alice');
    const link = /^POST (\S+)$/.exec(notice.approve.api as string)![1]!;
    const path = new URL(link).pathname;
    const ok = await s.post(path, keys.bob!);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal((await held).ok, true);
  });
});

/** A webhook receiver that accepts only notices whose HMAC signature checks out. */
async function signedReceiver(secret: string): Promise<{ server: Server; url: string; verified: Record<string, any>[]; bad: number }> {
  const state = { verified: [] as Record<string, any>[], bad: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const timestamp = String(req.headers['x-sluice-timestamp'] ?? '');
      const given = Buffer.from(String(req.headers['x-sluice-signature'] ?? ''));
      const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`);
      const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) < 300;
      if (given.length === expected.length && timingSafeEqual(given, expected) && fresh) {
        state.verified.push(JSON.parse(body) as Record<string, any>);
        res.statusCode = 204;
      } else {
        state.bad++;
        res.statusCode = 401;
      }
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`,
    get verified() {
      return state.verified;
    },
    get bad() {
      return state.bad;
    },
  };
}
