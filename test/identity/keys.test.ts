// Keys, tokens and their SCRAM verifiers on both real stores: what createKey stores, the shared
// per-principal salt from the installation secret, what checkKey and loginVerifiers answer,
// and migration 2 on a PostgreSQL store that already holds version-1 keys.
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { scramVerifier } from '../../src/doors/postgres/scram.js';
import { MAX_SCRAM_CANDIDATES, REFUSAL_WINDOW_MS, checkKey, createKey, loginVerifiers, saltFor } from '../../src/identity/keys.js';
import { decodeScramVerifier, encodeScramVerifier } from '../../src/identity/scram.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers.js';
import { createTestDatabase, type TestDatabase } from '../store/pg-helper.js';

const databases: TestDatabase[] = [];
const dirs: { remove(): void }[] = [];
after(async () => {
  await Promise.allSettled(databases.map((d) => d.drop()));
  for (const d of dirs) d.remove();
});

async function sqliteStore(): Promise<Store> {
  const dir = tempDir('sluice-identity-');
  dirs.push(dir);
  return openStore(`sqlite:${dir.path}/sluice.db`);
}

async function postgresStore(): Promise<{ store: Store; db: TestDatabase }> {
  const db = await createTestDatabase();
  databases.push(db);
  return { store: await openStore(db.url, { schema: 'sluice' }), db };
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`keys and SCRAM verifiers (${kind} store)`, () => {
    const open = async () => (kind === 'sqlite' ? sqliteStore() : (await postgresStore()).store);

    it('stores a SCRAM verifier beside the hash; all keys of a principal share the derived salt', async () => {
      const store = await open();
      try {
        const secret = await store.installationSecret();
        assert.equal(secret.length, 32);
        assert.deepEqual(await store.installationSecret(), secret, 'made once, read back the same');
        const a = await createKey(store, { principal: 'alice', kind: 'human', groups: [] });
        const b = await createKey(store, { principal: 'alice', kind: 'human', groups: [] });
        const c = await createKey(store, { principal: 'carol', kind: 'human', groups: [] });
        const expectedSalt = createHmac('sha256', secret).update('alice').digest().subarray(0, 16);
        for (const created of [a, b]) {
          const stored = (await store.getKey(created.record.id))!;
          assert.equal(stored.scram, created.record.scram);
          assert.equal(stored.hash, createHash('sha256').update(created.key).digest('hex'));
          // Cross-check against the door's own (synchronous) SCRAM implementation.
          assert.equal(stored.scram, encodeScramVerifier(scramVerifier(created.key, expectedSalt, 4096)));
          assert.ok(!stored.scram!.includes(created.key.slice(17)) && !JSON.stringify(stored).includes(created.key));
        }
        assert.notEqual(decodeScramVerifier(c.record.scram!)!.salt.toString('hex'), expectedSalt.toString('hex'));
        assert.deepEqual(await saltFor(store, 'alice'), expectedSalt);
        assert.equal(await store.hasScramKeys(), true);
      } finally {
        await store.close();
      }
    });

    it('a token stops working when the key that issued it (or a token in between) is revoked', async () => {
      const store = await open();
      try {
        const key = await createKey(store, { principal: 'alice', kind: 'human', groups: [] });
        const token = await createKey(store, { principal: 'alice', kind: 'human', groups: [], ttlMs: 3_600_000, token: true, parentId: key.record.id });
        const grandchild = await createKey(store, { principal: 'alice', kind: 'human', groups: [], ttlMs: 3_600_000, token: true, parentId: token.record.id });
        assert.equal((await store.getKey(grandchild.record.id))!.parentId, token.record.id, 'the link is stored');
        assert.equal((await checkKey(store, grandchild.key)).ok, true);
        assert.equal(await store.revokeKey(key.record.id, new Date().toISOString()), true);
        for (const t of [token, grandchild]) {
          const check = await checkKey(store, t.key);
          assert.equal(check.ok, false);
          if (!check.ok) {
            assert.equal(check.reason, 'revoked');
            assert.match(check.message, new RegExp(`issued by API key ${key.record.id}`));
          }
        }
      } finally {
        await store.close();
      }
    });

    it('a SCRAM login is checked against at most MAX_SCRAM_CANDIDATES credentials, usable ones first', async () => {
      const store = await open();
      try {
        const now = new Date();
        const key = await createKey(store, { principal: 'dave', kind: 'human', groups: [] }, new Date(now.getTime() - 60_000));
        // A flood of recently expired tokens must not crowd out the working key.
        for (let i = 0; i < MAX_SCRAM_CANDIDATES + 5; i++) await createKey(store, { principal: 'dave', kind: 'human', groups: [], ttlMs: 1, token: true }, new Date(now.getTime() - 10_000));
        let found = await loginVerifiers(store, 'dave', now);
        assert.equal(found!.candidates.length, MAX_SCRAM_CANDIDATES);
        assert.equal(found!.candidates[0]!.keyId, key.record.id, 'the usable key comes first and stays');
        const live = [];
        for (let i = 0; i < MAX_SCRAM_CANDIDATES; i++) live.push(await createKey(store, { principal: 'dave', kind: 'human', groups: [], ttlMs: 3_600_000, token: true }, now));
        found = await loginVerifiers(store, 'dave', now);
        assert.equal(found!.candidates.length, MAX_SCRAM_CANDIDATES);
        assert.ok(!found!.candidates.some((c) => c.keyId === key.record.id), 'beyond the cap the oldest usable one falls out');
      } finally {
        await store.close();
      }
    });

    it('tokens: slt_ prefix, checked like keys, "token expired" once expired; a key prefix on a token secret is unknown', async () => {
      const store = await open();
      try {
        const now = new Date();
        const token = await createKey(store, { principal: 'bot', kind: 'agent', groups: ['g'], onBehalfOf: 'alice', ttlMs: 60_000, token: true }, now);
        assert.match(token.key, /^slt_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
        assert.equal((await store.getKey(token.record.id))!.token, true);
        const ok = await checkKey(store, token.key, now);
        assert.equal(ok.ok, true);
        const disguised = await checkKey(store, token.key.replace(/^slt_/, 'slk_'), now);
        assert.deepEqual(disguised.ok ? 'ok' : disguised.reason, 'unknown');
        const expired = await checkKey(store, token.key, new Date(now.getTime() + 60_001));
        assert.equal(expired.ok, false);
        if (!expired.ok) {
          assert.equal(expired.reason, 'expired');
          assert.match(expired.message, new RegExp(`^token expired at \\S+ \\(token ${token.record.id}\\)`));
        }
        await assert.rejects(createKey(store, { principal: 'bot', kind: 'agent', groups: [], token: true }), /token needs a positive lifetime/);
        const key = await createKey(store, { principal: 'bot', kind: 'agent', groups: [] });
        assert.equal((await store.getKey(key.record.id))!.token, undefined);
      } finally {
        await store.close();
      }
    });

    it('loginKeys: usable keys and those that stopped being usable within the window, of that principal only', async () => {
      const store = await open();
      try {
        const now = new Date();
        const long = new Date(now.getTime() - 2 * REFUSAL_WINDOW_MS);
        const active = await createKey(store, { principal: 'dora', kind: 'human', groups: [] }, now);
        const revokedNow = await createKey(store, { principal: 'dora', kind: 'human', groups: [] }, now);
        await store.revokeKey(revokedNow.record.id, now.toISOString());
        const revokedLong = await createKey(store, { principal: 'dora', kind: 'human', groups: [] }, long);
        await store.revokeKey(revokedLong.record.id, new Date(long.getTime() + 1000).toISOString());
        const expiredLong = await createKey(store, { principal: 'dora', kind: 'human', groups: [], ttlMs: 1000, token: true }, long);
        const expiredNow = await createKey(store, { principal: 'dora', kind: 'human', groups: [], ttlMs: 1, token: true }, new Date(now.getTime() - 1000));
        await createKey(store, { principal: 'dorothy', kind: 'human', groups: [] }, now);
        const since = new Date(now.getTime() - REFUSAL_WINDOW_MS).toISOString();
        const ids = (await store.loginKeys('dora', since)).map((k) => k.id).sort();
        assert.deepEqual(ids, [active.record.id, revokedNow.record.id, expiredNow.record.id].sort());
        assert.ok(!ids.includes(revokedLong.record.id) && !ids.includes(expiredLong.record.id));

        const login = (await loginVerifiers(store, 'dora', now))!;
        assert.deepEqual(login.candidates.map((c) => c.keyId).sort(), ids);
        assert.equal(login.passwordKeys, false);
        assert.equal(login.iterations, 4096);
        // A name without keys gets the same shape, with its own stable salt.
        const nobody = (await loginVerifiers(store, 'nobody', now))!;
        assert.deepEqual(nobody.candidates, []);
        assert.equal(nobody.passwordKeys, false);
        assert.deepEqual(nobody.salt, await saltFor(store, 'nobody'));
        assert.notDeepEqual(nobody.salt, login.salt);
      } finally {
        await store.close();
      }
    });

    it('before any key has a verifier, loginVerifiers leaves unknown names to the cleartext rules', async () => {
      const store = await open();
      try {
        assert.equal(await store.hasScramKeys(), false);
        assert.equal(await loginVerifiers(store, 'nobody'), undefined);
        const hash = createHash('sha256').update('slk_x').digest('hex');
        await store.insertKey({ id: 'legacy000001', principal: 'old', kind: 'human', groups: [], hash, createdAt: new Date().toISOString() });
        const old = (await loginVerifiers(store, 'old'))!;
        assert.deepEqual(old.candidates, []);
        assert.equal(old.passwordKeys, true);
      } finally {
        await store.close();
      }
    });
  });
}

