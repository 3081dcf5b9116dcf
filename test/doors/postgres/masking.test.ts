// Masking of result rows on the wire: column names from RowDescription, the deciding rule's
// profile, text and binary formats, results the client never described, rows larger than a
// socket read, COPY TO refused, server DETAIL withheld, and the audit report.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { directSql, uniqueName } from '../../helpers.js';
import { RawClient, cstr, dataRow, errorFields, frame, msg, psql, startFixture, types, type DoorFixture } from './helpers.js';

const people = uniqueName('people_m');

describe('postgres door: masking', () => {
  let f: DoorFixture;
  let carol: string;
  let alice: string;

  before(async () => {
    await directSql(`CREATE TABLE ${people} (id int PRIMARY KEY, name text, email text UNIQUE, api_secret text, big text)`);
    await directSql(`INSERT INTO ${people} VALUES (1, 'Ada', 'ada@example.com', 'sk-ada', NULL), (2, 'Grace', NULL, 'sk-grace', NULL), (3, 'Linus', 'linus@example.com', NULL, repeat('x', 300000))`);
    f = await startFixture({
      profiles: { pii: { columns: ['email', '*_secret'], replacement: 'redact' } },
      rules: [
        { name: 'analysts-masked', when: '"analysts" in principal.groups', effect: 'allow', mask: 'pii' },
        { name: 'others-unmasked', effect: 'allow' },
      ],
    });
    carol = await f.key('carol');
    alice = await f.key('alice');
  });

  after(async () => {
    await f?.close();
    await directSql(`DROP TABLE IF EXISTS ${people}`);
  });

  it('psql (simple protocol): masked columns are replaced, others and NULLs untouched', async () => {
    const r = await psql(f.url('carol', carol), `SELECT id, name, email, api_secret FROM ${people} ORDER BY id;\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['1|Ada|[masked]|[masked]', '2|Grace||[masked]', '3|Linus|[masked]|']);
    const unmasked = await psql(f.url('alice', alice), `SELECT email FROM ${people} WHERE id = 1;\n`);
    assert.equal(unmasked.stdout.trim(), 'ada@example.com');
  });

  it('node-postgres (extended protocol): masked by column name, also through an alias', async () => {
    const client = new pg.Client(f.client('carol', carol));
    await client.connect();
    try {
      const r = await client.query(`SELECT id, email, name AS contact_secret FROM ${people} WHERE id = $1`, [1]);
      assert.deepEqual(r.rows, [{ id: 1, email: '[masked]', contact_secret: '[masked]' }]);
    } finally {
      await client.end();
    }
  });

  it('masks rows of a statement the client never described (the door describes it itself)', async () => {
    const c = await RawClient.login(f.door.address.port, 'carol', carol);
    c.send(msg.parse('', `SELECT email, id FROM ${people} WHERE id = 1`), msg.bind('', ''), msg.execute(''), msg.sync());
    const reply = await c.untilReady();
    assert.equal(types(reply), '12DCZ', 'the door\'s own Describe is not passed on');
    assert.deepEqual(dataRow(reply[2]!), ['[masked]', '1']);
    c.close();
  });

  it('binary result format: text columns get the masked text, other masked types become NULL', async () => {
    const c = await RawClient.login(f.door.address.port, 'carol', carol);
    // Bind asking for every result column in binary (one format code: 1).
    const bind = frame('B', Buffer.concat([cstr(''), cstr(''), Buffer.from([0, 0, 0, 0, 0, 1, 0, 1])]));
    c.send(msg.parse('', `SELECT email, id AS id_secret, id FROM ${people} WHERE id = 1`), bind, msg.describe('P', ''), msg.execute(''), msg.sync());
    const reply = await c.untilReady();
    const row = reply.find((m) => m.type === 'D')!;
    const b = row.bytes;
    assert.equal(b.readInt16BE(5), 3);
    let pos = 7;
    const len1 = b.readInt32BE(pos);
    assert.equal(b.toString('utf8', pos + 4, pos + 4 + len1), '[masked]');
    pos += 4 + len1;
    assert.equal(b.readInt32BE(pos), -1, 'int4 in binary cannot carry a mask: NULL');
    pos += 4;
    assert.equal(b.readInt32BE(pos), 4);
    assert.equal(b.readInt32BE(pos + 4), 1, 'the untouched int4 column is copied as it was');
    c.close();
  });

  it('masks correctly across many rows and rows larger than one socket read', async () => {
    const r = await psql(f.url('carol', carol), `SELECT g AS id, 'user' || g || '@example.com' AS email, repeat('y', 100) AS pad FROM generate_series(1, 20000) g;\n`);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 20000);
    assert.ok(lines.every((line) => line.split('|')[1] === '[masked]'));
    // A masked value of 1 MB and an unmasked one of 300 kB.
    const big = await psql(f.url('carol', carol), `SELECT length(big), big AS big_secret, length(email), email FROM ${people} WHERE id = 3 UNION ALL SELECT 0, repeat('z', 1000000), 0, NULL;\n`);
    assert.equal(big.code, 0, big.stderr);
    const [row1, row2] = big.stdout.trim().split('\n');
    assert.deepEqual(row1!.split('|'), ['300000', '[masked]', '17', '[masked]']);
    assert.deepEqual(row2!.split('|'), ['0', '[masked]', '0', '']);
    const plain = await psql(f.url('carol', carol), `SELECT big FROM ${people} WHERE id = 3;\n`);
    assert.equal(plain.stdout.trim(), 'x'.repeat(300000));
  });

  it('rows of every size split at arbitrary socket boundaries: each value masked or intact, none lost', async () => {
    const sql = `SELECT g, md5(g::text) AS email, repeat(chr(65 + g % 26), (g * 7919) % 5000) AS pad FROM generate_series(1, 30000) g`;
    for (const [who, k] of [['carol', carol], ['alice', alice]] as const) {
      const c = await RawClient.login(f.door.address.port, who, k);
      c.send(msg.query(sql));
      let n = 0;
      for (;;) {
        const m = await c.next();
        if (m.type === 'Z') break;
        if (m.type !== 'D') continue;
        n++;
        const [g, email, pad] = dataRow(m);
        assert.equal(Number(g), n);
        if (who === 'carol') assert.equal(email, '[masked]');
        else assert.match(email!, /^[0-9a-f]{32}$/);
        assert.equal(pad, String.fromCharCode(65 + (n % 26)).repeat((n * 7919) % 5000));
      }
      assert.equal(n, 30000);
      c.close();
    }
  });

  it('masks only the results that have masked columns, in a multi-statement query', async () => {
    const c = await RawClient.login(f.door.address.port, 'carol', carol);
    c.send(msg.query(`SELECT name FROM ${people} WHERE id = 1; SELECT email FROM ${people} WHERE id = 1; SELECT 'tail'`));
    const rows = (await c.untilReady()).filter((m) => m.type === 'D').map((m) => dataRow(m)[0]);
    assert.deepEqual(rows, ['Ada', '[masked]', 'tail']);
    c.close();
  });

  it('records what was masked in the outcome', async () => {
    const sql = `SELECT email, api_secret FROM ${people} WHERE id IN (1, 2) ORDER BY id /* report */`;
    const c = await RawClient.login(f.door.address.port, 'carol', carol);
    c.send(msg.query(sql));
    await c.untilReady();
    c.close();
    const decision = (await f.audit({ kind: 'decision' })).find((r) => r.command === sql);
    assert.equal(decision?.rule, 'analysts-masked');
    const [outcome] = await f.outcomes(decision?.actionId);
    // The values masked, as keyed digests (searchable by an auditor who knows a value), never in clear.
    const d = f.runtime.valueDigester!;
    assert.deepEqual(outcome?.detail?.masked, { columns: ['email', 'api_secret'], values: 3, digests: ['ada@example.com', 'sk-ada', 'sk-grace'].map((v) => d.digest(v)) });
    assert.equal(outcome?.rows, 2);
    assert.ok(!JSON.stringify(outcome).includes('ada@example.com'));
  });

  it('keeps no digest of a long masked value (a result cannot pin huge cells in memory), and says so', async () => {
    const sql = `SELECT repeat('x', 2000) || '@example.com' AS email /* long */`;
    const r = await psql(f.url('carol', carol), `${sql};\n`);
    assert.equal(r.stdout.trim(), '[masked]');
    const decision = (await f.audit({ kind: 'decision' })).find((x) => String(x.command).startsWith(sql));
    const [outcome] = await f.outcomes(decision?.actionId);
    assert.deepEqual(outcome?.detail?.masked, { columns: ['email'], values: 1, digestsCapped: true });
  });

  it('keeps the digests of the first 100 distinct masked values of a statement, and says when there were more', async () => {
    const sql = `SELECT 'user' || g || '@example.com' AS email FROM generate_series(1, 150) g /* many */`;
    const r = await psql(f.url('carol', carol), `${sql};\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(new Set(r.stdout.trim().split('\n')), new Set(['[masked]']));
    const decision = (await f.audit({ kind: 'decision' })).find((x) => String(x.command).startsWith(sql));
    const [outcome] = await f.outcomes(decision?.actionId);
    const masked = outcome?.detail?.masked as { values: number; digests: string[]; digestsCapped?: boolean };
    assert.equal(masked.values, 150);
    assert.equal(masked.digests.length, 100);
    assert.equal(masked.digests[0], f.runtime.valueDigester!.digest('user1@example.com'));
    assert.equal(masked.digestsCapped, true);
  });

  it('refuses COPY ... TO STDOUT while a masking profile applies, and allows it unmasked', async () => {
    const r = await psql(f.url('carol', carol), `\\copy ${people} (id, email) to stdout\n`);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /COPY \.\.\. TO is not allowed while masking profile "pii" applies/);
    assert.doesNotMatch(r.stdout, /example\.com/);
    const ok = await psql(f.url('alice', alice), `\\copy (SELECT email FROM ${people} WHERE id = 1) to stdout\n`);
    assert.equal(ok.stdout.trim(), 'ada@example.com');
  });

  it('leaves the server DETAIL (which can quote values) out of errors while masking applies', async () => {
    const c = await RawClient.login(f.door.address.port, 'carol', carol);
    c.send(msg.query(`INSERT INTO ${people} (id, email) VALUES (99, 'ada@example.com')`));
    const masked = errorFields((await c.untilReady())[0]!);
    assert.equal(masked.C, '23505');
    assert.equal(masked.D, undefined);
    c.close();
    const a = await RawClient.login(f.door.address.port, 'alice', alice);
    a.send(msg.query(`INSERT INTO ${people} (id, email) VALUES (99, 'ada@example.com')`));
    const unmasked = errorFields((await a.untilReady())[0]!);
    assert.match(unmasked.D ?? '', /ada@example\.com/);
    a.close();
  });

  it('hides values quoted in error messages (22P02, RAISE) while masking applies, for the client and in the audit', async () => {
    const c = await RawClient.login(f.door.address.port, 'carol', carol);
    c.send(msg.query(`SELECT email::int FROM ${people} WHERE email IS NOT NULL`));
    const errorOf = (reply: { type: string }[]) => errorFields(reply.find((m) => m.type === 'E') as never);
    const cast = errorOf(await c.untilReady());
    assert.equal(cast.C, '22P02');
    assert.match(cast.M ?? '', /invalid input syntax for type integer: "\[withheld\]"/);
    assert.doesNotMatch(cast.M ?? '', /@/);
    c.send(msg.query(`DO $$ BEGIN RAISE EXCEPTION 'leaked %', (SELECT email FROM ${people} WHERE email IS NOT NULL LIMIT 1); END $$`));
    const raised = errorOf(await c.untilReady());
    assert.equal(raised.C, 'P0001');
    assert.doesNotMatch(raised.M ?? '', /@|leaked/);
    c.close();
    const decisions = (await f.audit({ kind: 'decision' })).filter((r) => r.principal === 'carol' && /email::int|RAISE/.test(String(r.command)));
    assert.equal(decisions.length, 2);
    for (const d of decisions) {
      const [outcome] = await f.outcomes(d.actionId);
      assert.match(JSON.stringify(outcome), /22P02|P0001/, 'the outcome names the error by its code');
      assert.doesNotMatch(JSON.stringify(outcome), /@example/);
    }
    // Without masking the message is PostgreSQL's own.
    const a = await RawClient.login(f.door.address.port, 'alice', alice);
    a.send(msg.query(`SELECT email::int FROM ${people} WHERE email IS NOT NULL`));
    assert.match(errorOf(await a.untilReady()).M ?? '', /@/);
    a.close();
  });
});
