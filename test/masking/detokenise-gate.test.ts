// The gate's side of de-tokenisation: the policy field, the Detokeniser's refusals (no vault,
// flags that make a literal code or a file, a value that would change the intent) and the
// audit facts it leaves on the action; and how a config names the vault key.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createAnalysers } from '../../src/analyse/index.js';
import { loadConfigText } from '../../src/config/load.js';
import type { Action, Decision, Principal } from '../../src/gate/types.js';
import { Detokeniser } from '../../src/masking/detokenise.js';
import { PlaceholderVault, VaultError, type VaultStore } from '../../src/masking/vault.js';
import { vaultKey } from '../../src/masking/vault-config.js';
import { compilePolicy } from '../../src/policy/compile.js';
import type { VaultEntry } from '../../src/store/store.js';

const P = 'SLUICE_EMAIL_bbbbbbbbbbbbbb';
const principal: Principal = { kind: 'agent', name: 'bot', groups: [] };

function memoryStore(): VaultStore {
  const rows = new Map<string, VaultEntry>();
  return {
    async putVaultEntries(entries) {
      for (const e of entries) rows.set(`${e.scope}\0${e.placeholder}`, e);
    },
    async getVaultEntries(placeholders, scopes, now) {
      return [...rows.values()].filter((e) => placeholders.includes(e.placeholder) && scopes.includes(e.scope) && e.expiresAt > now);
    },
    async pruneVault() {
      return 0;
    },
  };
}

describe('the detokenise rule field', () => {
  it('is carried by allow and review decisions of the deciding rule, not by denies, and not allowed on presets', () => {
    const policy = compilePolicy({
      rules: [
        { name: 'reads', effect: 'allow', when: 'intent.class == "read"', detokenise: true },
        { name: 'writes', effect: 'review', when: 'intent.class == "write"', detokenise: true },
        { name: 'schema', effect: 'deny', when: 'intent.class == "schema"', detokenise: true },
        { name: 'plain', effect: 'allow', when: 'intent.class == "session"' },
      ],
    });
    const decide = (cls: string) =>
      policy.decide({ id: 'a', time: new Date(), principal, session: 's', connection: { name: 'db', kind: 'postgres', labels: {} }, door: 'api', command: 'x', intent: { language: 'postgres', class: cls as 'read', classes: [cls as 'read'], objects: { tables: [], programs: [], paths: [], hosts: [], functions: [] }, flags: [], parts: [] } });
    assert.equal(decide('read').detokenise, true);
    assert.equal(decide('write').detokenise, true);
    assert.equal(decide('schema').detokenise, undefined);
    assert.equal(decide('session').detokenise, undefined);
    assert.throws(() => compilePolicy({ rules: [{ preset: 'read-only', detokenise: true }] }), /cannot set `detokenise`/);
    assert.throws(() => compilePolicy({ rules: [{ name: 'x', effect: 'allow', detokenise: 'yes' }] }));
  });
});

