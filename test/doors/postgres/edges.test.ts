// Edges of the door not covered elsewhere: a review nobody decides, and startup packets that
// are garbage. Each must end with a clear answer and nothing run, never a hang or a crash.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { directSql, uniqueName } from '../../helpers.js';
import { RawClient, errorFields, msg, startFixture, types, type DoorFixture } from './helpers.js';

const table = uniqueName('edges');

/** Sends raw bytes as the start of a connection; resolves with what came back before the door closed it. */
function rawStartup(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('the door neither answered nor closed within 10 s'));
    }, 10_000);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

describe('postgres door: edges', () => {
  let f: DoorFixture;
  let key: string;
  before(async () => {
    await directSql(`CREATE TABLE ${table} (id int)`);
    f = await startFixture({
      approvalTimeout: '1s',
      rules: [
        { name: 'writes-held', when: 'intent.class == "write"', effect: 'review' },
        { name: 'allow-all', effect: 'allow' },
      ],
    });
    key = await f.key('alice');
  });
  after(async () => {
    await f.close();
    await directSql(`DROP TABLE IF EXISTS ${table}`);
  });

  it('a review nobody decides expires: 42501 naming the review, nothing ran, the session goes on', { timeout: 30_000 }, async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    c.send(msg.query(`INSERT INTO ${table} VALUES (1)`));
    const notice = await c.next();
    assert.equal(notice.type, 'N');
    const reviewId = /review (rv_[A-Za-z0-9_-]+)/.exec(errorFields(notice).M!)?.[1];
    assert.ok(reviewId);
    const reply = await c.untilReady();
    assert.equal(types(reply), 'EZ');
    const error = errorFields(reply[0]!);
    assert.equal(error.C, '42501');
    assert.match(error.M!, new RegExp(`review ${reviewId} expired before anyone approved it`));
    assert.equal((await directSql(`SELECT * FROM ${table}`)).rowCount, 0);
    assert.equal((await f.runtime.store.getReview(reviewId))?.status, 'expired');
    c.send(msg.query('SELECT 1'));
    assert.equal(types(await c.untilReady()), 'TDCZ');
    c.close();
  });

  it('garbage startup packets are refused and the connection closed; the door keeps serving', { timeout: 60_000 }, async () => {
    const cases: [string, Buffer][] = [
      ['a length below the minimum', Buffer.from([0, 0, 0, 4, 0, 3, 0, 0])],
      ['a length of 2 GB', Buffer.from([0x7f, 0xff, 0xff, 0xff, 0, 3, 0, 0])],
      ['a negative length', Buffer.from([0xff, 0xff, 0xff, 0xf0, 0, 3, 0, 0])],
      ['an unknown protocol code', Buffer.from([0, 0, 0, 8, 0x12, 0x34, 0x56, 0x78])],
      ['parameters without terminators', Buffer.concat([Buffer.from([0, 0, 0, 17, 0, 3, 0, 0]), Buffer.from('user\0alice')])],
      ['an HTTP request', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
      ['random bytes', Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 73 + 11) & 0xff))],
    ];
    for (const [what, bytes] of cases) {
      const answer = await rawStartup(f.door.address.port, bytes);
      // Either nothing, or one ErrorResponse ('E'); never an authentication request.
      assert.ok(answer.length === 0 || answer[0] === 0x45, `${what}: got ${answer.subarray(0, 16).toString('hex')}`);
    }
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    c.send(msg.query('SELECT 1'));
    assert.equal(types(await c.untilReady()), 'TDCZ', 'the door still serves');
    c.close();
  });
});
