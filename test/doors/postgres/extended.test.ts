// The extended query protocol through the door: node-postgres (parameters, prepared
// statements, pool, transactions) and hand-built pipelines (Parse/Bind/Describe/Execute/
// Sync/Flush/Close, named and unnamed statements and portals, errors and refusals in the
// middle of a pipeline).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { directSql, uniqueName } from '../../helpers.js';
import { RawClient, dataRow, errorFields, msg, startFixture, types, type DoorFixture } from './helpers.js';

const forbidden = uniqueName('forbidden_e');
const items = uniqueName('items_e');

describe('postgres door: extended query protocol', () => {
  let f: DoorFixture;
  let key: string;

  before(async () => {
    await directSql(`CREATE TABLE ${forbidden} (id int)`);
    await directSql(`CREATE TABLE ${items} (id int, tag text)`);
    f = await startFixture({
      rules: [
        { name: 'no-forbidden', when: 'intent.tables.exists(t, t.startsWith("forbidden_"))', effect: 'deny', reason: 'forbidden tables are off limits' },
        { name: 'allow-rest', effect: 'allow' },
      ],
    });
    key = await f.key('alice');
  });

  after(async () => {
    await f?.close();
    await directSql(`DROP TABLE IF EXISTS ${forbidden}, ${items}`);
  });

  it('node-postgres: parameters, named prepared statements, and one decision per Parse', async () => {
    const client = new pg.Client(f.client('alice', key));
    await client.connect();
    try {
      const r = await client.query('SELECT $1::int + 1 AS n, $2::text AS t', [41, 'hé']);
      assert.deepEqual(r.rows, [{ n: 42, t: 'hé' }]);
      const text = `SELECT $1::int * 2 AS doubled /* ${uniqueName('named')} */`;
      for (const v of [1, 2, 3]) {
        const named = await client.query({ name: 'doubler', text, values: [v] });
        assert.equal(named.rows[0].doubled, v * 2);
      }
      const decisions = (await f.audit({ kind: 'decision' })).filter((x) => x.command === text);
      assert.equal(decisions.length, 1, 'decided once, at Parse');
      const outcomes = await f.outcomes(decisions[0]!.actionId, 3);
      assert.equal(outcomes.length, 3, 'one outcome per execution');
      assert.ok(outcomes.every((o) => o.outcome === 'succeeded' && o.rows === 1));
    } finally {
      await client.end();
    }
  });

  it('node-postgres: a pool runs transactions that commit and roll back', async () => {
    const pool = new pg.Pool({ ...f.client('alice', key), max: 3 });
    try {
      await Promise.all(
        [1, 2, 3, 4, 5, 6].map(async (i) => {
          const c = await pool.connect();
          try {
            await c.query('BEGIN');
            await c.query(`INSERT INTO ${items} VALUES ($1, $2)`, [i, i % 2 === 0 ? 'commit' : 'rollback']);
            await c.query(i % 2 === 0 ? 'COMMIT' : 'ROLLBACK');
          } finally {
            c.release();
          }
        }),
      );
    } finally {
      await pool.end();
    }
    const rows = await directSql(`SELECT id, tag FROM ${items} WHERE tag IN ('commit', 'rollback') ORDER BY id`);
    assert.deepEqual(rows.rows.map((r) => r.id), [2, 4, 6]);
  });

  it('node-postgres: a denied statement rejects with 42501 and the client stays usable', async () => {
    const client = new pg.Client(f.client('alice', key));
    await client.connect();
    try {
      await assert.rejects(client.query(`SELECT * FROM ${forbidden} WHERE id = $1`, [1]), (error: any) => {
        assert.equal(error.code, '42501');
        assert.match(error.message, /rule "no-forbidden"/);
        return true;
      });
      const r = await client.query('SELECT $1::text AS ok', ['yes']);
      assert.equal(r.rows[0].ok, 'yes');
    } finally {
      await client.end();
    }
  });

  it('a refusal in a pipeline skips the rest until Sync and rolls back its implicit transaction, like a PostgreSQL error', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    c.send(
      msg.parse('', `INSERT INTO ${items} VALUES (100, 'pipeline')`),
      msg.bind('', ''),
      msg.execute(''),
      msg.parse('', `SELECT * FROM ${forbidden}`),
      msg.bind('', ''),
      msg.execute(''),
      msg.parse('', `INSERT INTO ${items} VALUES (101, 'pipeline')`),
      msg.bind('', ''),
      msg.execute(''),
      msg.sync(),
    );
    const reply = await c.untilReady();
    assert.equal(types(reply), '12CEZ');
    assert.equal(errorFields(reply[3]!).C, '42501');
    assert.equal(c.status, 'I');
    assert.equal((await directSql(`SELECT * FROM ${items} WHERE tag = 'pipeline'`)).rowCount, 0, 'the first insert was rolled back with the pipeline');
    // The next pipeline works.
    c.send(msg.parse('', 'SELECT 5'), msg.bind('', ''), msg.execute(''), msg.sync());
    const next = await c.untilReady();
    assert.equal(types(next), '12DCZ');
    c.close();
  });

  it('an upstream error in a pipeline skips to Sync; the skipped statement is audited as not run', async () => {
    const marker = uniqueName('skipped');
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    c.send(msg.parse('', 'SELECT 1/(g - 1) FROM generate_series(1, 1) g'), msg.bind('', ''), msg.execute(''), msg.parse('', `SELECT '${marker}'`), msg.bind('', ''), msg.execute(''), msg.sync());
    const reply = await c.untilReady();
    assert.equal(types(reply), '12EZ');
    assert.equal(errorFields(reply[2]!).C, '22012');
    c.send(msg.parse('', 'SELECT 6'), msg.bind('', ''), msg.execute(''), msg.sync());
    assert.deepEqual(dataRow((await c.untilReady())[2]!), ['6']);
    c.close();
    const decision = (await f.audit({ kind: 'decision' })).find((r) => r.command === `SELECT '${marker}'`);
    const [outcome] = await f.outcomes(decision?.actionId);
    assert.equal(outcome?.outcome, 'failed');
    assert.equal(outcome?.detail?.error, 'skipped');
  });

  it('pipelines many executions of a named statement before one Sync, with Describe and Close', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    const parts = [msg.parse('sq', 'SELECT $1::int * $1::int AS sq'), msg.describe('S', 'sq')];
    for (let i = 1; i <= 50; i++) parts.push(msg.bind(`p${i}`, 'sq', [String(i)]), msg.describe('P', `p${i}`), msg.execute(`p${i}`));
    parts.push(msg.close('S', 'sq'), msg.sync());
    c.send(...parts);
    const reply = await c.untilReady();
    const rows = reply.filter((m) => m.type === 'D').map((m) => Number(dataRow(m)[0]));
    assert.equal(rows.length, 50);
    assert.deepEqual(rows.slice(0, 3), [1, 4, 9]);
    assert.equal(rows[49], 2500);
    assert.equal(types(reply).slice(0, 4), '1tT2', 'ParseComplete, ParameterDescription, RowDescription, BindComplete');
    assert.equal(types(reply).slice(-2), '3Z');
    // Closed: the door refuses a Bind to it.
    c.send(msg.bind('', 'sq', ['2']), msg.execute(''), msg.sync());
    const closed = await c.untilReady();
    assert.equal(errorFields(closed[0]!).C, '26000');
    c.close();
  });

  it('Flush delivers results before Sync', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    c.send(msg.parse('', 'SELECT 77'), msg.bind('', ''), msg.execute(''), msg.flush());
    const got = [await c.next(), await c.next(), await c.next(), await c.next()];
    assert.equal(types(got), '12DC');
    c.send(msg.sync());
    assert.equal(types(await c.untilReady()), 'Z');
    c.close();
  });

  it('Bind to a statement the door never admitted, or Execute of an unknown portal, is refused', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    c.send(msg.bind('', 'never_parsed'), msg.execute(''), msg.sync());
    const reply = await c.untilReady();
    assert.equal(types(reply), 'EZ');
    assert.equal(errorFields(reply[0]!).C, '26000');
    c.send(msg.execute('no_portal'), msg.sync());
    const reply2 = await c.untilReady();
    assert.equal(errorFields(reply2[0]!).C, '34000');
    c.close();
  });

  it('SQL PREPARE then protocol Bind is refused; SQL EXECUTE works and is analysed', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    c.send(msg.query(`PREPARE sneaky AS SELECT * FROM ${forbidden}`));
    const prep = await c.untilReady();
    assert.equal(errorFields(prep[0]!).C, '42501', 'the PREPARE itself is denied');
    c.send(msg.query('PREPARE ok_stmt AS SELECT 11'));
    await c.untilReady();
    c.send(msg.bind('', 'ok_stmt'), msg.execute(''), msg.sync());
    assert.equal(errorFields((await c.untilReady())[0]!).C, '26000');
    c.send(msg.query('EXECUTE ok_stmt'));
    const exec = await c.untilReady();
    assert.deepEqual(dataRow(exec[1]!), ['11']);
    c.close();
  });

  it('DEALLOCATE makes the door forget protocol-level statements', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    c.send(msg.parse('keep', 'SELECT 1'), msg.sync());
    await c.untilReady();
    c.send(msg.query('DEALLOCATE ALL'));
    await c.untilReady();
    c.send(msg.bind('', 'keep'), msg.execute(''), msg.sync());
    assert.equal(errorFields((await c.untilReady())[0]!).C, '26000');
    c.close();
  });

  it('a second Parse of an existing name fails upstream and the old statement (and decision) stays', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    const first = `SELECT 'first' /* ${uniqueName('a')} */`;
    c.send(msg.parse('dup', first), msg.sync());
    assert.equal(types(await c.untilReady()), '1Z');
    c.send(msg.parse('dup', `SELECT 'second'`), msg.sync());
    const dup = await c.untilReady();
    assert.equal(errorFields(dup[0]!).C, '42P05');
    c.send(msg.bind('', 'dup'), msg.execute(''), msg.sync());
    const run = await c.untilReady();
    assert.deepEqual(dataRow(run[1]!), ['first']);
    c.close();
    const decision = (await f.audit({ kind: 'decision' })).find((r) => r.command === first);
    const outcomes = await f.outcomes(decision?.actionId);
    assert.equal(outcomes.length, 1, 'the execution is recorded against the statement that really ran');
  });

  it('a portal run in chunks (Execute with a row limit) returns PortalSuspended and then the rest', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    c.send(msg.query('BEGIN'));
    await c.untilReady();
    c.send(msg.parse('', 'SELECT g FROM generate_series(1, 5) g'), msg.bind('cur', ''), msg.execute('cur', 2), msg.execute('cur', 2), msg.execute('cur', 2), msg.sync());
    const reply = await c.untilReady();
    assert.equal(types(reply), '12DDsDDsDCZ');
    c.send(msg.query('COMMIT'));
    await c.untilReady();
    c.close();
  });
});