describe('Detokeniser', async () => {
  const analysers = await createAnalysers();
  const vault = new PlaceholderVault({ store: memoryStore(), key: randomBytes(32), ttlMs: 60_000, pruneEveryMs: 0 });
  vault.record({ placeholder: P, type: 'email', value: "o'hara@example.com", scope: 'session:s1' });
  await vault.flush();
  const allow: Decision = { effect: 'allow', rule: 'r', reason: 'ok', matched: [], detokenise: true };

  function action(command: string, language = 'postgres'): Action {
    const analyser = analysers.get(language)!;
    return { id: 'a', time: new Date(), principal, session: 's1', connection: { name: 'db', kind: language, labels: {} }, door: 'api', command, intent: analyser.analyse(command) };
  }

  it('swaps a literal and leaves the placeholders (never the value) in the action detail', async () => {
    const a = action(`SELECT id FROM customers WHERE email = '${P}'`);
    const out = await new Detokeniser({ vault: () => vault, analysers }).command(a, allow, 'postgres');
    assert.deepEqual(out, { ok: true, command: "SELECT id FROM customers WHERE email = 'o''hara@example.com'" });
    assert.deepEqual(a.detail, { detokenised: { placeholders: [P] } });
    assert.equal(a.command, `SELECT id FROM customers WHERE email = '${P}'`, 'the action keeps the command as sent');
  });

  it('passes commands through when the rule does not ask for it or there is no placeholder', async () => {
    const d = new Detokeniser({ vault: () => vault, analysers });
    const text = `SELECT '${P}'`;
    assert.deepEqual(await d.command(action(text), { ...allow, detokenise: undefined }, 'postgres'), { ok: true, command: text });
    assert.deepEqual(await d.command(action('SELECT 1'), allow, 'postgres'), { ok: true, command: 'SELECT 1' });
  });

  it('refuses without a vault, under code-or-file flags, for other languages, and when the intent would change', async () => {
    const refusal = async (d: Detokeniser, a: Action, language = 'postgres') => {
      const out = await d.command(a, allow, language);
      assert.equal(out.ok, false, a.command);
      assert.ok(!out.ok && !out.error.message.includes('hara'), 'no value in a refusal');
      return !out.ok ? out.error.message : '';
    };
    assert.match(await refusal(new Detokeniser({ vault: () => undefined, analysers }), action(`SELECT '${P}'`)), /one-way here: no vault/);
    const d = new Detokeniser({ vault: () => vault, analysers });
    assert.match(await refusal(d, action(`SELECT query_to_xml('${P}', true, true, '')`)), /flagged dynamic_sql/);
    assert.match(await refusal(d, action(`SELECT pg_read_file('${P}')`)), /flagged file_access/);
    assert.match(await refusal(d, action(`COPY t FROM '${P}'`)), /flagged file_access/);
    assert.match(await refusal(d, action(`SELECT * FROM t WHERE a = '${P}'`, 'mysql'), 'mysql'), /not supported for mysql/);
    assert.match(await refusal(d, action(`cat ${P}`, 'shell'), 'shell'), /something else than what the policy decided on/);
  });

  it('says which key is wrong', async () => {
    const store = memoryStore();
    const writer = new PlaceholderVault({ store, key: randomBytes(32), ttlMs: 60_000, pruneEveryMs: 0 });
    writer.record({ placeholder: P, type: 'email', value: 'x@example.com', scope: 'session:s1' });
    await writer.close();
    const reader = new PlaceholderVault({ store, key: randomBytes(32), ttlMs: 60_000, pruneEveryMs: 0 });
    const out = await new Detokeniser({ vault: () => reader, analysers }).command(action(`SELECT '${P}'`), allow, 'postgres');
    assert.ok(!out.ok && /sealed with another key/.test(out.error.message));
    await reader.close();
  });
});

describe('the vault key in a config', () => {
  const load = (yaml: string) => loadConfigText(yaml, '/tmp/sluice.yaml', '/tmp').config;

  it('comes from masking.vault.key, else SLUICE_VAULT_KEY; none means no vault; a bad one is a clear error', () => {
    const key = randomBytes(32).toString('base64');
    assert.equal(vaultKey(load('{}'), '/tmp', {}), undefined);
    assert.equal(vaultKey(load('{}'), '/tmp', { SLUICE_VAULT_KEY: key })?.toString('base64'), key);
    process.env.SLUICE_TEST_VK = key;
    assert.equal(vaultKey(load('masking: { vault: { key: { env: SLUICE_TEST_VK } } }'), '/tmp', {})?.toString('base64'), key);
    assert.throws(() => vaultKey(load('{}'), '/tmp', { SLUICE_VAULT_KEY: 'too-short' }), (e: unknown) => e instanceof VaultError && /SLUICE_VAULT_KEY must be 32 random bytes/.test(e.message) && !e.message.includes('too-short'));
    assert.equal(load('masking: { vault: { ttl: 2h } }').masking.vault.ttl, 7_200_000);
    assert.throws(() => load('masking: { vault: { keys: x } }'), /keys/);
    delete process.env.SLUICE_TEST_VK;
  });
});
