// SCRAM-SHA-256 at the PostgreSQL door with verifiers from the store, through the real
// composition (startSluice: config, store, API, door): psql, node-postgres and pgbench log in
// with keys made by createKey and tokens made by POST /v1/tokens, without the key crossing the
// wire; refusals say precisely why to the holder of a real key and nothing to anyone else;
// `auth` modes; and a store made before verifiers existed keeps its old keys working.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'libsql';
import pg from 'pg';
import { stringify } from 'yaml';
import { startSluice, type RunningSluice } from '../../../src/app/server.js';
import { loadConfigText } from '../../../src/config/load.js';
import { ScramClient } from '../../../src/doors/postgres/scram.js';
import { createKey } from '../../../src/identity/keys.js';
import { PG, tempDir } from '../../helpers.js';
import { RawClient, cstr, errorFields, frame, hasProgram, psql, run, startupPacket, type BackendMessage } from './helpers.js';

const IDENTITIES = {
  alice: { kind: 'human', groups: ['dba'] },
  bot: { kind: 'agent', groups: ['agents'], on_behalf_of: 'alice' },
};

interface Started {
  sluice: RunningSluice;
  port: number;
  api: string;
  dir: { path: string; remove(): void };
  stop(): Promise<void>;
}

/** A real Sluice from YAML: embedded store, API on a free port, the door on another. */
async function startWith(postgres: Record<string, unknown>, extra: Record<string, unknown> = {}, dir = tempDir('sluice-scram-')): Promise<Started> {
  const config = {
    store: { url: `sqlite:${join(dir.path, 'sluice.db')}` },
    listeners: { api: { address: '127.0.0.1:0' }, postgres: { address: '127.0.0.1:0', tls: false, ...postgres } },
    identities: IDENTITIES,
    connections: { test: { kind: 'postgres', host: PG.host, port: PG.port, database: PG.database, user: PG.user } },
    policy: { rules: [{ name: 'allow-all', effect: 'allow' }] },
    ...extra,
  };
  const file = join(dir.path, 'sluice.yaml');
  const sluice = await startSluice(loadConfigText(stringify(config), file, dir.path));
  return {
    sluice,
    port: sluice.postgres!.address.port,
    api: sluice.api.url,
    dir,
    async stop() {
      await sluice.stop();
      dir.remove();
    },
  };
}

function url(port: number, user: string, key: string, extra = 'sslmode=disable'): string {
  return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(key)}@127.0.0.1:${port}/test?${extra}`;
}

async function newKey(s: Started, principal: keyof typeof IDENTITIES, ttlMs?: number): Promise<{ key: string; id: string }> {
  const identity = IDENTITIES[principal];
  const created = await createKey(s.sluice.runtime.store, {
    principal,
    kind: identity.kind as 'human' | 'agent',
    groups: [],
    ...('on_behalf_of' in identity ? { onBehalfOf: identity.on_behalf_of } : {}),
    ...(ttlMs !== undefined ? { ttlMs } : {}),
  });
  return { key: created.key, id: created.record.id };
}

async function postToken(s: Started, bearer: string, body: unknown = {}): Promise<{ status: number; body: Record<string, any> }> {
  const response = await fetch(`${s.api}/v1/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

/** A login that refuses cleartext: node-postgres, failing the moment it is asked for a cleartext password. */
async function scramOnlyLogin(port: number, user: string, key: string): Promise<{ n: number; sawSasl: boolean }> {
  const client = new pg.Client({ host: '127.0.0.1', port, user, password: key, database: 'test', ssl: false });
  const connection = (client as unknown as { connection: NodeJS.EventEmitter }).connection;
  let sawSasl = false;
  connection.on('authenticationSASL', () => (sawSasl = true));
  connection.on('authenticationCleartextPassword', () => {
    connection.emit('error', new Error('the door asked for the key in cleartext'));
  });
  await client.connect();
  try {
    const n = (await client.query<{ n: number }>('SELECT 41 + 1 AS n')).rows[0]!.n;
    return { n, sawSasl };
  } finally {
    await client.end();
  }
}

interface ScramAttempt {
  /** Authentication request codes in order (10 = SASL, 11 = continue, 3 = cleartext...). */
  requests: number[];
  /** Mechanisms offered in AuthenticationSASL. */
  mechanisms: string[];
  salt?: string;
  iterations?: number;
  error?: Record<string, string>;
  ok: boolean;
}

