// The round trip from issue 6 through the PostgreSQL door (real PostgreSQL): a PII column is
// masked to placeholders, the agent uses a placeholder in a WHERE clause, and the right row
// comes back, because the rule allows de-tokenisation and the vault holds the value. Without
// the rule the placeholder matches nothing; in code positions it is refused; values with
// quotes are quoted safely; the audit keeps the command as sent and names placeholders only.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { directSql, uniqueName } from '../helpers.js';
import { startFixture, type DoorFixture } from '../doors/postgres/helpers.js';

const table = uniqueName('vault_customers');
const PLACEHOLDER = /SLUICE_EMAIL_[b-v]{14}/;

describe('placeholders round-trip through the PostgreSQL door', () => {
  let f: DoorFixture;
  let botKey: string;
  let carolKey: string;

  before(async () => {
    process.env.SLUICE_VAULT_KEY = randomBytes(32).toString('base64');
    await directSql(`CREATE TABLE ${table} (id int PRIMARY KEY, email text, note text)`);
    await directSql(`INSERT INTO ${table} VALUES (1, 'ada@example.com', 'first'), (2, $1, 'second'), (3, 'grace@example.com', 'third')`, ["o'brien@example.com"]);
    f = await startFixture({
      profiles: { pii: { detectors: ['pii'] } },
      rules: [
        { name: 'agents-detokenise', when: 'principal.kind == "agent"', effect: 'allow', mask: 'pii', detokenise: true },
        { name: 'analysts-one-way', when: '"analysts" in principal.groups', effect: 'allow', mask: 'pii' },
      ],
    });
    botKey = await f.key('bot');
    carolKey = await f.key('carol');
  });

  after(async () => {
    await f?.close();
    await directSql(`DROP TABLE IF EXISTS ${table}`);
    delete process.env.SLUICE_VAULT_KEY;
  });

  async function session<T>(principal: string, key: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = new pg.Client(f.client(principal, key));
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  }

  it('mask a PII column, then use the placeholder in a WHERE clause and get the right row (simple and extended protocol)', async () => {
    await session('bot', botKey, async (c) => {
      const masked = await c.query<{ id: number; email: string }>(`SELECT id, email FROM ${table} ORDER BY id`);
      assert.equal(masked.rows.length, 3);
      for (const row of masked.rows) assert.match(row.email, PLACEHOLDER, 'masked');
      const [ada, obrien, grace] = masked.rows.map((r) => r.email);
      assert.equal(new Set([ada, obrien, grace]).size, 3);

      const simple = await c.query<{ id: number; note: string; email: string }>(`SELECT id, note, email FROM ${table} WHERE email = '${grace}'`);
      assert.deepEqual(simple.rows.map((r) => [r.id, r.note]), [[3, 'third']]);
      assert.equal(simple.rows[0]!.email, grace, 'the result is masked again, with the same placeholder');

      // A value with a quote in it is quoted, not concatenated.
      const quoted = await c.query<{ id: number }>(`SELECT id FROM ${table} WHERE email = '${obrien}'`);
      assert.deepEqual(quoted.rows.map((r) => r.id), [2]);

      // Extended protocol: the placeholder in a literal of a Parse message, with a bound parameter beside it.
      const extended = await c.query<{ id: number }>({ text: `SELECT id FROM ${table} WHERE email IN ('${ada}', '${obrien}') AND id >= $1 ORDER BY id`, values: [1] });
      assert.deepEqual(extended.rows.map((r) => r.id), [1, 2]);

      // Inside a longer literal too.
      const like = await c.query<{ id: number }>(`SELECT id FROM ${table} WHERE 'to: ' || email = 'to: ${ada}'`);
      assert.deepEqual(like.rows.map((r) => r.id), [1]);
    });
  });

  it('swaps placeholders in bound parameters (text format), audits them as sent, and refuses what it cannot swap', async () => {
    await session('bot', botKey, async (c) => {
      const { rows } = await c.query<{ id: number; email: string }>(`SELECT id, email FROM ${table} ORDER BY id`);
      const [ada, obrien, grace] = rows.map((r) => r.email);
      // node-postgres sends values as Bind parameters: the placeholder is the whole value.
      const bound = await c.query<{ id: number; note: string }>(`SELECT id, note FROM ${table} WHERE email = $1`, [obrien]);
      assert.deepEqual(bound.rows.map((r) => [r.id, r.note]), [[2, 'second']]);
      // A prepared statement run again with other values, and a placeholder inside a longer value.
      const named = { name: 'by-email', text: `SELECT id FROM ${table} WHERE email = $1 OR 'to: ' || email = $2` };
      assert.deepEqual((await c.query<{ id: number }>({ ...named, values: [ada, 'nobody'] })).rows.map((r) => r.id), [1]);
      assert.deepEqual((await c.query<{ id: number }>({ ...named, values: ['nobody', `to: ${grace}`] })).rows.map((r) => r.id), [3]);
      // NULL and placeholder-free values pass as they are.
      assert.equal((await c.query(`SELECT id FROM ${table} WHERE email = $1 OR $2::text IS NULL`, ['plain', null])).rowCount, 3);

      // A binary-format parameter (node-postgres sends a Buffer so) is refused, not guessed at.
      await assert.rejects(c.query(`SELECT id FROM ${table} WHERE email = $1::text`, [Buffer.from(ada!)]), (e: pg.DatabaseError) => e.code === '42501' && /binary-format parameter/.test(e.message));
      // A placeholder the vault does not know for this caller is refused; the session goes on.
      const foreign = 'SLUICE_EMAIL_bcdfghjkmnpqrs';
      await assert.rejects(c.query(`SELECT id FROM ${table} WHERE email = $1`, [foreign]), (e: pg.DatabaseError) => e.code === '42501' && /is unknown here/.test(e.message));
      assert.equal((await c.query('SELECT 1 AS one')).rows[0].one, 1);
      // Where a value would name a file (or run as code), no value goes in.
      await assert.rejects(c.query('SELECT length(pg_read_file($1))', [ada]), (e: pg.DatabaseError) => e.code === '42501' && /flagged file_access/.test(e.message));

      const text = `SELECT id, note FROM ${table} WHERE email = $1`;
      const decision = (await f.audit({ kind: 'decision' })).find((r) => r.command === text);
      const [outcome] = await f.outcomes(decision?.actionId);
      assert.deepEqual(outcome!.detail.detokenised, { placeholders: [obrien] });
      assert.equal(outcome!.rows, 1);
    });
    const all = JSON.stringify(await f.audit());
    assert.ok(!all.includes("o'brien@example.com") && !all.includes('ada@example.com'), 'no record holds a value');
  });

  it('without detokenise on the rule, a placeholder in a bound parameter stays a placeholder', async () => {
    await session('carol', carolKey, async (c) => {
      const { rows } = await c.query<{ email: string }>(`SELECT email FROM ${table} WHERE id = 1`);
      assert.equal((await c.query(`SELECT id FROM ${table} WHERE email = $1`, [rows[0]!.email])).rowCount, 0);
    });
  });

  it('audits the command as sent, names the placeholders and never the value', async () => {
    const command = await session('bot', botKey, async (c) => {
      const { rows } = await c.query<{ email: string }>(`SELECT email FROM ${table} WHERE id = 3`);
      const text = `SELECT id FROM ${table} WHERE email = '${rows[0]!.email}' /* audited */`;
      await c.query(text);
      return { text, placeholder: rows[0]!.email };
    });
    const decision = (await f.audit({ kind: 'decision' })).find((r) => r.command === command.text);
    assert.ok(decision, 'the decision record has the command with the placeholder');
    const [outcome] = await f.outcomes(decision.actionId);
    assert.deepEqual(outcome!.detail.detokenised, { placeholders: [command.placeholder] });
    assert.equal(outcome!.rows, 1);
    const all = JSON.stringify(await f.audit());
    assert.ok(!all.includes('grace@example.com'), 'no record holds the value');
  });

  it('refuses a placeholder outside a string literal (42501), and records why', async () => {
    await session('bot', botKey, async (c) => {
      const { rows } = await c.query<{ email: string }>(`SELECT email FROM ${table} WHERE id = 1`);
      const text = `SELECT id FROM ${table} WHERE email = ${rows[0]!.email}`;
      await assert.rejects(c.query(text), (e: pg.DatabaseError) => e.code === '42501' && /outside a string literal/.test(e.message));
      // The session goes on.
      assert.equal((await c.query('SELECT 1 AS one')).rows[0].one, 1);
      const decision = (await f.audit({ kind: 'decision' })).find((r) => r.command === text);
      const [outcome] = await f.outcomes(decision?.actionId);
      assert.equal(outcome!.detail.error, 'detokenise_refused');
      assert.match(outcome!.detail.detokenised.refused, /outside a string literal/);
    });
  });

  it('keeps scopes apart: a placeholder from another session is unknown here', async () => {
    const placeholder = await session('bot', botKey, async (c) => (await c.query<{ email: string }>(`SELECT email FROM ${table} WHERE id = 1`)).rows[0]!.email);
    await session('bot', botKey, async (c) => {
      await assert.rejects(c.query(`SELECT id FROM ${table} WHERE email = '${placeholder}'`), (e: pg.DatabaseError) => e.code === '42501' && /is unknown here/.test(e.message));
    });
  });

  it('without detokenise on the rule, a placeholder stays a placeholder and matches nothing', async () => {
    await session('carol', carolKey, async (c) => {
      const { rows } = await c.query<{ email: string }>(`SELECT email FROM ${table} WHERE id = 1`);
      assert.match(rows[0]!.email, PLACEHOLDER);
      const again = await c.query(`SELECT id FROM ${table} WHERE email = '${rows[0]!.email}'`);
      assert.equal(again.rowCount, 0);
    });
  });
});
