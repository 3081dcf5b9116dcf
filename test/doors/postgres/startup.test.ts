// Startup and authentication: TLS (generated certificate, sslmode=require and verify-full),
// GSSENCRequest, protocol versions, the API key as password and where it may be sent in
// cleartext, SCRAM with a verifier source, errors with their SQLSTATEs, limits, and client
// encodings that could hide statement text from analysis.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createKey } from '../../../src/identity/keys.js';
import { scramVerifier, startPostgresDoor, type ScramCredentials } from '../../../src/doors/postgres/index.js';
import { RawClient, cstr, dataRow, errorFields, frame, msg, psql, startFixture, startupPacket, types, type DoorFixture } from './helpers.js';

function nonLoopbackAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

describe('postgres door: startup and authentication', () => {
  let f: DoorFixture;
  let key: string;

  before(async () => {
    f = await startFixture({ connections: { sh: { kind: 'shell', cwd: '.' } }, door: { tls: { selfSignedDir: 'tls' }, maxConnections: 4 } });
    key = await f.key('alice');
  });

  after(async () => {
    await f?.close();
  });

  it('answers SSLRequest with TLS using a generated certificate that clients can verify', async () => {
    assert.equal(f.door.tls?.generated, true);
    const certFile = f.door.tls!.certFile!;
    assert.equal(certFile, join(f.dir, 'tls', 'postgres-door.crt'));
    const require = await psql(f.url('alice', key, 'test', 'sslmode=require'), '\\conninfo\n');
    assert.match(require.stdout, /SSL connection \(protocol: TLSv1\.[23]/);
    for (const host of ['localhost', '127.0.0.1']) {
      const url = `postgresql://alice:${encodeURIComponent(key)}@${host}:${f.door.address.port}/test?sslmode=verify-full&sslrootcert=${encodeURIComponent(certFile)}`;
      const verified = await psql(url, 'SELECT 1;\n');
      assert.equal(verified.code, 0, verified.stderr);
      assert.equal(verified.stdout.trim(), '1');
    }
  });

  it('keeps the generated certificate across restarts', async () => {
    const again = await startPostgresDoor(f.runtime, { address: { host: '127.0.0.1', port: 0 }, tls: { selfSignedDir: join(f.dir, 'tls') } });
    try {
      assert.equal(again.tls?.generated, false);
      assert.equal(again.tls?.fingerprint256, f.door.tls?.fingerprint256);
    } finally {
      await again.close();
    }
  });

  it('declines SSLRequest when TLS is off, so sslmode=require fails clearly', async () => {
    const plain = await startPostgresDoor(f.runtime, { address: { host: '127.0.0.1', port: 0 }, tls: false });
    try {
      const r = await psql(`postgresql://alice:${encodeURIComponent(key)}@127.0.0.1:${plain.address.port}/test?sslmode=require`, 'SELECT 1;\n');
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /server does not support SSL/);
      const ok = await psql(`postgresql://alice:${encodeURIComponent(key)}@127.0.0.1:${plain.address.port}/test?sslmode=disable`, 'SELECT 1;\n');
      assert.equal(ok.stdout.trim(), '1', 'loopback clients may send the key without TLS by default');
    } finally {
      await plain.close();
    }
  });

  it('refuses GSSENCRequest cleanly and goes on with the startup', async () => {
    const c = await RawClient.connect(f.door.address.port);
    const gss = Buffer.alloc(8);
    gss.writeInt32BE(8, 0);
    gss.writeInt32BE(80877104, 4);
    c.send(gss);
    const answer = await new Promise<Buffer>((resolve) => c.socket.once('data', resolve));
    assert.equal(answer.toString(), 'N');
    c.close();
    const r = await psql(f.url('alice', key, 'test', 'gssencmode=prefer&sslmode=disable'), 'SELECT 2;\n');
    assert.equal(r.stdout.trim(), '2');
  });

  it('rejects unencrypted bytes sent after SSLRequest (no injection before the handshake)', async () => {
    const c = await RawClient.connect(f.door.address.port);
    const ssl = Buffer.alloc(8);
    ssl.writeInt32BE(8, 0);
    ssl.writeInt32BE(80877103, 4);
    c.send(ssl, msg.query('SELECT 1'));
    const got = await c.untilClosed();
    assert.equal(got.length, 1);
    assert.equal(errorFields(got[0]!).C, '08P01');
  });

  it('fails a wrong key with 28P01, and a key of another identity too', async () => {
    const wrong = await RawLogin(f.door.address.port, 'alice', 'slk_AAAAAAAAAAAA_' + 'A'.repeat(43));
    assert.equal(wrong.C, '28P01');
    assert.match(wrong.M!, /password authentication failed for user "alice"/);
    const carolKey = await f.key('carol');
    const other = await RawLogin(f.door.address.port, 'alice', carolKey);
    assert.equal(other.C, '28P01');
    const notAKey = await RawLogin(f.door.address.port, 'alice', 'hunter2');
    assert.equal(notAKey.C, '28P01');
  });

  it('says when a key is revoked, and refuses a key whose kind contradicts the config', async () => {
    const created = await createKey(f.runtime.store, { principal: 'alice', kind: 'human', groups: [] });
    await f.runtime.store.revokeKey(created.record.id, new Date().toISOString());
    const revoked = await RawLogin(f.door.address.port, 'alice', created.key);
    assert.equal(revoked.C, '28P01');
    assert.match(revoked.M!, /revoked/);
    const agentKey = await createKey(f.runtime.store, { principal: 'alice', kind: 'agent', groups: [] });
    const mismatch = await RawLogin(f.door.address.port, 'alice', agentKey.key);
    assert.equal(mismatch.C, '28000');
    assert.match(mismatch.M!, /declares "alice" as a human/);
  });

  it('an unknown database name, or a connection that is not postgres, is 3D000 (after authentication)', async () => {
    const unknown = await RawLogin(f.door.address.port, 'alice', key, 'nope');
    assert.equal(unknown.C, '3D000');
    assert.match(unknown.M!, /no postgres connection named "nope"/);
    assert.match(unknown.H!, /postgres connections: test/);
    const shell = await RawLogin(f.door.address.port, 'alice', key, 'sh');
    assert.equal(shell.C, '3D000');
    assert.match(shell.M!, /is a shell connection/);
    const unauthenticated = await RawLogin(f.door.address.port, 'alice', 'wrong', 'nope');
    assert.equal(unauthenticated.C, '28P01', 'connection names are not revealed before authentication');
  });

  it('refuses protocol 2, replication connections and a missing user', async () => {
    for (const [packet, code] of [
      [startupPacket({ user: 'alice', database: 'test' }, 131072), '0A000'],
      [startupPacket({ user: 'alice', database: 'test', replication: 'database' }), '0A000'],
      [startupPacket({ database: 'test' }), '28000'],
    ] as const) {
      const c = await RawClient.connect(f.door.address.port);
      c.send(packet);
      const got = await c.untilClosed();
      assert.equal(errorFields(got[0]!).C, code);
    }
  });

  it('negotiates protocol 3.0 with a client asking for 3.2 and protocol options', async () => {
    const c = await RawClient.connect(f.door.address.port);
    c.send(startupPacket({ user: 'alice', database: 'test', '_pq_.something': 'on' }, 196610));
    const v = await c.next();
    assert.equal(v.type, 'v');
    assert.equal(v.bytes.readInt32BE(5), 196608);
    assert.equal(v.bytes.readInt32BE(9), 1);
    assert.equal(v.bytes.toString('utf8', 13, v.bytes.length - 1), '_pq_.something');
    const auth = await c.next();
    assert.equal(auth.type, 'R');
    c.close();
  });

  it('ignores startup options that would bypass policy (e.g. options=-c search_path) with a notice', async () => {
    const c = await RawClient.connect(f.door.address.port);
    c.send(startupPacket({ user: 'alice', database: 'test', options: '-c search_path=evil' }));
    await c.next();
    c.send(frame('p', cstr(key)));
    const startup = await c.untilReady();
    const notice = startup.find((m) => m.type === 'N');
    assert.ok(notice);
    assert.match(errorFields(notice).M!, /ignored these startup parameters: options/);
    c.send(msg.query('SHOW search_path'));
    const shown = await c.untilReady();
    assert.doesNotMatch(String(dataRow(shown[1]!)[0]), /evil/);
    c.close();
  });

  it('limits the number of sessions with 53300', async () => {
    const open = await Promise.all([1, 2, 3, 4].map(() => RawClient.login(f.door.address.port, 'alice', key)));
    const refused = await RawLogin(f.door.address.port, 'alice', key);
    assert.equal(refused.C, '53300');
    for (const c of open) c.close();
  });

  it('refuses client encodings whose bytes can hide quotes from analysis, at startup and later', async () => {
    const atStartup = await RawLogin(f.door.address.port, 'alice', key, 'test', { client_encoding: 'GBK' });
    assert.equal(atStartup.C, '22023');
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    c.send(msg.query(`SET client_encoding TO 'SJIS'`));
    const closing = await c.untilClosed();
    const fatal = closing.find((m) => m.type === 'E');
    assert.ok(fatal);
    assert.equal(errorFields(fatal).C, '22023');
    assert.equal(errorFields(fatal).S, 'FATAL');
  });

  it('refuses non-ASCII text pipelined behind a statement that may change client_encoding', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    c.send(msg.query(`SET application_name TO 'x'`), msg.query(`SELECT 'é'`));
    const first = await c.untilReady();
    assert.equal(types(first), 'CSZ', 'SET answers CommandComplete, ParameterStatus, ReadyForQuery');
    const second = await c.untilReady();
    assert.equal(errorFields(second[0]!).C, '55000');
    c.send(msg.query(`SELECT 'é'`));
    assert.deepEqual(dataRow((await c.untilReady())[1]!), ['é']);
    c.close();
  });

  it('refuses statement text that is not valid UTF-8', async () => {
    const c = await RawClient.login(f.door.address.port, 'alice', key);
    c.send(frame('Q', Buffer.concat([Buffer.from("SELECT '"), Buffer.from([0xc3, 0x28]), Buffer.from("'"), Buffer.from([0])])));
    const reply = await c.untilReady();
    assert.equal(errorFields(reply[0]!).C, '22021');
    c.close();
  });

  it('closes a client that does not finish startup in time', async () => {
    const door = await startPostgresDoor(f.runtime, { address: { host: '127.0.0.1', port: 0 }, authTimeoutMs: 200 });
    try {
      const c = await RawClient.connect(door.address.port);
      const got = await c.untilClosed();
      assert.equal(errorFields(got[0]!).C, '08006');
    } finally {
      await door.close();
    }
  });

  const external = nonLoopbackAddress();
  it('accepts the key in cleartext from a non-loopback address only inside TLS', { skip: external ? false : 'no non-loopback IPv4 address on this machine' }, async () => {
    const door = await startPostgresDoor(f.runtime, { address: { host: '0.0.0.0', port: 0 }, tls: { selfSignedDir: join(f.dir, 'tls') } });
    try {
      const base = `postgresql://alice:${encodeURIComponent(key)}@${external}:${door.address.port}/test`;
      const plain = await psql(`${base}?sslmode=disable`, 'SELECT 1;\n');
      assert.notEqual(plain.code, 0);
      assert.match(plain.stderr, /only over TLS/);
      const tls = await psql(`${base}?sslmode=require`, 'SELECT 1;\n');
      assert.equal(tls.stdout.trim(), '1', tls.stderr);
    } finally {
      await door.close();
    }
  });

  it('uses SCRAM-SHA-256 when a verifier source is configured (psql and node-postgres)', async () => {
    const salt = randomBytes(16);
    const keys = [await createKey(f.runtime.store, { principal: 'carol', kind: 'human', groups: [] }), await createKey(f.runtime.store, { principal: 'carol', kind: 'human', groups: [] })];
    const source = async (user: string): Promise<ScramCredentials | undefined> =>
      user === 'carol' ? { salt, iterations: 4096, candidates: keys.map((k) => ({ verifier: scramVerifier(k.key, salt, 4096), keyId: k.record.id })) } : undefined;
    const door = await startPostgresDoor(f.runtime, { address: { host: '127.0.0.1', port: 0 }, plaintextPassword: 'never', scram: source });
    try {
      const url = (k: string) => `postgresql://carol:${encodeURIComponent(k)}@127.0.0.1:${door.address.port}/test?sslmode=disable`;
      const r = await psql(url(keys[1]!.key), 'SELECT current_user IS NOT NULL;\n');
      assert.equal(r.stdout.trim(), 't', r.stderr);
      const bad = await psql(url(keys[0]!.key.slice(0, -1) + 'x'), 'SELECT 1;\n');
      assert.match(bad.stderr, /password authentication failed for user "carol"/);
      const client = new pg.Client({ host: '127.0.0.1', port: door.address.port, user: 'carol', password: keys[0]!.key, database: 'test' });
      await client.connect();
      assert.equal((await client.query('SELECT 3 AS n')).rows[0].n, 3);
      await client.end();
      await f.runtime.store.revokeKey(keys[0]!.record.id, new Date().toISOString());
      const revoked = await psql(url(keys[0]!.key), 'SELECT 1;\n');
      assert.match(revoked.stderr, /password authentication failed/);
      // No verifier for alice and cleartext is off: refused with a clear message.
      const none = await psql(`postgresql://alice:${encodeURIComponent(key)}@127.0.0.1:${door.address.port}/test?sslmode=disable`, 'SELECT 1;\n');
      assert.match(none.stderr, /only from loopback clients|only over TLS/);
    } finally {
      await door.close();
    }
  });
});

/** Logs in with a raw client expecting failure; returns the error fields. */
async function RawLogin(port: number, user: string, key: string, database = 'test', extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const c = await RawClient.connect(port);
  c.send(startupPacket({ user, database, ...extra }));
  for (;;) {
    const m = await c.next();
    if (m.type === 'R' && m.bytes.readInt32BE(5) === 3) c.send(frame('p', cstr(key)));
    else if (m.type === 'E') {
      c.close();
      return errorFields(m);
    } else if (m.type === 'Z') {
      c.close();
      throw new Error('login unexpectedly succeeded');
    }
  }
}
