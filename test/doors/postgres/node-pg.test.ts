// node-postgres through the door, for what extended.test.ts does not cover: cancelling a
// running statement with node-postgres's own CancelRequest (and a wrong key cancelling
// nothing), a review held at Parse and decided, COPY FROM STDIN and COPY TO
// STDOUT streamed with pg-copy-streams (100k rows each way, back-pressure instead of
// buffering, COPY TO refused under masking), and a pool of 10 clients running 1000
// parameterised queries at once.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import pg from 'pg';
import { decideReview } from '../../../src/approvals/reviews.js';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { directSql, uniqueName } from '../../helpers.js';
import { eventually, startFixture, upstreamBackend, type DoorFixture } from './helpers.js';

const copied = uniqueName('copied_n');
const held = uniqueName('held_n');
// A hung relay must fail the test, not the run.
const LIMIT = { timeout: 120_000 };
const ROWS = 100_000;
/** About 400 bytes a row (40 MB in all): more than the socket buffers between door and client can hold. */
const note = (id: number) => `n${id}-${String.fromCharCode(97 + (id % 26)).repeat(400)}`;
const NOTE_SQL = `'n' || id || '-' || repeat(chr(97 + id % 26), 400)`;

/**
 * node-postgres has no public cancel API. Its Connection (exported) can send a CancelRequest;
 * the BackendKeyData it needs is what the client kept from the door (processID, secretKey).
 */
interface CancellingConnection {
  connect(port: number, host: string): void;
  cancel(processID: number, secretKey: number): void;
}
interface ClientKey {
  processID: number;
  secretKey: number;
}

