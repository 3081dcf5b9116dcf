// The relay between client and upstream: cancel through the door, notices and notifications,
// COPY IN, Terminate, malformed, truncated and oversized frames, a client that disconnects
// in the middle of a result, a client that stops reading (back-pressure reaches the server),
// an upstream backend that is terminated, and the idle timeout.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { startPostgresDoor } from '../../../src/doors/postgres/index.js';
import { directSql, uniqueName } from '../../helpers.js';
import { RawClient, errorFields, eventually, frame, msg, psql, startFixture, types, type DoorFixture } from './helpers.js';

const copied = uniqueName('copied_r');

async function backend(app: string): Promise<{ pid: number; state: string; wait_event: string | null; query: string } | undefined> {
  const r = await directSql(`SELECT pid, state, wait_event, query FROM pg_stat_activity WHERE application_name = $1`, [`sluice/alice/${app}`]);
  return r.rows[0] as any;
}

describe('postgres door: relay', () => {
  let f: DoorFixture;
  let key: string;

  before(async () => {
    await directSql(`CREATE TABLE ${copied} (id int, note text)`);
    f = await startFixture();
    key = await f.key('alice');
  });

  after(async () => {
    await f?.close();
    await directSql(`DROP TABLE IF EXISTS ${copied}`);
  });

  it('psql Ctrl-C: the CancelRequest to Sluice cancels the right upstream query', async () => {
    const app = uniqueName('cancel');
    const child = spawn('psql', ['-X', '-d', f.url('alice', key, 'test', `application_name=${app}`), '-c', 'SELECT pg_sleep(60)'], { env: { PATH: process.env.PATH ?? '' } });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    await eventually('the query to run upstream', async () => ((await backend(app))?.state === 'active' ? true : undefined));
    child.kill('SIGINT');
    await exited;
    assert.match(stderr, /canceling statement due to user request/);
  });

  it('relays NoticeResponse and NotificationResponse (LISTEN/NOTIFY)', async () => {
    const channel = uniqueName('chan');
    const listener = await RawClient.login(f.door.address.port, 'alice', key);
    listener.send(msg.query(`LISTEN ${channel}`));
    await listener.untilReady();
    const notifier = await RawClient.login(f.door.address.port, 'alice', key);
    notifier.send(msg.query(`DO $$ BEGIN RAISE NOTICE 'hello from plpgsql'; END $$; NOTIFY ${channel}, 'payload-1'`));
    const reply = await notifier.untilReady();
    const notice = reply.find((m) => m.type === 'N');
    assert.equal(errorFields(notice!).M, 'hello from plpgsql');
    const note = await listener.next();
    assert.equal(note.type, 'A');
    assert.match(note.bytes.toString('utf8'), new RegExp(`${channel}\\u0000payload-1`));
    listener.close();
    notifier.close();
  });

  it('COPY FROM STDIN through psql \\copy, and CopyFail', async () => {
    const data = Array.from({ length: 1000 }, (_, i) => `${i}\tline ${i}`).join('\n') + '\n';
    const r = await psql(f.url('alice', key), `\\copy ${copied} from stdin\n${data}\\.\nSELECT count(*) FROM ${copied};\n`);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), '1000');
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    c.send(msg.query(`COPY ${copied} FROM STDIN`));
    const started = await c.next();
    assert.equal(started.type, 'G');
    c.send(frame('d', Buffer.from('5000\tnever\n')), frame('f', Buffer.from('client gave up\0')));
    const failed = await c.untilReady();
    assert.equal(errorFields(failed[0]!).C, '57014');
    c.close();
    assert.equal((await directSql(`SELECT count(*)::int AS n FROM ${copied} WHERE id = 5000`)).rows[0]!.n, 0);
  });

  it('Terminate closes the session and its upstream backend', async () => {
    const app = uniqueName('term');
    const c = await RawClient.login(f.door.address.port, 'alice', key, 'test', { application_name: app });
    assert.ok(await backend(app));
    c.send(msg.terminate());
    await c.untilClosed();
    await eventually('the backend to go', async () => ((await backend(app)) ? undefined : true));
  });

  it('an invalid message type is a FATAL protocol violation', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    c.send(frame('Y', Buffer.from('junk')));
    const got = await c.untilClosed();
    assert.equal(errorFields(got[0]!).C, '08P01');
    assert.equal(errorFields(got[0]!).S, 'FATAL');
  });

  it('an impossible message length is a FATAL protocol violation', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    c.send(Buffer.from([0x51, 0, 0, 0, 2]));
    const got = await c.untilClosed();
    assert.equal(errorFields(got[0]!).C, '08P01');
  });

  it('a malformed body (a Parse without its terminators) is a protocol violation, not a crash', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    c.send(frame('P', Buffer.from('nameless')));
    const got = await c.untilClosed();
    assert.equal(errorFields(got[0]!).C, '08P01');
    const again = await RawClient.login(f.door.address.port, 'alice', key);
    again.send(msg.query('SELECT 1'));
    assert.equal(types(await again.untilReady()), 'TDCZ');
    again.close();
  });

  it('a truncated frame followed by a disconnect leaves nothing behind', async () => {
    const app = uniqueName('trunc');
    const c = await RawClient.login(f.door.address.port, 'alice', key, 'test', { application_name: app });
    const whole = msg.query('SELECT 1');
    c.send(whole.subarray(0, whole.length - 3));
    c.close();
    await eventually('the backend to go', async () => ((await backend(app)) ? undefined : true));
  });

  it('a message over the size limit is refused with 54000', async () => {
    const door = await startPostgresDoor(f.runtime, { address: { host: '127.0.0.1', port: 0 }, maxMessageSize: 1024 });
    try {
      const c = await RawClient.login(door.address.port, 'alice', key);
      c.send(msg.query(`SELECT '${'x'.repeat(2000)}'`));
      const got = await c.untilClosed();
      assert.equal(errorFields(got[0]!).C, '54000');
      assert.match(errorFields(got[0]!).M!, /more than the limit of 1024 bytes/);
    } finally {
      await door.close();
    }
  });

  it('a large statement (512 kB) and a large result value pass with the default limit', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    const big = 'y'.repeat(512 * 1024);
    c.send(msg.query(`SELECT length('${big}'), repeat('z', 4000000)`));
    const reply = await c.untilReady();
    assert.equal(types(reply), 'TDCZ');
    assert.ok(reply[1]!.bytes.length > 4_000_000);
    c.close();
  });

  it('a client that disconnects in the middle of a result: the upstream query stops and the outcome is recorded', async () => {
    const app = uniqueName('midres');
    const sql = `SELECT g, repeat('x', 500) FROM generate_series(1, 20000000) g /* ${app} */`;
    const c = await RawClient.login(f.door.address.port, 'alice', key, 'test', { application_name: app });
    c.send(msg.query(sql));
    for (let i = 0; i < 100; i++) await c.next();
    c.close();
    await eventually('the upstream query to stop', async () => {
      const b = await backend(app);
      return b === undefined || b.state !== 'active' ? true : undefined;
    });
    const decision = (await f.audit({ kind: 'decision' })).find((r) => r.command === sql);
    const outcome = await eventually('the outcome record', async () => (await f.audit({ kind: 'outcome' })).find((r) => r.actionId === decision?.actionId));
    assert.equal(outcome.outcome, 'failed');
    assert.equal(outcome.detail.error, 'connection_lost');
  });

  it('a client that stops reading: back-pressure reaches the server, and nothing is lost when it reads again', async () => {
    const app = uniqueName('slow');
    const rows = 200_000;
    const c = await RawClient.login(f.door.address.port, 'alice', key, 'test', { application_name: app });
    c.socket.pause();
    c.send(msg.query(`SELECT g, repeat('x', 1000) FROM generate_series(1, ${rows}) g`));
    // The backend waits to write to Sluice: Sluice stopped reading because the client did.
    const blocked = await eventually('the backend to wait on ClientWrite', async () => {
      const b = await backend(app);
      return b?.wait_event === 'ClientWrite' ? b : undefined;
    });
    assert.equal(blocked.state, 'active');
    c.socket.resume();
    let dataRows = 0;
    for (;;) {
      const m = await c.next();
      if (m.type === 'D') dataRows++;
      if (m.type === 'Z') break;
    }
    assert.equal(dataRows, rows);
    c.close();
  });

  it('relays the FATAL of a terminated upstream backend and closes the session', async () => {
    const app = uniqueName('killed');
    const c = await RawClient.login(f.door.address.port, 'alice', key, 'test', { application_name: app });
    const b = await backend(app);
    await directSql('SELECT pg_terminate_backend($1)', [b!.pid]);
    const got = await c.untilClosed();
    const errors = got.filter((m) => m.type === 'E');
    assert.equal(errors.length, 1, 'one FATAL, the server\'s own');
    assert.equal(errorFields(errors[0]!).C, '57P01');
  });

  it('closes a session idle for longer than the idle timeout with 57P05', async () => {
    const door = await startPostgresDoor(f.runtime, { address: { host: '127.0.0.1', port: 0 }, idleTimeoutMs: 300 });
    try {
      const c = await RawClient.login(door.address.port, 'alice', key);
      c.send(msg.query('SELECT pg_sleep(0.6)'));
      const reply = await c.untilReady();
      assert.equal(types(reply), 'TDCZ', 'a running statement is not idle');
      const got = await c.untilClosed();
      assert.equal(errorFields(got[0]!).C, '57P05');
    } finally {
      await door.close();
    }
  });
});