/** A SCRAM login by hand, recording what the door sends at each step. */
async function rawScram(port: number, user: string, key: string): Promise<ScramAttempt> {
  const c = await RawClient.connect(port);
  const scram = new ScramClient(key);
  const out: ScramAttempt = { requests: [], mechanisms: [], ok: false };
  c.send(startupPacket({ user, database: 'test' }));
  try {
    for (;;) {
      let m: BackendMessage;
      try {
        m = await c.next();
      } catch {
        return out;
      }
      if (m.type === 'E') {
        out.error = errorFields(m);
        return out;
      }
      if (m.type === 'Z') {
        out.ok = true;
        return out;
      }
      if (m.type !== 'R') continue;
      const code = m.bytes.readInt32BE(5);
      out.requests.push(code);
      if (code === 10) {
        out.mechanisms = m.bytes.toString('utf8', 9, m.bytes.length - 2).split('\0');
        const first = Buffer.from(scram.first(), 'utf8');
        const length = Buffer.alloc(4);
        length.writeInt32BE(first.length);
        c.send(frame('p', Buffer.concat([cstr('SCRAM-SHA-256'), length, first])));
      } else if (code === 11) {
        const serverFirst = m.bytes.toString('utf8', 9);
        const attrs = new Map(serverFirst.split(',').map((p) => [p[0]!, p.slice(2)] as const));
        out.salt = attrs.get('s');
        out.iterations = Number(attrs.get('i'));
        c.send(frame('p', Buffer.from(scram.final(serverFirst), 'utf8')));
      } else if (code === 12) {
        scram.verify(m.bytes.toString('utf8', 9));
      } else if (code === 3) {
        c.send(frame('p', cstr(key)));
      }
    }
  } finally {
    c.close();
  }
}