describe('postgres door: node-postgres', () => {
  let f: DoorFixture;
  let alice: string;
  let carol: string;

  before(async () => {
    await directSql(`CREATE TABLE ${copied} (id int, note text)`);
    await directSql(`CREATE TABLE ${held} (id int, note text)`);
    f = await startFixture({
      profiles: { pii: { columns: ['email'], replacement: 'redact' } },
      rules: [
        { name: 'hold-held', when: 'intent.class == "write" && intent.tables.exists(t, t.startsWith("held_n"))', effect: 'review' },
        { name: 'analysts-masked', when: '"analysts" in principal.groups', effect: 'allow', mask: 'pii' },
        { name: 'others-unmasked', effect: 'allow' },
      ],
    });
    alice = await f.key('alice');
    carol = await f.key('carol');
  });

  after(async () => {
    await f?.close();
    await directSql(`DROP TABLE IF EXISTS ${copied}, ${held}`);
  });

  it('cancel: node-postgres\'s CancelRequest stops the upstream statement (57014), the backend is idle and the outcome failed', LIMIT, async () => {
    const app = uniqueName('pgcancel');
    const client = new pg.Client({ ...f.client('alice', alice), application_name: app });
    await client.connect();
    try {
      const sql = `SELECT pg_sleep(30) /* ${app} */`;
      const running = client.query(sql);
      const busy = await eventually('the statement to run upstream', async () => {
        const b = await upstreamBackend('alice', app);
        return b?.state === 'active' && b.query === sql ? b : undefined;
      });
      const clientKey = client as unknown as ClientKey;
      assert.notEqual(clientKey.processID, busy.pid, 'the client holds the door\'s cancel key, not the upstream backend\'s');
      const canceller = new pg.Connection();
      canceller.on('error', () => {});
      canceller.once('connect', () => (canceller as unknown as CancellingConnection).cancel(clientKey.processID, clientKey.secretKey));
      // The door closes the cancel connection once it has handled the request.
      const cancelHandled = once(canceller.stream, 'close');
      (canceller as unknown as CancellingConnection).connect(f.door.address.port, '127.0.0.1');
      await assert.rejects(running, (error: any) => {
        assert.equal(error.code, '57014');
        assert.match(error.message, /canceling statement due to user request/);
        return true;
      });
      await cancelHandled;
      const idle = await eventually('the backend to be idle', async () => {
        const b = await upstreamBackend('alice', app);
        return b?.state === 'idle' ? b : undefined;
      });
      assert.equal(idle.pid, busy.pid, 'the same upstream session, still open');
      assert.deepEqual((await client.query('SELECT 1 AS one')).rows, [{ one: 1 }], 'the session stays usable');
      const decision = (await f.audit({ kind: 'decision' })).find((r) => r.command === sql);
      const [outcome] = await f.outcomes(decision?.actionId);
      assert.equal(outcome?.outcome, 'failed');
      assert.equal(outcome?.detail?.error, '57014');
    } finally {
      await client.end();
    }
  });

  it('a CancelRequest with a wrong secret, or another session\'s key, cancels nothing', LIMIT, async () => {
    const app = uniqueName('nocancel');
    const a = new pg.Client({ ...f.client('alice', alice), application_name: app });
    const b = new pg.Client(f.client('alice', alice));
    await a.connect();
    await b.connect();
    try {
      const running = a.query(`SELECT pg_sleep(1.5), 'done' AS result /* ${app} */`);
      await eventually('the statement to run upstream', async () => ((await upstreamBackend('alice', app))?.state === 'active' ? true : undefined));
      const keyA = a as unknown as ClientKey;
      const keyB = b as unknown as ClientKey;
      for (const [processID, secretKey] of [
        [keyA.processID, keyA.secretKey ^ 1],
        [keyB.processID, keyB.secretKey],
      ] as const) {
        const canceller = new pg.Connection();
        canceller.on('error', () => {});
        canceller.once('connect', () => (canceller as unknown as CancellingConnection).cancel(processID, secretKey));
        const handled = once(canceller.stream, 'close');
        (canceller as unknown as CancellingConnection).connect(f.door.address.port, '127.0.0.1');
        await handled;
      }
      assert.equal((await running).rows[0].result, 'done', 'the statement ran to its end');
      assert.equal((await b.query('SELECT 2 AS two')).rows[0].two, 2);
    } finally {
      await a.end();
      await b.end();
    }
  });

  it('review through the extended protocol: a parameterised INSERT is held at Parse, runs when approved, is refused when rejected', LIMIT, async () => {
    const client = new pg.Client(f.client('alice', alice));
    await client.connect();
    try {
      const notices: string[] = [];
      client.on('notice', (n) => notices.push(n.message ?? ''));
      const insert = client.query(`INSERT INTO ${held} VALUES ($1, $2)`, [7, 'held']);
      const reviewId = await eventually('the review notice', async () => /review (rv_[A-Za-z0-9_-]+)/.exec(notices.join('\n'))?.[1]);
      assert.equal((await directSql(`SELECT * FROM ${held}`)).rowCount, 0, 'nothing runs while held');
      await decideReview(f.runtime.store, f.runtime.ledger, reviewId, 'approved', 'tester');
      assert.equal((await insert).rowCount, 1);
      assert.deepEqual((await directSql(`SELECT id, note FROM ${held}`)).rows, [{ id: 7, note: 'held' }]);
      const rejected = client.query(`INSERT INTO ${held} VALUES ($1, $2)`, [8, 'no']);
      const second = await eventually('the second review notice', async () => [...notices.join('\n').matchAll(/review (rv_[A-Za-z0-9_-]+)/g)].map((m) => m[1]).find((id) => id !== reviewId));
      await decideReview(f.runtime.store, f.runtime.ledger, second!, 'rejected', 'tester', 'not this one');
      await assert.rejects(rejected, (error: any) => error.code === '42501' && /rejected by tester: not this one/.test(error.message));
      assert.equal((await directSql(`SELECT * FROM ${held} WHERE id = 8`)).rowCount, 0);
      assert.equal((await client.query('SELECT $1::int AS n', [3])).rows[0].n, 3, 'the client stays usable');
    } finally {
      await client.end();
    }
  });

  it('COPY FROM STDIN streams 100k rows from a Readable, and COPY TO STDOUT streams them back under back-pressure', LIMIT, async () => {
    const app = uniqueName('pgcopy');
    const client = new pg.Client({ ...f.client('alice', alice), application_name: app });
    await client.connect();
    try {
      const source = Readable.from(
        (function* () {
          for (let start = 1; start <= ROWS; start += 1000) {
            let chunk = '';
            for (let id = start; id < start + 1000; id++) chunk += `${id}\t${note(id)}\n`;
            yield chunk;
          }
        })(),
      );
      const sink = client.query(copyFrom(`COPY ${copied} (id, note) FROM STDIN`));
      await pipeline(source, sink);
      assert.equal(sink.rowCount, ROWS);
      const stored = await directSql(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids, min(id) AS lo, max(id) AS hi, bool_and(note = ${NOTE_SQL}) AS intact FROM ${copied}`);
      assert.deepEqual(stored.rows[0], { n: ROWS, ids: ROWS, lo: 1, hi: ROWS, intact: true });

      const copyIn = (await f.audit({ kind: 'decision' })).find((r) => r.command === `COPY ${copied} (id, note) FROM STDIN`);
      const [inOutcome] = await f.outcomes(copyIn?.actionId);
      assert.equal(inOutcome?.outcome, 'succeeded');
      assert.equal(inOutcome?.rows, ROWS);

      // COPY TO: read one chunk, then stop reading. If the door buffered the result, the
      // server would finish; since it relays under back-pressure, the backend must wait to
      // write (ClientWrite) while the client holds only part of the rows.
      const sql = `COPY (SELECT id, note FROM ${copied} ORDER BY id) TO STDOUT`;
      const out = client.query(copyTo(sql));
      let rows = 0;
      let carry = '';
      const take = (chunk: Buffer) => {
        const lines = (carry + chunk.toString('utf8')).split('\n');
        carry = lines.pop()!;
        for (const line of lines) {
          rows++;
          const expected = `${rows}\t${note(rows)}`;
          if (line !== expected) assert.fail(`row ${rows}: got ${JSON.stringify(line.slice(0, 60))}...`);
        }
      };
      const [first] = (await once(out, 'data')) as [Buffer];
      out.pause();
      take(first);
      const blocked = await eventually('the backend to wait on ClientWrite', async () => {
        const b = await upstreamBackend('alice', app);
        return b?.state === 'active' && b.wait_event === 'ClientWrite' ? b : undefined;
      });
      assert.equal(blocked.query, sql);
      assert.ok(rows < ROWS, `the client has read ${rows} rows so far`);
      out.on('data', take);
      out.resume();
      await finished(out);
      assert.equal(carry, '', 'the stream ends at a row boundary');
      assert.equal(rows, ROWS);
      assert.equal(out.rowCount, ROWS);
      const copyOut = (await f.audit({ kind: 'decision' })).find((r) => r.command === sql);
      const [outOutcome] = await f.outcomes(copyOut?.actionId);
      assert.equal(outOutcome?.outcome, 'succeeded');
      assert.equal(outOutcome?.rows, ROWS);
    } finally {
      await client.end();
    }
  });

  it('COPY TO STDOUT is refused while a masking profile applies; the client stays usable', LIMIT, async () => {
    const client = new pg.Client(f.client('carol', carol));
    await client.connect();
    try {
      const out = client.query(copyTo(`COPY ${copied} TO STDOUT`));
      let received = 0;
      out.on('data', (chunk: Buffer) => (received += chunk.length));
      const [error] = (await once(out, 'error')) as [any];
      assert.equal(error.code, '42501');
      assert.match(error.message, /COPY \.\.\. TO is not allowed while masking profile "pii" applies/);
      assert.equal(received, 0, 'no copied data reached the client');
      assert.deepEqual((await client.query('SELECT $1::text AS ok', ['yes'])).rows, [{ ok: 'yes' }]);
    } finally {
      await client.end();
    }
  });

  it('a pool of 10 clients runs 1000 parameterised queries concurrently, each with its own result', LIMIT, async () => {
    const pool = new pg.Pool({ ...f.client('alice', alice), max: 10 });
    // pool.end() resolves once its clients have sent Terminate, not when their sockets have
    // closed; a door shut down right after may still say goodbye to a client the pool no
    // longer listens to. Errors after end() are expected; before it they fail the queries.
    let ended = false;
    pool.on('connect', (client) => client.on('error', (error) => { if (!ended) throw error; }));
    pool.on('error', (error) => { if (!ended) throw error; });
    const text = `SELECT $1::int * 2 AS doubled, $2::text AS tag, md5($2::text) AS digest, $3::text IS NULL AS was_null /* ${uniqueName('pool')} */`;
    try {
      const results = await Promise.all(
        Array.from({ length: 1000 }, (_, i) => pool.query(text, [i, `t${i}-é`, i % 7 === 0 ? null : 'x'])),
      );
      assert.equal(pool.totalCount, 10, 'all 10 clients were in use');
      results.forEach((r, i) => {
        const tag = `t${i}-é`;
        assert.deepEqual(r.rows, [{ doubled: i * 2, tag, digest: createHash('md5').update(tag).digest('hex'), was_null: i % 7 === 0 }]);
      });
    } finally {
      ended = true;
      await pool.end();
      // pool.end() does not wait for the sockets: wait until the door has let the sessions go.
      await eventually('the pool sessions to close', async () => (f.door.sessions === 0 ? true : undefined));
    }
    const decisions = (await f.audit({ kind: 'decision' })).filter((r) => r.command === text);
    assert.equal(decisions.length, 1000, 'one decision per Parse (node-postgres uses the unnamed statement)');
    assert.equal(new Set(decisions.map((d) => d.session)).size, 10, 'spread over the 10 door sessions');
  });

  it('bound parameter values reach the outcome records as keyed digests only, null for NULL', LIMIT, async () => {
    const client = new pg.Client(f.client('alice', alice));
    await client.connect();
    const secret = `s3cret-${uniqueName('param')}`;
    const text = `SELECT $1::text AS a, $2::text AS b /* ${uniqueName('params')} */`;
    try {
      await client.query(text, [secret, null]);
    } finally {
      await client.end();
    }
    const [decision] = (await f.audit({ kind: 'decision' })).filter((r) => r.command === text);
    const [outcome] = await f.outcomes(decision?.actionId);
    assert.deepEqual(outcome!.detail.params, [f.runtime.valueDigester!.digest(secret), null]);
    const bodies = await f.audit();
    assert.ok(!bodies.some((b) => JSON.stringify(b).includes(secret)), 'the value itself is in no record');
  });
});
