// The simple query protocol through the door: decisions per Query message, denial with the
// rule named and the session still usable, transaction semantics after a denial, review with
// a notice and approval, and the audit records per statement.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decideReview } from '../../../src/approvals/reviews.js';
import { directSql, uniqueName } from '../../helpers.js';
import { RawClient, dataRow, errorFields, msg, psql, startFixture, types, type BackendMessage, type DoorFixture } from './helpers.js';

const forbidden = uniqueName('forbidden_s');

/** Sends a CancelRequest for `c`'s session; resolves when the door has closed that connection. */
async function sendCancel(port: number, c: RawClient): Promise<void> {
  const canceller = await RawClient.connect(port);
  const cancel = Buffer.alloc(16);
  cancel.writeInt32BE(16, 0);
  cancel.writeInt32BE(80877102, 4);
  cancel.writeInt32BE(c.processId, 8);
  cancel.writeInt32BE(c.secretKey, 12);
  canceller.send(cancel);
  await canceller.untilClosed();
}
const held = uniqueName('held_s');
const plain = uniqueName('plain_s');

describe('postgres door: simple query protocol', () => {
  let f: DoorFixture;
  let key: string;

  before(async () => {
    await directSql(`CREATE TABLE ${forbidden} (id int)`);
    await directSql(`CREATE TABLE ${held} (id int)`);
    await directSql(`CREATE TABLE ${plain} (id int, note text)`);
    f = await startFixture({
      rules: [
        { name: 'no-forbidden', when: 'intent.tables.exists(t, t.startsWith("forbidden_"))', effect: 'deny', reason: 'forbidden tables are off limits' },
        { name: 'hold-held', when: 'intent.class == "write" && intent.tables.exists(t, t.startsWith("held_"))', effect: 'review', reason: 'writes to held tables need a second pair of eyes' },
        { name: 'allow-rest', effect: 'allow' },
      ],
    });
    key = await f.key('alice');
  });

  after(async () => {
    await f?.close();
    await directSql(`DROP TABLE IF EXISTS ${forbidden}, ${held}, ${plain}`);
  });

  it('runs several statements sent in one Query message, as one decision', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    c.send(msg.query(`SELECT 1 AS a; SELECT 'two' AS b, 3 AS c`));
    const reply = await c.untilReady();
    assert.equal(types(reply), 'TDCTDCZ');
    assert.deepEqual(dataRow(reply[1]!), ['1']);
    assert.deepEqual(dataRow(reply[4]!), ['two', '3']);
    c.close();
    const decisions = (await f.audit({ kind: 'decision' })).filter((r) => r.command === `SELECT 1 AS a; SELECT 'two' AS b, 3 AS c`);
    assert.equal(decisions.length, 1);
    assert.ok(decisions[0]!.intent.flags.includes('multi_statement'));
    const [outcome] = await f.outcomes(decisions[0]!.actionId);
    assert.equal(outcome?.outcome, 'succeeded');
    assert.equal(outcome?.rows, 2);
  });

  it('denies with SQLSTATE 42501 naming rule and reason, and the session stays usable', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    c.send(msg.query(`SELECT * FROM ${forbidden}`));
    const reply = await c.untilReady();
    assert.equal(types(reply), 'EZ');
    const error = errorFields(reply[0]!);
    assert.equal(error.C, '42501');
    assert.equal(error.S, 'ERROR');
    assert.match(error.M!, /rule "no-forbidden"/);
    assert.match(error.M!, /forbidden tables are off limits/);
    assert.equal(c.status, 'I');
    c.send(msg.query('SELECT 41 + 1'));
    const next = await c.untilReady();
    assert.equal(types(next), 'TDCZ');
    assert.deepEqual(dataRow(next[1]!), ['42']);
    c.close();
  });

  it('denies a whole multi-statement message when one part is denied: nothing of it runs', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    c.send(msg.query(`INSERT INTO ${plain} VALUES (1, 'multi'); SELECT * FROM ${forbidden}`));
    const reply = await c.untilReady();
    assert.equal(errorFields(reply[0]!).C, '42501');
    c.close();
    const rows = await directSql(`SELECT * FROM ${plain} WHERE note = 'multi'`);
    assert.equal(rows.rowCount, 0);
  });

  it('a denial inside a transaction block aborts the transaction as a PostgreSQL error would', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    c.send(msg.query('BEGIN'));
    await c.untilReady();
    assert.equal(c.status, 'T');
    c.send(msg.query(`INSERT INTO ${plain} VALUES (2, 'in-tx')`));
    await c.untilReady();
    c.send(msg.query(`SELECT * FROM ${forbidden}`));
    const denied = await c.untilReady();
    assert.equal(errorFields(denied[0]!).C, '42501');
    assert.equal(c.status, 'E', 'the transaction is failed, like after any error');
    c.send(msg.query('SELECT 1'));
    const ignored = await c.untilReady();
    assert.equal(errorFields(ignored[0]!).C, '25P02');
    c.send(msg.query('COMMIT'));
    const commit = await c.untilReady();
    assert.equal(commit[0]!.type, 'C');
    assert.equal(commit[0]!.bytes.toString('utf8', 5, commit[0]!.bytes.length - 1), 'ROLLBACK');
    assert.equal(c.status, 'I');
    c.close();
    assert.equal((await directSql(`SELECT * FROM ${plain} WHERE note = 'in-tx'`)).rowCount, 0);
  });

  it('psql shows the denial and goes on with the next statement', async () => {
    const r = await psql(f.url('alice', key), `SELECT * FROM ${forbidden};\nSELECT 'still here';\n`, { stopOnError: false });
    assert.match(r.stderr, /ERROR: {2}Sluice denied this statement \(rule "no-forbidden"\): forbidden tables are off limits/);
    assert.match(r.stdout, /still here/);
  });

  async function heldInsert(c: RawClient, value: number): Promise<{ notice: BackendMessage; reviewId: string }> {
    c.send(msg.query(`INSERT INTO ${held} VALUES (${value})`));
    const notice = await c.next();
    assert.equal(notice.type, 'N');
    const fields = errorFields(notice);
    const reviewId = /review (rv_[A-Za-z0-9_-]+)/.exec(fields.M!)?.[1];
    assert.ok(reviewId, fields.M);
    return { notice, reviewId };
  }

  it('holds a statement for review with a notice saying how to approve, then runs it when approved', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    const { notice, reviewId } = await heldInsert(c, 7);
    const fields = errorFields(notice);
    assert.match(fields.M!, /rule "hold-held"/);
    assert.match(fields.H!, new RegExp(`sluice reviews approve ${reviewId}`));
    assert.equal((await directSql(`SELECT * FROM ${held} WHERE id = 7`)).rowCount, 0, 'nothing runs while held');
    await decideReview(f.runtime.store, f.runtime.ledger, reviewId, 'approved', 'tester');
    const reply = await c.untilReady();
    assert.equal(types(reply), 'CZ');
    assert.equal((await directSql(`SELECT * FROM ${held} WHERE id = 7`)).rowCount, 1);
    c.close();
    const review = (await f.audit({ kind: 'review' })).find((r) => r.detail?.reviewId === reviewId);
    const [outcome] = await f.outcomes(review?.actionId);
    assert.equal(outcome?.detail?.reviewId, reviewId);
    assert.equal(outcome?.approver, 'tester');
    assert.equal(outcome?.outcome, 'succeeded');
    assert.equal(outcome?.rows, 1);
  });

  it('answers a rejected review with an error and does not run the statement', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    const { reviewId } = await heldInsert(c, 8);
    await decideReview(f.runtime.store, f.runtime.ledger, reviewId, 'rejected', 'tester', 'not today');
    const reply = await c.untilReady();
    assert.equal(types(reply), 'EZ');
    const error = errorFields(reply[0]!);
    assert.equal(error.C, '42501');
    assert.match(error.M!, new RegExp(`review ${reviewId} was rejected by tester: not today`));
    assert.equal((await directSql(`SELECT * FROM ${held} WHERE id = 8`)).rowCount, 0);
    c.send(msg.query('SELECT 1'));
    assert.equal(types(await c.untilReady()), 'TDCZ');
    c.close();
  });

  it('a CancelRequest withdraws a held review', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    const { reviewId } = await heldInsert(c, 9);
    await sendCancel(f.door.address.port, c);
    const reply = await c.untilReady();
    assert.equal(errorFields(reply[0]!).C, '57014');
    const review = await f.runtime.store.getReview(reviewId);
    assert.equal(review?.status, 'cancelled');
    assert.equal((await directSql(`SELECT * FROM ${held} WHERE id = 9`)).rowCount, 0);
    c.close();
  });

  it('a CancelRequest sent while nothing is held does not withdraw the next review', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    await sendCancel(f.door.address.port, c);
    // The cancel has been handled once its connection is closed by the door; then hold.
    const { reviewId } = await heldInsert(c, 10);
    assert.equal((await f.runtime.store.getReview(reviewId))?.status, 'pending');
    await decideReview(f.runtime.store, f.runtime.ledger, reviewId, 'approved', 'tester');
    assert.equal(types(await c.untilReady()), 'CZ');
    c.close();
  });

  it('records per statement: the decision before, the outcome after with rows, duration and errors', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    c.send(msg.query(`INSERT INTO ${plain} SELECT g, 'audit' FROM generate_series(1, 5) g`));
    await c.untilReady();
    c.send(msg.query('SELECT 1/0'));
    const failed = await c.untilReady();
    assert.equal(errorFields(failed[0]!).C, '22012');
    c.close();
    let records = await f.audit();
    const insertDecision = records.find((r) => r.kind === 'decision' && r.command === `INSERT INTO ${plain} SELECT g, 'audit' FROM generate_series(1, 5) g`);
    assert.ok(insertDecision);
    const divDecisionFirst = records.find((r) => r.kind === 'decision' && r.command === 'SELECT 1/0');
    await f.outcomes(divDecisionFirst?.actionId);
    records = await f.audit();
    assert.equal(insertDecision.door, 'postgres');
    assert.equal(insertDecision.principal, 'alice');
    assert.equal(insertDecision.rule, 'allow-rest');
    const insertOutcome = records.find((r) => r.kind === 'outcome' && r.actionId === insertDecision.actionId);
    assert.ok(insertOutcome);
    assert.ok(insertOutcome.seq > insertDecision.seq);
    assert.equal(insertOutcome.rows, 5);
    assert.equal(typeof insertOutcome.durationMs, 'number');
    assert.equal(insertOutcome.session, insertDecision.session);
    const divDecision = records.find((r) => r.kind === 'decision' && r.command === 'SELECT 1/0');
    const divOutcome = records.find((r) => r.kind === 'outcome' && r.actionId === divDecision?.actionId);
    assert.equal(divOutcome?.outcome, 'failed');
    assert.equal(divOutcome?.detail?.error, '22012');
  });

  it('an empty query is answered like PostgreSQL does', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    c.send(msg.query(''));
    assert.equal(types(await c.untilReady()), 'IZ');
    c.close();
  });

  it('refuses fast-path function calls, which would bypass analysis', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    // FunctionCall for oid 1 (nonexistent); the door must not forward it.
    const body = Buffer.alloc(12);
    body.writeInt32BE(1, 0);
    c.send(Buffer.concat([Buffer.from('F'), Buffer.from([0, 0, 0, 16]), body]));
    const reply = await c.untilReady();
    assert.equal(errorFields(reply[0]!).C, '42501');
    assert.match(errorFields(reply[0]!).M!, /fast-path function calls/);
    c.close();
  });
});