describe('postgres door: SCRAM-SHA-256 with verifiers from the store', () => {
  let s: Started;
  let alice: { key: string; id: string };

  before(async () => {
    // No TLS and cleartext never: a login that works cannot have sent the key.
    s = await startWith({ plaintext_password: 'never', auth: 'scram-or-password' }, { tokens: { default_ttl: '15m', max_ttl: '1h' } });
    alice = await newKey(s, 'alice');
  });

  after(async () => {
    await s?.stop();
  });

  it('psql logs in with a key from createKey, without TLS and with cleartext forbidden', async () => {
    const r = await psql(url(s.port, 'alice', alice.key), 'SELECT current_database();\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'test');
    // The same login offered only cleartext would have been refused before any key was sent.
    const stored = await s.sluice.runtime.store.getKey(alice.id);
    assert.match(stored!.scram!, /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/);
    assert.ok(!stored!.scram!.includes(alice.key.slice(17)), 'the verifier does not contain the key');
  });

  it('node-postgres logs in through SCRAM and is never asked for cleartext', async () => {
    const got = await scramOnlyLogin(s.port, 'alice', alice.key);
    assert.deepEqual(got, { n: 42, sawSasl: true });
    const agent = await newKey(s, 'bot');
    assert.equal((await scramOnlyLogin(s.port, 'bot', agent.key)).n, 42);
  });

  it('the door offers SCRAM-SHA-256 only (no -PLUS), proves it knows the verifier, and all keys of a principal share one salt', async () => {
    const second = await newKey(s, 'alice');
    const a = await rawScram(s.port, 'alice', alice.key);
    const b = await rawScram(s.port, 'alice', second.key);
    assert.equal(a.ok, true, JSON.stringify(a.error));
    assert.equal(b.ok, true, JSON.stringify(b.error));
    assert.deepEqual(a.mechanisms, ['SCRAM-SHA-256']);
    assert.deepEqual(a.requests, [10, 11, 12, 0]);
    assert.equal(a.iterations, 4096);
    assert.equal(a.salt, b.salt);
    const bot = await rawScram(s.port, 'bot', 'x');
    assert.notEqual(bot.salt, a.salt, 'principals have different salts');
  });

  it('pgbench runs through the door with SCRAM, reconnecting for every transaction', async (t) => {
    if (!(await hasProgram('pgbench'))) return t.skip('pgbench is not installed');
    const dir = tempDir('sluice-scram-pgbench-');
    try {
      const script = join(dir.path, 'select.sql');
      writeFileSync(script, 'SELECT 1;\n');
      // -C: a new connection (a full SCRAM exchange) per transaction.
      const r = await run('pgbench', ['-h', '127.0.0.1', '-p', String(s.port), '-U', 'alice', '-n', '-C', '-c', '2', '-j', '2', '-t', '25', '-f', script, 'test'], {
        env: { PGPASSWORD: alice.key, PGSSLMODE: 'disable' },
        timeoutMs: 120_000,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /number of transactions actually processed: 50\/50/);
      assert.match(r.stdout, /number of failed transactions: 0/);
    } finally {
      dir.remove();
    }
  });

  it('a wrong key is 28P01; an unknown user gets the same answer in the same shape, with a stable salt of its own', async () => {
    const wrong = await rawScram(s.port, 'alice', alice.key.slice(0, -1) + (alice.key.endsWith('A') ? 'B' : 'A'));
    const unknown = await rawScram(s.port, 'nobody', alice.key);
    const unknownAgain = await rawScram(s.port, 'nobody', 'anything');
    for (const attempt of [wrong, unknown]) {
      assert.equal(attempt.ok, false);
      assert.deepEqual(attempt.requests, [10, 11], 'a full exchange, then the refusal');
      assert.equal(attempt.iterations, 4096);
      assert.equal(attempt.error!.C, '28P01');
      assert.equal(attempt.error!.S, 'FATAL');
    }
    assert.equal(wrong.error!.M, 'password authentication failed for user "alice"');
    assert.equal(unknown.error!.M, 'password authentication failed for user "nobody"');
    assert.deepEqual(Object.keys(wrong.error!).sort(), Object.keys(unknown.error!).sort());
    assert.equal(wrong.error!.H, unknown.error!.H);
    assert.equal(unknown.salt, unknownAgain.salt, 'the mock salt does not change between attempts');
    assert.equal(Buffer.from(unknown.salt!, 'base64').length, Buffer.from(wrong.salt!, 'base64').length);
    const viaPsql = await psql(url(s.port, 'alice', 'slk_AAAAAAAAAAAA_' + 'A'.repeat(43)), 'SELECT 1;\n');
    assert.match(viaPsql.stderr, /FATAL: {2}password authentication failed for user "alice"/);
    // Another identity's real key is a wrong key for this user.
    const other = await rawScram(s.port, 'bot', alice.key);
    assert.equal(other.error!.M, 'password authentication failed for user "bot"');
  });

  it('refuses SCRAM messages that would downgrade or extend the exchange (08P01)', async () => {
    async function attempt(clientFirst: string, finalFor?: (serverFirst: string) => string): Promise<Record<string, string>> {
      const c = await RawClient.connect(s.port);
      try {
        c.send(startupPacket({ user: 'alice', database: 'test' }));
        for (;;) {
          const m = await c.next();
          if (m.type === 'E') return errorFields(m);
          if (m.type !== 'R') continue;
          const code = m.bytes.readInt32BE(5);
          if (code === 10) {
            const first = Buffer.from(clientFirst, 'utf8');
            const length = Buffer.alloc(4);
            length.writeInt32BE(first.length);
            c.send(frame('p', Buffer.concat([cstr('SCRAM-SHA-256'), length, first])));
          } else if (code === 11) {
            c.send(frame('p', Buffer.from(finalFor!(m.bytes.toString('utf8', 9)), 'utf8')));
          } else throw new Error(`unexpected authentication request ${code}`);
        }
      } finally {
        c.close();
      }
    }
    const proof = randomBytes(32).toString('base64');
    const nonceOf = (serverFirst: string) => serverFirst.split(',')[0]!.slice(2);
    // The client said "y" (it could bind, thinks we cannot) but claims "n" in the final message.
    const downgraded = await attempt('y,,n=,r=clientnonce1', (sf) => `c=biws,r=${nonceOf(sf)},p=${proof}`);
    assert.equal(downgraded.C, '08P01');
    assert.match(downgraded.M!, /channel binding data does not match/);
    const binding = await attempt('p=tls-server-end-point,,n=,r=clientnonce2');
    assert.equal(binding.C, '08P01');
    const extension = await attempt('n,,m=ext,n=,r=clientnonce3');
    assert.equal(extension.C, '08P01');
    const wrongNonce = await attempt('n,,n=,r=clientnonce4', () => `c=biws,r=clientnonce4forged,p=${proof}`);
    assert.match(wrongNonce.M!, /nonce mismatch/);
  });

  it('a revoked key is told it was revoked (only its holder can learn that)', async () => {
    const k = await newKey(s, 'alice');
    assert.equal((await scramOnlyLogin(s.port, 'alice', k.key)).n, 42);
    await s.sluice.runtime.store.revokeKey(k.id, new Date().toISOString());
    const r = await psql(url(s.port, 'alice', k.key), 'SELECT 1;\n');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`password authentication failed for user "alice": API key ${k.id} was revoked at \\d{4}-`));
    const raw = await rawScram(s.port, 'alice', k.key);
    assert.equal(raw.error!.C, '28P01');
  });

  it('POST /v1/tokens makes a token psql logs in with; expired, it is refused with "token expired"', async () => {
    const made = await postToken(s, alice.key, { ttl: '10m' });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const token = made.body.token as string;
    assert.match(token, /^slt_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    const ok = await psql(url(s.port, 'alice', token), 'SELECT 7;\n');
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), '7');

    const short = await postToken(s, alice.key, { ttl: '1s' });
    assert.equal(short.status, 201);
    const early = await psql(url(s.port, 'alice', short.body.token as string), 'SELECT 1;\n');
    assert.equal(early.code, 0, early.stderr);
    await new Promise((resolve) => setTimeout(resolve, Date.parse(short.body.expires_at as string) - Date.now() + 50));
    const late = await psql(url(s.port, 'alice', short.body.token as string), 'SELECT 1;\n');
    assert.notEqual(late.code, 0);
    assert.match(late.stderr, /FATAL: {2}password authentication failed for user "alice": token expired at \S+ \(token [A-Za-z0-9]{12}\)/);
    const raw = await rawScram(s.port, 'alice', short.body.token as string);
    assert.equal(raw.error!.C, '28P01');
    assert.match(raw.error!.M!, /token expired/);
  });

  it('a token longer than tokens.max_ttl is refused with a clear error', async () => {
    const r = await postToken(s, alice.key, { ttl: '2h' });
    assert.equal(r.status, 400);
    assert.equal(r.body.error.code, 'ttl_too_long');
    assert.match(r.body.error.message, /at most 1h \(tokens\.max_ttl\); 2h is longer/);
  });

  it('sluice token create --key-env asks the running Sluice for a token, which logs in', async () => {
    const bin = fileURLToPath(new URL('../../../bin/sluice.mjs', import.meta.url));
    const r = await run(process.execPath, [bin, 'token', 'create', '--key-env', 'MY_SLUICE_KEY', '--ttl', '5m', '--json', '--api', s.api], {
      env: { MY_SLUICE_KEY: alice.key, SLUICE_LOG_LEVEL: 'silent' },
    });
    assert.equal(r.code, 0, r.stderr);
    const answer = JSON.parse(r.stdout) as Record<string, any>;
    assert.equal(answer.principal, 'alice');
    const ttl = Date.parse(answer.expires_at as string) - Date.now();
    assert.ok(ttl > 4 * 60_000 && ttl <= 5 * 60_000, `ttl ${ttl}`);
    assert.ok(!r.stdout.includes(alice.key) && !r.stderr.includes(alice.key), 'the caller key is never printed');
    const ok = await psql(url(s.port, 'alice', answer.token as string), 'SELECT 8;\n');
    assert.equal(ok.stdout.trim(), '8', ok.stderr);

    const missing = await run(process.execPath, [bin, 'token', 'create', '--key-env', 'NOT_SET_ANYWHERE', '--api', s.api], { env: { SLUICE_LOG_LEVEL: 'silent' } });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /NOT_SET_ANYWHERE is not set/);
    const tooLong = await run(process.execPath, [bin, 'token', 'create', '--key-env', 'K', '--ttl', '3h', '--api', s.api], { env: { K: alice.key, SLUICE_LOG_LEVEL: 'silent' } });
    assert.equal(tooLong.code, 1);
    assert.match(tooLong.stderr, /ttl_too_long: a token may live at most 1h/);
  });
});