describe('installation secret and migration 2', () => {
  it('two stores have different installation secrets', async () => {
    const a = await sqliteStore();
    const b = await sqliteStore();
    try {
      assert.notDeepEqual(await a.installationSecret(), await b.installationSecret());
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a PostgreSQL store at version 1 with a key migrates: the key keeps its hash, gains no verifier, new keys get one', async () => {
    const db = await createTestDatabase();
    databases.push(db);
    const sql = readFileSync(fileURLToPath(new URL('../../src/store/migrations/postgres/0001_init.sql', import.meta.url)), 'utf8');
    await db.sql('CREATE SCHEMA sluice');
    await db.sql(`SET search_path TO sluice; CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL); ${sql}`);
    const key = `slk_OldKey000001_${randomBytes(32).toString('base64url')}`;
    await db.sql(`INSERT INTO sluice.schema_migrations VALUES (1, 'init', $1, $2)`, [createHash('sha256').update(sql).digest('hex'), new Date().toISOString()]);
    await db.sql(`INSERT INTO sluice.api_keys (id, principal, kind, groups, hash, created_at) VALUES ('OldKey000001', 'alice', 'human', '[]', $1, $2)`, [
      createHash('sha256').update(key).digest('hex'),
      new Date().toISOString(),
    ]);
    // Two nodes start together: one migration, one secret.
    const [s1, s2] = await Promise.all([openStore(db.url, { schema: 'sluice' }), openStore(db.url, { schema: 'sluice' })]);
    try {
      const secrets = await db.sql<{ n: string }>(`SELECT count(*) AS n FROM sluice.meta WHERE name = 'installation_secret'`);
      assert.equal(Number(secrets.rows[0]!.n), 1);
      assert.deepEqual(await s1.installationSecret(), await s2.installationSecret());
      const old = await checkKey(s1, key);
      assert.equal(old.ok, true);
      assert.equal(old.ok && old.record.scram, undefined);
      const fresh = await createKey(s2, { principal: 'alice', kind: 'human', groups: [] });
      assert.ok(fresh.record.scram);
      const login = (await loginVerifiers(s1, 'alice'))!;
      assert.deepEqual(login.candidates.map((c) => c.keyId), [fresh.record.id]);
      assert.equal(login.passwordKeys, true, 'the old key can still be checked in cleartext');
    } finally {
      await s1.close();
      await s2.close();
    }
  });
});
