import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startDemoDatabase, type DemoDatabase } from '../../src/demo/database.js';
import { DEMO_COUNTS, generateDemoData, luhnValid, ORDER_STATUS_VALUES } from '../../src/demo/seed.js';
import { createPostgresConnector } from '../../src/connectors/postgres.js';
import type { Connector } from '../../src/connectors/connector.js';

const ctx = { session: 'demo-test' };
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

void describe('demo seed data', () => {
  void it('is deterministic', () => {
    assert.deepEqual(generateDemoData(), generateDemoData());
    assert.notDeepEqual(generateDemoData(1), generateDemoData(2));
  });

  void it('has realistic, fake customers', () => {
    const { customers, orders, products } = generateDemoData();
    assert.equal(customers.length, DEMO_COUNTS.customers);
    assert.equal(orders.length, DEMO_COUNTS.orders);
    assert.equal(products.length, DEMO_COUNTS.products);
    const emails = new Set(customers.map((c) => c.email));
    assert.equal(emails.size, customers.length, 'emails are unique');
    for (const c of customers) {
      assert.match(c.email, /^[a-z]+\.[a-z]+\d*@example\.(com|org|net)$/);
      assert.match(c.phone, /^\+\d{1,3}( \d{1,5})+$/);
      assert.ok(luhnValid(c.cardNumber), `${c.cardNumber} passes Luhn`);
      assert.match(c.cardNumber, /^\d{15,16}$/);
    }
    for (const o of orders) assert.ok(ORDER_STATUS_VALUES.includes(o.status));
  });

  void it('luhnValid accepts known test cards and rejects altered ones', () => {
    assert.equal(luhnValid('4111111111111111'), true);
    assert.equal(luhnValid('378282246310005'), true);
    assert.equal(luhnValid('4111111111111112'), false);
    assert.equal(luhnValid('4111-1111'), false);
  });
});

