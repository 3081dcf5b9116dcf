// Content masking through the PostgreSQL door with psql: free-text columns are scanned when
// the profile has detectors, columns named for their content are replaced whole, other
// types and clean values pass as they were, placeholders are stable within a session and
// differ across sessions, and the outcome record counts findings per type (no values).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { directSql, uniqueName } from '../helpers.js';
import { RawClient, dataRow, msg, psql, startFixture, type DoorFixture } from '../doors/postgres/helpers.js';

const tickets = uniqueName('tickets_m');

describe('masking through the PostgreSQL door', () => {
  let f: DoorFixture;
  let carol: string;

  before(async () => {
    await directSql(`CREATE TABLE ${tickets} (id int PRIMARY KEY, body text, contact_email text, opened date, amount numeric, meta jsonb)`);
    await directSql(
      `INSERT INTO ${tickets} VALUES
        (1, 'Customer ada@example.com cannot pay with 4242 4242 4242 4242', 'ada@example.com', '2024-03-05', 12.50, '{"phone": "+1 415 555 0132"}'),
        (2, 'Order ORD-2024-004512 shipped; tracking 1Z999AA10123456784', 'grace@example.com', '2024-03-06', 99.90, '{"ok": true}'),
        (3, 'Again from ada@example.com, DB_PASSWORD=hunter22', NULL, '2024-03-07', 1, NULL)`,
    );
    f = await startFixture({
      profiles: { content: { detectors: ['all'] }, plain: { columns: ['contact_email'], replacement: 'redact' } },
      rules: [
        { name: 'analysts-content', when: '"analysts" in principal.groups', effect: 'allow', mask: 'content' },
        { name: 'others', effect: 'allow', mask: 'plain' },
      ],
    });
    carol = await f.key('carol');
  });

  after(async () => {
    await f?.close();
    await directSql(`DROP TABLE IF EXISTS ${tickets}`);
  });

  it('psql: free text is scanned, named columns replaced whole, other values intact', async () => {
    const r = await psql(f.url('carol', carol), `SELECT id, body, contact_email, opened, amount, meta FROM ${tickets} ORDER BY id;\n`);
    assert.equal(r.code, 0, r.stderr);
    const rows = r.stdout.trim().split('\n').map((line) => line.split('|'));
    const email = rows[0]![1]!.match(/SLUICE_EMAIL_[b-v]{14}/)![0];
    assert.match(rows[0]![1]!, new RegExp(`^Customer ${email} cannot pay with SLUICE_CARD_[b-v]{14}$`));
    assert.equal(rows[0]![2], email, 'the column named email gets the same placeholder as the value in text');
    assert.equal(rows[0]![3], '2024-03-05');
    assert.equal(rows[0]![4], '12.50');
    assert.match(rows[0]![5]!, /^\{"phone": "SLUICE_PHONE_[b-v]{14}"\}$/);
    assert.deepEqual(rows[1]!.slice(1, 2), ['Order ORD-2024-004512 shipped; tracking 1Z999AA10123456784'], 'look-alikes untouched');
    assert.match(rows[2]![1]!, new RegExp(`^Again from ${email}, DB_PASSWORD=SLUICE_SECRET_[b-v]{14}$`), 'stable within the session');
    assert.equal(rows[2]![2], '');
    assert.ok(!r.stdout.includes('ada@example.com') && !r.stdout.includes('hunter22') && !r.stdout.includes('4242'));

    const again = await psql(f.url('carol', carol), `SELECT contact_email FROM ${tickets} WHERE id = 1;\n`);
    assert.match(again.stdout.trim(), /^SLUICE_EMAIL_[b-v]{14}$/);
    assert.notEqual(again.stdout.trim(), email, 'another session, another placeholder (scope: session)');
  });

  it('the extended protocol (node-postgres style) and an alias that hides the column name', async () => {
    const c = await RawClient.login(f.door.address.port, 'carol', carol);
    c.send(msg.parse('', `SELECT body AS b, id FROM ${tickets} WHERE id = 3`), msg.bind('', ''), msg.describe('P', ''), msg.execute(''), msg.sync());
    const reply = await c.untilReady();
    const row = dataRow(reply.find((m) => m.type === 'D')!);
    assert.match(row[0]!, /^Again from SLUICE_EMAIL_[b-v]{14}, DB_PASSWORD=SLUICE_SECRET_[b-v]{14}$/);
    assert.equal(row[1], '3');
    c.close();
  });

  it('records findings per type in the outcome, never the values', async () => {
    const sql = `SELECT body, meta FROM ${tickets} WHERE id IN (1, 2) ORDER BY id /* types */`;
    const c = await RawClient.login(f.door.address.port, 'carol', carol);
    c.send(msg.query(sql));
    await c.untilReady();
    c.close();
    const decision = (await f.audit({ kind: 'decision' })).find((r) => r.command === sql);
    const [outcome] = await f.outcomes(decision?.actionId);
    // The values themselves only as keyed digests (audit search finds them).
    const d = f.runtime.valueDigester!;
    assert.deepEqual(outcome?.detail?.masked, {
      columns: ['body', 'meta'],
      values: 2,
      types: { email: 1, card: 1, phone: 1 },
      digests: ['ada@example.com', '4242 4242 4242 4242', '+1 415 555 0132'].map((v) => d.digest(v)),
    });
    assert.ok(!JSON.stringify(outcome).includes('ada@example.com'));
  });

  it('a plain column profile keeps the fast path: text columns are not scanned', async () => {
    const alice = await f.key('alice');
    const r = await psql(f.url('alice', alice), `SELECT body, contact_email FROM ${tickets} WHERE id = 1;\n`);
    assert.equal(r.stdout.trim(), 'Customer ada@example.com cannot pay with 4242 4242 4242 4242|[masked]');
  });
});
