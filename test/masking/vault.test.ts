// The placeholder vault on both stores: values sealed with AES-256-GCM round-trip, a wrong
// key and a moved row are clear errors, mappings expire with their TTL and are pruned, scopes
// are kept apart, and the masker's writes never wait for the store (bounded write-behind).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { compileMaskingProfile } from '../../src/masking/profile.js';
import { callerScopes, MAX_PLACEHOLDERS_PER_LOOKUP, openValue, parseVaultKey, PlaceholderVault, sealValue, VaultError, type VaultStore } from '../../src/masking/vault.js';
import { PostgresStore } from '../../src/store/postgres.js';
import type { Store, VaultEntry } from '../../src/store/store.js';
import { tempStore } from '../helpers.js';
import { createTestDatabase, type TestDatabase } from '../store/pg-helper.js';

const KEY = randomBytes(32);

function vaultTests(name: string, open: () => Promise<{ store: Store; raw: (sql: string) => Promise<void>; cleanup(): Promise<void> }>) {
  describe(`placeholder vault on ${name}`, () => {
    let store: Store;
    let raw: (sql: string) => Promise<void>;
    let cleanup: () => Promise<void>;
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const now = () => clock;

    before(async () => {
      ({ store, raw, cleanup } = await open());
    });
    after(async () => cleanup());

    it('round-trips values masked by a profile, sealed (the store never holds a value in clear)', async () => {
      const vault = new PlaceholderVault({ store, key: KEY, ttlMs: 3_600_000, now, pruneEveryMs: 0 });
      const profile = compileMaskingProfile('p', { detectors: ['pii'] }, { key: 'k'.repeat(32), sink: vault }).forScope({ session: 's1', principal: 'bot' });
      const masked = profile.maskText("mail ada@example.com or O'Brien.x@example.org");
      const placeholders = masked.findings.map((f) => f.placeholder!);
      assert.equal(placeholders.length, 2);
      await vault.flush();
      const rows = await store.getVaultEntries(placeholders, ['session:s1'], new Date(clock).toISOString());
      assert.equal(rows.length, 2);
      assert.ok(rows.every((r) => !r.sealed.includes('example') && !Buffer.from(r.sealed, 'base64').toString('latin1').includes('example')));
      const fresh = new PlaceholderVault({ store, key: KEY, ttlMs: 3_600_000, now, pruneEveryMs: 0 });
      const found = await fresh.lookup(placeholders, callerScopes({ session: 's1', principal: 'bot' }));
      assert.deepEqual([...found.values()].map((v) => v.value).sort(), ["O'Brien.x@example.org", 'ada@example.com']);
      assert.equal(found.get(placeholders[0]!)?.type, 'email');
      await vault.close();
      await fresh.close();
    });

    it('keeps scopes apart: another session or agent finds nothing', async () => {
      const vault = new PlaceholderVault({ store, key: KEY, ttlMs: 3_600_000, now, pruneEveryMs: 0 });
      vault.record({ placeholder: 'SLUICE_EMAIL_bbbbbbbbbbbbbb', type: 'email', value: 'one@example.com', scope: 'session:a' });
      vault.record({ placeholder: 'SLUICE_EMAIL_cccccccccccccc', type: 'email', value: 'two@example.com', scope: 'agent:bot' });
      await vault.flush();
      assert.equal((await vault.lookup(['SLUICE_EMAIL_bbbbbbbbbbbbbb'], callerScopes({ session: 'b', principal: 'bot' }))).size, 0);
      assert.equal((await vault.lookup(['SLUICE_EMAIL_cccccccccccccc'], callerScopes({ session: 'a', principal: 'eve' }))).size, 0);
      assert.equal((await vault.lookup(['SLUICE_EMAIL_bbbbbbbbbbbbbb'], callerScopes({ session: 'a' }))).get('SLUICE_EMAIL_bbbbbbbbbbbbbb')?.value, 'one@example.com');
      assert.equal((await vault.lookup(['SLUICE_EMAIL_cccccccccccccc'], callerScopes({ session: 'z', principal: 'bot' }))).get('SLUICE_EMAIL_cccccccccccccc')?.value, 'two@example.com');
      await vault.close();
    });

    it('looks up more placeholders than the store reads at once, and refuses a command with too many', async () => {
      const vault = new PlaceholderVault({ store, key: KEY, ttlMs: 3_600_000, now, pruneEveryMs: 0 });
      const letters = 'bcdfghjkmnpqrstv';
      const name = (i: number) => `SLUICE_EMAIL_${Array.from({ length: 14 }, (_, k) => letters[(i >> (4 * (k % 4))) & 15]).join('')}`;
      const many = Array.from({ length: 1500 }, (_, i) => name(i));
      many.forEach((placeholder, i) => vault.record({ placeholder, type: 'email', value: `user${i}@example.com`, scope: 'session:many' }));
      await vault.flush();
      const fresh = new PlaceholderVault({ store, key: KEY, ttlMs: 3_600_000, now, pruneEveryMs: 0 });
      const found = await fresh.lookup(many, callerScopes({ session: 'many' }));
      assert.equal(found.size, 1500);
      assert.equal(found.get(many[1499]!)?.value, 'user1499@example.com');
      const tooMany = Array.from({ length: MAX_PLACEHOLDERS_PER_LOOKUP + 1 }, (_, i) => `SLUICE_X${i}_bbbbbbbbbbbbbb`);
      await assert.rejects(fresh.lookup(tooMany, callerScopes({ session: 'many' })), (e: unknown) => e instanceof VaultError && e.code === 'too_many' && /at most 10000 distinct placeholders/.test(e.message));
      await vault.close();
      await fresh.close();
    });

    it('a wrong key is a clear error, and a row moved to another placeholder fails authentication', async () => {
      const vault = new PlaceholderVault({ store, key: KEY, ttlMs: 3_600_000, now, pruneEveryMs: 0 });
      vault.record({ placeholder: 'SLUICE_SSN_dddddddddddddd', type: 'ssn', value: '123-45-6789', scope: 'global' });
      vault.record({ placeholder: 'SLUICE_SSN_ffffffffffffff', type: 'ssn', value: '987-65-4321', scope: 'global' });
      await vault.close();
      const wrong = new PlaceholderVault({ store, key: randomBytes(32), ttlMs: 3_600_000, now, pruneEveryMs: 0 });
      await assert.rejects(wrong.lookup(['SLUICE_SSN_dddddddddddddd'], ['global']), (e: unknown) => e instanceof VaultError && e.code === 'wrong_key' && /another key/.test(e.message));
      // Copy one row's sealed value onto the other placeholder: the AAD no longer matches.
      await raw(`UPDATE placeholder_vault SET sealed = (SELECT sealed FROM placeholder_vault WHERE placeholder = 'SLUICE_SSN_dddddddddddddd') WHERE placeholder = 'SLUICE_SSN_ffffffffffffff'`);
      const right = new PlaceholderVault({ store, key: KEY, ttlMs: 3_600_000, now, pruneEveryMs: 0 });
      assert.equal((await right.lookup(['SLUICE_SSN_dddddddddddddd'], ['global'])).get('SLUICE_SSN_dddddddddddddd')?.value, '123-45-6789');
      await assert.rejects(right.lookup(['SLUICE_SSN_ffffffffffffff'], ['global']), (e: unknown) => e instanceof VaultError && e.code === 'tampered');
      await right.close();
      await wrong.close();
    });

    it('expires mappings after the TTL, refreshes them when handed out again, and prunes them', async () => {
      const vault = new PlaceholderVault({ store, key: KEY, ttlMs: 60_000, now, pruneEveryMs: 0 });
      const entry = { placeholder: 'SLUICE_PHONE_gggggggggggggg', type: 'phone', value: '+1 415 555 0132', scope: 'session:ttl' };
      const other = { placeholder: 'SLUICE_PHONE_hhhhhhhhhhhhhh', type: 'phone', value: '+1 415 555 0199', scope: 'session:ttl' };
      vault.record(entry);
      vault.record(other);
      await vault.flush();
      clock += 40_000;
      vault.record(entry); // past half the TTL: written again with a new expiry
      vault.record(other);
      clock += 1_000;
      // `other` was refreshed too; only mappings not handed out again lapse.
      await vault.flush();
      clock += 59_500;
      const lapsed = await vault.lookup([entry.placeholder, other.placeholder], ['session:ttl']);
      assert.equal(lapsed.size, 2, 'refreshed at 40s: still there at 100.5s');
      clock += 1_000;
      assert.equal((await vault.lookup([entry.placeholder], ['session:ttl'])).size, 0, 'expired 60s after the last refresh');
      const pruned = await vault.prune();
      assert.ok(pruned >= 2, `pruned ${pruned}`);
      assert.equal((await store.getVaultEntries([entry.placeholder], ['session:ttl'], '1970-01-01T00:00:00.000Z')).length, 0, 'the row is gone');
      await vault.close();
    });
  });
}