describe('postgres door: auth modes', () => {
  it('auth: scram refuses a key without a verifier even on loopback; auth: password never offers SCRAM', async () => {
    const scramOnly = await startWith({ plaintext_password: 'loopback', auth: 'scram' });
    try {
      const legacy = await insertLegacyKey(scramOnly.sluice.runtime.store, 'alice');
      const fresh = await newKey(scramOnly, 'alice');
      const refused = await rawScram(scramOnly.port, 'alice', legacy);
      assert.deepEqual(refused.requests, [10, 11]);
      assert.equal(refused.error!.C, '28P01');
      const ok = await psql(url(scramOnly.port, 'alice', fresh.key), 'SELECT 1;\n');
      assert.equal(ok.stdout.trim(), '1', ok.stderr);
    } finally {
      await scramOnly.stop();
    }
    const passwordOnly = await startWith({ plaintext_password: 'loopback', auth: 'password' });
    try {
      const k = await newKey(passwordOnly, 'alice');
      const attempt = await rawScram(passwordOnly.port, 'alice', k.key);
      assert.equal(attempt.ok, true);
      assert.deepEqual(attempt.requests, [3, 0], 'cleartext, although the key has a verifier');
    } finally {
      await passwordOnly.stop();
    }
  });
});

/** An API key as Sluice made them before store version 2: a hash and no verifier. */
function legacyKey(): { id: string; key: string; hash: string } {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const id = Array.from(randomBytes(12), (b) => alphabet[b % 62]).join('');
  const key = `slk_${id}_${randomBytes(32).toString('base64url')}`;
  return { id, key, hash: createHash('sha256').update(key).digest('hex') };
}

