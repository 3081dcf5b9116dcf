// The upstream leg with injected credentials, against a private PostgreSQL instance started
// for this file (the connector tests' SCRAM helper, then reconfigured over SQL): SCRAM-SHA-256,
// md5, cleartext password, TLS with a verified CA, wrong and missing passwords, an unreachable
// server. The client only ever presents its Sluice key.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chown, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import pg from 'pg';
import { generateSelfSignedCertificate } from '../../../src/doors/postgres/index.js';
import { startScramServer, type ScramServer } from '../../connectors/helpers/scram-postgres.js';
import { RawClient, dataRow, errorFields, msg, psql, startFixture, type DoorFixture } from './helpers.js';

const run = promisify(execFile);
const PASSWORDS = { scram: 'scr-pw-7Hq', md5: 'md5-pw-9Kd', plain: 'plain-pw-3Xz', tls: 'tls-pw-5Wm' };

describe('postgres door: upstream authentication and TLS', () => {
  let server: ScramServer | undefined;
  let f: DoorFixture;
  let key: string;
  let skip: string | false = false;

  before(async () => {
    server = await startScramServer();
    if (!server) {
      skip = 'PostgreSQL server binaries not installed';
      return;
    }
    const owner = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: server.database });
    await owner.connect();
    try {
      await owner.query(`CREATE ROLE u_scram LOGIN PASSWORD '${PASSWORDS.scram}'`);
      await owner.query(`CREATE ROLE u_tls LOGIN PASSWORD '${PASSWORDS.tls}'`);
      await owner.query(`CREATE ROLE u_plain LOGIN PASSWORD '${PASSWORDS.plain}'`);
      await owner.query(`SET password_encryption = 'md5'`);
      await owner.query(`CREATE ROLE u_md5 LOGIN PASSWORD '${PASSWORDS.md5}'`);
      const dataDir = (await owner.query('SHOW data_directory')).rows[0].data_directory as string;
      const hbaFile = (await owner.query('SHOW hba_file')).rows[0].hba_file as string;
      const cert = generateSelfSignedCertificate({ hosts: ['localhost', '127.0.0.1'] });
      const certFile = join(dataDir, 'server.crt');
      const keyFile = join(dataDir, 'server.key');
      await writeFile(certFile, cert.certPem, { mode: 0o644 });
      await writeFile(keyFile, cert.keyPem, { mode: 0o600 });
      await writeFile(hbaFile, [
        'local all all scram-sha-256',
        'hostssl all u_tls 127.0.0.1/32 scram-sha-256',
        'host all u_tls 127.0.0.1/32 reject',
        'host all u_md5 127.0.0.1/32 md5',
        'host all u_plain 127.0.0.1/32 password',
        'host all all 127.0.0.1/32 scram-sha-256',
        '',
      ].join('\n'));
      if (process.getuid?.() === 0) {
        const uid = Number((await run('id', ['-u', 'postgres'])).stdout.trim());
        const gid = Number((await run('id', ['-g', 'postgres'])).stdout.trim());
        for (const file of [certFile, keyFile, hbaFile]) await chown(file, uid, gid);
      }
      await owner.query(`ALTER SYSTEM SET ssl = on`);
      await owner.query(`SELECT pg_reload_conf()`);
      // The CA file clients of this server trust: the certificate itself.
      await writeFile(join(dataDir, '..', 'ca.pem'), cert.certPem);
    } finally {
      await owner.end();
    }
    const base = { kind: 'postgres', host: server.host, port: server.port, database: 'postgres' };
    process.env.SLUICE_PGDOOR_TEST_MD5 = PASSWORDS.md5;
    f = await startFixture({
      connections: {
        scram: { ...base, user: 'u_scram', password: { value: PASSWORDS.scram } },
        md5: { ...base, user: 'u_md5', password: { env: 'SLUICE_PGDOOR_TEST_MD5' } },
        plain: { ...base, user: 'u_plain', password: { value: PASSWORDS.plain } },
        tls: { ...base, host: 'localhost', user: 'u_tls', password: { value: PASSWORDS.tls }, ssl: { reject_unauthorized: true, ca_file: join(await dataDirParent(server), 'ca.pem') } },
        tls_wrong_ca: { ...base, host: 'localhost', user: 'u_tls', password: { value: PASSWORDS.tls }, ssl: true },
        no_tls_for_tls_user: { ...base, user: 'u_tls', password: { value: PASSWORDS.tls } },
        bad_password: { ...base, user: 'u_scram', password: { value: 'not-the-password' } },
        no_password: { ...base, user: 'u_scram' },
        down: { ...base, user: 'u_scram', port: 1 },
      },
    });
    key = await f.key('alice');
  });

  after(async () => {
    await f?.close();
    await server?.stop();
    delete process.env.SLUICE_PGDOOR_TEST_MD5;
  });

  for (const [connection, user] of [['scram', 'u_scram'], ['md5', 'u_md5'], ['plain', 'u_plain']] as const) {
    it(`logs in upstream with ${connection} and the configured user; the client only knows its Sluice key`, async (t) => {
      if (skip) return t.skip(skip);
      const r = await psql(f.url('alice', key, connection), 'SELECT current_user;\n');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), user);
    });
  }

  it('uses TLS upstream with a verified CA when the connection says ssl', async (t) => {
    if (skip) return t.skip(skip);
    const r = await psql(f.url('alice', key, 'tls'), 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 't');
  });

  it('refuses an upstream certificate that does not verify', async (t) => {
    if (skip) return t.skip(skip);
    const r = await psql(f.url('alice', key, 'tls_wrong_ca'), 'SELECT 1;\n');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /FATAL: {2}Sluice cannot reach the upstream database of connection "tls_wrong_ca"/);
  });

  it('reports upstream credential problems as such (08004), never revealing the password', async (t) => {
    if (skip) return t.skip(skip);
    const bad = await psql(f.url('alice', key, 'bad_password'), 'SELECT 1;\n');
    assert.match(bad.stderr, /FATAL: {2}the upstream database of connection "bad_password" refused Sluice's configured credentials/);
    assert.doesNotMatch(bad.stderr, /not-the-password/);
    const c = await RawClient.connect(f.door.address.port);
    const { startupPacket, frame, cstr } = await import('./helpers.js');
    c.send(startupPacket({ user: 'alice', database: 'bad_password' }));
    await c.next();
    c.send(frame('p', cstr(key)));
    const got = await c.untilClosed();
    assert.equal(errorFields(got[0]!).C, '08004');
    const none = await psql(f.url('alice', key, 'no_password'), 'SELECT 1;\n');
    assert.match(none.stderr, /none is configured for this connection/);
    const hba = await psql(f.url('alice', key, 'no_tls_for_tls_user'), 'SELECT 1;\n');
    assert.match(hba.stderr, /refused Sluice's configured credentials/);
  });

  it('reports an unreachable upstream with 08006', async (t) => {
    if (skip) return t.skip(skip);
    const r = await psql(f.url('alice', key, 'down'), 'SELECT 1;\n');
    assert.match(r.stderr, /FATAL: {2}Sluice cannot reach the upstream database of connection "down": connection to 127\.0\.0\.1:1 refused/);
  });

  it('relays ParameterStatus and hands out its own cancel key, not the upstream one', async (t) => {
    if (skip) return t.skip(skip);
    const c = await RawClient.login(f.door.address.port, 'alice', key, 'scram');
    c.send(msg.query('SELECT pg_backend_pid()'));
    const reply = await c.untilReady();
    const upstreamPid = Number(dataRow(reply[1]!)[0]);
    assert.notEqual(c.processId, upstreamPid);
    c.close();
    const params = await psql(f.url('alice', key, 'scram'), 'SHOW server_version;\n');
    assert.match(params.stdout, /^15\./);
  });
});

async function dataDirParent(server: ScramServer): Promise<string> {
  const owner = new pg.Client({ host: server.host, port: server.port, user: server.user, password: server.password, database: server.database });
  await owner.connect();
  try {
    return join((await owner.query('SHOW data_directory')).rows[0].data_directory as string, '..');
  } finally {
    await owner.end();
  }
}