vaultTests('SQLite', async () => {
  const t = await tempStore();
  await t.store.migrate();
  const { default: Libsql } = (await import('libsql')) as unknown as { default: new (path: string) => { exec(sql: string): void; close(): void } };
  return {
    store: t.store,
    raw: async (sql) => {
      const db = new Libsql(t.file);
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
    },
    cleanup: t.cleanup,
  };
});

vaultTests('PostgreSQL', async () => {
  const db: TestDatabase = await createTestDatabase();
  const store = new PostgresStore({ connectionString: db.url });
  await store.migrate();
  return {
    store,
    raw: async (sql) => {
      await db.sql(`SET search_path TO sluice; ${sql}`);
    },
    cleanup: async () => {
      await store.close();
      await db.drop();
    },
  };
});

describe('vault write-behind and keys', () => {
  it('record() never waits for the store; a full buffer drops mappings (one-way), a failed write is reported', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const written: VaultEntry[] = [];
    const problems: string[] = [];
    const slow: VaultStore = {
      async putVaultEntries(entries) {
        await gate;
        written.push(...entries);
      },
      async getVaultEntries() {
        return [];
      },
      async pruneVault() {
        return 0;
      },
    };
    const vault = new PlaceholderVault({ store: slow, key: KEY, ttlMs: 60_000, maxPending: 3, flushDelayMs: 1, pruneEveryMs: 0, onProblem: (p) => problems.push(p.kind) });
    for (let i = 0; i < 5; i++) vault.record({ placeholder: `SLUICE_EMAIL_${'b'.repeat(13)}${'bcdfg'[i]}`, type: 'email', value: `v${i}@example.com`, scope: 'global' });
    assert.equal(vault.dropped, 2, 'two over the bound of 3 were dropped, synchronously');
    // Not yet written: lookups are answered from the buffer.
    assert.equal((await vault.lookup([`SLUICE_EMAIL_${'b'.repeat(14)}`], ['global'])).get(`SLUICE_EMAIL_${'b'.repeat(14)}`)?.value, 'v0@example.com');
    const flushed = vault.flush();
    release();
    await flushed;
    assert.equal(written.length, 3);
    assert.deepEqual(problems, ['dropped', 'dropped']);

    const failing = new PlaceholderVault({
      store: { ...slow, putVaultEntries: () => Promise.reject(new Error('store down')) },
      key: KEY,
      ttlMs: 60_000,
      pruneEveryMs: 0,
      onProblem: (p) => problems.push(`${p.kind}:${p.count}`),
    });
    failing.record({ placeholder: 'SLUICE_EMAIL_kkkkkkkkkkkkkk', type: 'email', value: 'x@example.com', scope: 'global' });
    await failing.flush();
    assert.deepEqual(problems.slice(2), ['write_failed:1']);
    await vault.close();
    await failing.close();
  });

  it('seals with the scope, placeholder and type bound in; keys must be 32 bytes of base64', () => {
    const sealed = sealValue(KEY, 'global', 'SLUICE_EMAIL_bbbbbbbbbbbbbb', 'email', 'ada@example.com');
    assert.equal(openValue(KEY, 'global', 'SLUICE_EMAIL_bbbbbbbbbbbbbb', 'email', sealed), 'ada@example.com');
    assert.throws(() => openValue(KEY, 'session:x', 'SLUICE_EMAIL_bbbbbbbbbbbbbb', 'email', sealed));
    assert.throws(() => openValue(KEY, 'global', 'SLUICE_EMAIL_bbbbbbbbbbbbbb', 'phone', sealed));
    assert.notEqual(sealValue(KEY, 'global', 'SLUICE_EMAIL_bbbbbbbbbbbbbb', 'email', 'ada@example.com'), sealed, 'a fresh IV each time');
    assert.equal(parseVaultKey(KEY.toString('base64')).length, 32);
    for (const bad of ['', 'c2hvcnQ=', 'not base64 at all!', randomBytes(16).toString('base64'), randomBytes(33).toString('base64')]) {
      assert.throws(() => parseVaultKey(bad, 'SLUICE_VAULT_KEY'), (e: unknown) => e instanceof VaultError && e.code === 'invalid_key' && /SLUICE_VAULT_KEY must be 32 random bytes/.test(e.message) && (bad === '' || !e.message.includes(bad)));
    }
  });
});