async function insertLegacyKey(store: RunningSluice['runtime']['store'], principal: string): Promise<string> {
  const k = legacyKey();
  await store.insertKey({ id: k.id, principal, kind: 'human', groups: [], hash: k.hash, createdAt: new Date().toISOString() });
  return k.key;
}

describe('postgres door: a store from before SCRAM verifiers', () => {
  it('migrates 0001 -> 0002 and the old key still logs in (cleartext, loopback); new keys of that principal too', async () => {
    const dir = tempDir('sluice-scram-migrate-');
    const file = join(dir.path, 'sluice.db');
    // The store as version 1 left it: the 0001 schema, its row in schema_migrations, an old key.
    const sql = readFileSync(fileURLToPath(new URL('../../../src/store/migrations/sqlite/0001_init.sql', import.meta.url)), 'utf8');
    const old = legacyKey();
    const db = new Database(file);
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)');
    db.exec(sql);
    db.prepare('INSERT INTO schema_migrations VALUES (1, ?, ?, ?)').run('init', createHash('sha256').update(sql).digest('hex'), new Date().toISOString());
    db.prepare('INSERT INTO api_keys (id, principal, kind, groups, hash, created_at) VALUES (?, ?, ?, ?, ?, ?)').run(old.id, 'alice', 'human', '[]', old.hash, new Date().toISOString());
    db.close();

    const s = await startWith({ plaintext_password: 'loopback' }, {}, dir);
    try {
      const migrated = await s.sluice.runtime.store.getKey(old.id);
      assert.equal(migrated?.scram, undefined);
      assert.equal((await s.sluice.runtime.store.installationSecret()).length, 32);
      const r = await rawScram(s.port, 'alice', old.key);
      assert.equal(r.ok, true, JSON.stringify(r.error));
      assert.deepEqual(r.requests, [3, 0], 'checked in cleartext: there is no verifier for it');
      const viaPsql = await psql(url(s.port, 'alice', old.key), 'SELECT 5;\n');
      assert.equal(viaPsql.stdout.trim(), '5', viaPsql.stderr);

      // A new key for alice: on loopback cleartext still serves both (nothing that worked breaks).
      const fresh = await newKey(s, 'alice');
      assert.equal((await psql(url(s.port, 'alice', fresh.key), 'SELECT 6;\n')).stdout.trim(), '6');
      assert.equal((await psql(url(s.port, 'alice', old.key), 'SELECT 6;\n')).stdout.trim(), '6');
      // Once the old key is revoked alice moves to SCRAM.
      await s.sluice.runtime.store.revokeKey(old.id, new Date().toISOString());
      const now = await rawScram(s.port, 'alice', fresh.key);
      assert.deepEqual(now.requests, [10, 11, 12, 0]);
    } finally {
      await s.stop();
    }
  });
});
