// psql's interactive features through the door: \d and \dt (catalog queries), -c with several
// statements in one message, transactions, \gset variables, and a denial inside a script.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { directSql, uniqueName } from '../../helpers.js';
import { psql, run, startFixture, type DoorFixture } from './helpers.js';

const table = uniqueName('orders_p');

describe('postgres door: psql', () => {
  let f: DoorFixture;
  let key: string;

  before(async () => {
    await directSql(`CREATE TABLE ${table} (id int PRIMARY KEY, customer text NOT NULL, total numeric(10,2))`);
    f = await startFixture({
      rules: [
        { name: 'no-drop', when: 'intent.kinds.exists(k, k.startsWith("DROP"))', effect: 'deny', reason: 'nobody drops things through psql here' },
        { name: 'allow-rest', effect: 'allow' },
      ],
    });
    key = await f.key('alice');
  });

  after(async () => {
    await f?.close();
    await directSql(`DROP TABLE IF EXISTS ${table}`);
  });

  it('\\d describes a table and \\dt lists it', async () => {
    const d = await run('psql', ['-X', '-d', f.url('alice', key), '-c', `\\d ${table}`]);
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, new RegExp(`Table "public.${table}"`));
    assert.match(d.stdout, /customer +\| text +\| +\| not null/);
    assert.match(d.stdout, new RegExp(`"${table}_pkey" PRIMARY KEY, btree \\(id\\)`));
    const dt = await run('psql', ['-X', '-d', f.url('alice', key), '-c', `\\dt ${table}`]);
    assert.match(dt.stdout, new RegExp(`public \\| ${table} \\| table`));
  });

  it('-c with several statements sends them in one message, decided once', async () => {
    const text = `INSERT INTO ${table} VALUES (1, 'ada', 9.5); SELECT customer FROM ${table} WHERE id = 1`;
    const r = await run('psql', ['-X', '-A', '-t', '-d', f.url('alice', key), '-c', text]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'INSERT 0 1\nada');
    const decisions = (await f.audit({ kind: 'decision' })).filter((d) => d.command === text);
    assert.equal(decisions.length, 1, 'one Query message, one decision');
  });

  it('transactions: ROLLBACK undoes, COMMIT keeps, \\gset carries values', async () => {
    const r = await psql(
      f.url('alice', key),
      [
        'BEGIN;',
        `INSERT INTO ${table} VALUES (2, 'grace', 1);`,
        'ROLLBACK;',
        'BEGIN;',
        `INSERT INTO ${table} VALUES (3, 'linus', 2);`,
        'COMMIT;',
        `SELECT count(*) AS n FROM ${table} WHERE id IN (2, 3) \\gset`,
        "SELECT 'count=' || :n;",
        '',
      ].join('\n'),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'count=1');
  });

  it('a denied statement in a script stops it with ON_ERROR_STOP and names the rule', async () => {
    const r = await psql(f.url('alice', key), `SELECT 'before';\nDROP TABLE ${table};\nSELECT 'after';\n`);
    assert.equal(r.code, 3);
    assert.match(r.stdout, /before/);
    assert.doesNotMatch(r.stdout, /after/);
    assert.match(r.stderr, /rule "no-drop"/);
    assert.equal((await directSql(`SELECT to_regclass($1) IS NOT NULL AS present`, [table])).rows[0]!.present, true);
  });
});
