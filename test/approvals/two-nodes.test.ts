// Two Sluice nodes on one PostgreSQL store: an approval given on one node wakes the caller held
// on the other (LISTEN/NOTIFY), votes from both nodes at once reach a quorum exactly once, and a
// grant made on one node lets commands through on the other.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { directSql, tempDir, uniqueName } from '../helpers.js';
import { createTestDatabase, type TestDatabase } from '../store/pg-helper.js';
import { QUORUM_OF_TWO, query, startApprovalSluice, type ApprovalSluice } from './helpers.js';

const table = uniqueName('approvals_nodes');

describe('two nodes on the PostgreSQL store', () => {
  const dirs = [tempDir('sluice-node-a-'), tempDir('sluice-node-b-')];
  let db: TestDatabase;
  let a: ApprovalSluice;
  let b: ApprovalSluice;
  const keys: Record<string, string> = {};

  before(async () => {
    // Nodes on a PostgreSQL store share the key that digests values in audit records.
    process.env.SLUICE_AUDIT_HMAC_KEY ??= randomBytes(32).toString('base64');
    db = await createTestDatabase();
    await directSql(`CREATE TABLE ${table} (id int PRIMARY KEY, note text)`);
    const options = (dir: string) => ({
      dir,
      store: db.url,
      ...QUORUM_OF_TWO,
    });
    a = await startApprovalSluice(options(dirs[0]!.path));
    b = await startApprovalSluice(options(dirs[1]!.path));
    for (const name of ['bot', 'bob', 'carol', 'erin'] as const) keys[name] = await a.key(name);
  });

  after(async () => {
    await a?.stop();
    await b?.stop();
    await directSql(`DROP TABLE IF EXISTS ${table}`);
    await db?.drop();
    for (const dir of dirs) dir.remove();
  });

  it('an approval on node B wakes the caller held on node A through LISTEN/NOTIFY', async () => {
    const sql = `INSERT INTO ${table} VALUES (1, 'one')`;
    const held = query(a.pgClient('bot', keys.bot!), sql);
    const review = await b.pending(sql);
    assert.equal(review.holder !== undefined, true, 'node A holds the caller');
    const ok = await b.vote(review.id, 'approve', keys.bob!);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const result = await held;
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(a.sluice.runtime.reviews.heardOf(review.id), true, 'node A was notified by the store, not only by polling');
    assert.equal((await directSql(`SELECT count(*)::int AS n FROM ${table} WHERE id = 1`)).rows[0]!.n, 1);
  });

  it('concurrent votes on both nodes reach a quorum of two exactly once', async () => {
    const sql = `INSERT INTO ${table} VALUES (2, 'two')`;
    const held = query(a.pgClient('bot', keys.bot!, 'two'), sql);
    const review = await a.pending(sql);
    const votes = await Promise.all([a.vote(review.id, 'approve', keys.bob!), b.vote(review.id, 'approve', keys.carol!), b.vote(review.id, 'approve', keys.erin!)]);
    assert.equal(votes.filter((v) => v.status === 200 && v.body.status === 'approved').length, 1, JSON.stringify(votes.map((v) => v.body)));
    assert.equal(votes.filter((v) => v.status === 200).length, 2);
    assert.equal((await held).ok, true);
    assert.equal((await a.sluice.runtime.store.listVotes(review.id)).length, 2);
    assert.equal((await directSql(`SELECT count(*)::int AS n FROM ${table} WHERE id = 2`)).rows[0]!.n, 1);
  });

  it('a pattern grant made on node B lets the same shape through on node A', async () => {
    await directSql(`INSERT INTO ${table} VALUES (10, 'a'), (11, 'b')`);
    const first = `UPDATE ${table} SET note = 'ok' WHERE id = 10`;
    const held = query(b.pgClient('bot', keys.bot!), first);
    const review = await b.pending(first);
    const ok = await a.vote(review.id, 'approve', keys.carol!, { grant: { scope: 'pattern', minutes: 5 } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal((await held).ok, true);
    const onA = await query(a.pgClient('bot', keys.bot!), `UPDATE ${table} SET note = 'ok' WHERE id = 11`);
    assert.equal(onA.ok, true, JSON.stringify(onA));
    assert.equal((await b.sluice.runtime.store.getGrant(ok.body.grant.id))?.uses, 1);
  });
});