void describe('demo database', () => {
  let db: DemoDatabase;
  let pgc: Connector;

  before(async () => {
    db = await startDemoDatabase();
    pgc = createPostgresConnector({
      host: db.host,
      port: db.port,
      database: db.database,
      user: db.user,
      maxConnections: 1,
      cancelGraceMs: 300,
      statementTimeoutMs: 2000,
    });
  });

  after(async () => {
    await pgc?.close();
    await db?.stop();
  });

  void it('starts within a few seconds on a free local port', () => {
    assert.equal(db.host, '127.0.0.1');
    assert.ok(db.port > 0 && db.port !== 5432);
    console.log(`demo database started in ${db.startupMs} ms`);
    assert.ok(db.startupMs < 15_000, `started in ${db.startupMs} ms`);
  });

  void it('is seeded with the expected rows, queried through the postgres connector', async () => {
    const r = await pgc.execute(
      'SELECT (SELECT count(*) FROM customers)::int, (SELECT count(*) FROM orders)::int, (SELECT count(*) FROM products)::int',
      ctx,
    );
    assert.equal(r.ok, true, r.error?.message);
    assert.deepEqual(r.rows, [[DEMO_COUNTS.customers, DEMO_COUNTS.orders, DEMO_COUNTS.products]]);

    const first = generateDemoData().customers[0]!;
    const row = await pgc.execute('SELECT name, email, phone, card_number, country FROM customers WHERE id = 1', ctx);
    assert.deepEqual(row.rows, [[first.name, first.email, first.phone, first.cardNumber, first.country]]);
  });

  void it('holds Luhn-valid card numbers', async () => {
    const r = await pgc.execute('SELECT card_number FROM customers', ctx);
    assert.equal(r.rows?.length, DEMO_COUNTS.customers);
    for (const [card] of r.rows ?? []) assert.ok(luhnValid(String(card)), `${String(card)} passes Luhn`);
  });

  void it('accepts writes and joins like a normal server', async () => {
    const insert = await pgc.execute(
      "INSERT INTO customers (name, email, phone, card_number, country) VALUES ('Test Person', 'test.person@example.com', '+44 20 7946 0999', '4111111111111111', 'GB') RETURNING id",
      ctx,
    );
    assert.equal(insert.ok, true, insert.error?.message);
    assert.deepEqual(insert.rows, [[DEMO_COUNTS.customers + 1]], 'identity sequences continue after the seed');
    const join = await pgc.execute(
      'SELECT c.country, count(*)::int FROM orders o JOIN customers c ON c.id = o.customer_id GROUP BY 1 ORDER BY 2 DESC LIMIT 1',
      ctx,
    );
    assert.equal(join.ok, true);
    await pgc.execute("DELETE FROM customers WHERE email = 'test.person@example.com'", ctx);
  });

  void it('serves more than one client connection', async () => {
    const clients = [0, 1].map(() => new pg.Client({ host: db.host, port: db.port, user: db.user, database: db.database }));
    try {
      await Promise.all(clients.map((c) => c.connect()));
      const results = await Promise.all(clients.map((c, i) => c.query(`SELECT ${i} AS n, count(*)::int AS c FROM orders`)));
      assert.deepEqual(results.map((r) => r.rows[0] as unknown), [{ n: 0, c: 200 }, { n: 1, c: 200 }]);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  void it('keeps the gateway responsive during a slow query, and abort returns promptly', async () => {
    let ticks = 0;
    const interval = setInterval(() => ticks++, 10);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const started = Date.now();
    // PGlite ignores cancel requests: the connector closes the connection after cancelGraceMs.
    const r = await pgc.execute('SELECT pg_sleep(1.5)', { session: 's', signal: controller.signal });
    const elapsed = Date.now() - started;
    clearInterval(interval);
    assert.equal(r.error?.code, 'aborted');
    assert.ok(elapsed < 1200, `returned after ${elapsed} ms`);
    assert.ok(ticks >= 20, `the event loop ran (${ticks} ticks)`);
    // Once PGlite has finished the sleep, new commands work again.
    const next = await pgc.execute('SELECT 1', ctx);
    assert.deepEqual(next.rows, [[1]]);
  });
});

void describe('demo database lifecycle', () => {
  void it('stop() releases the port and is idempotent', async () => {
    const db = await startDemoDatabase();
    assert.equal(await canConnect(db.port), true);
    await db.stop();
    await db.stop();
    assert.equal(await canConnect(db.port), false);
  });

  void it('persists to a data directory and seeds it only once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-demo-db-'));
    try {
      const first = await startDemoDatabase({ dataDir: dir });
      const c1 = new pg.Client({ host: first.host, port: first.port, user: first.user, database: first.database });
      await c1.connect();
      await c1.query("UPDATE customers SET name = 'Renamed' WHERE id = 2");
      await c1.end();
      await first.stop();

      const second = await startDemoDatabase({ dataDir: dir });
      const c2 = new pg.Client({ host: second.host, port: second.port, user: second.user, database: second.database });
      await c2.connect();
      const r = await c2.query('SELECT (SELECT name FROM customers WHERE id = 2) AS name, (SELECT count(*)::int FROM customers) AS n');
      await c2.end();
      await second.stop();
      assert.deepEqual(r.rows[0], { name: 'Renamed', n: DEMO_COUNTS.customers });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  void it('leaves nothing behind that keeps the process alive', async () => {
    // A separate process that starts, uses and stops the database, then must exit by itself.
    const script = `
      import { startDemoDatabase } from './src/demo/database.ts';
      import { createPostgresConnector } from './src/connectors/postgres.ts';
      const db = await startDemoDatabase();
      const c = createPostgresConnector({ host: db.host, port: db.port, database: db.database, user: db.user, maxConnections: 1 });
      const r = await c.execute('SELECT count(*) FROM orders', { session: 'x' });
      await c.close();
      await db.stop();
      console.log(JSON.stringify(r.rows));
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    clearTimeout(killer);
    assert.equal(code, 0, `the process exited by itself (stderr: ${err})`);
    assert.equal(out.trim(), '[["200"]]');
  });
});
