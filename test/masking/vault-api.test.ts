// Placeholders through Gate.run (the REST API's /v1/actions; the MCP door's query and exec
// tools take the same path) and revealing values (POST /v1/reveal and `sluice reveal`):
// de-tokenisation for PostgreSQL and shell connections, reveal denied, allowed and reviewed,
// audited with kind `reveal` and never the value.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { startSluice, type RunningSluice } from '../../src/app/server.js';
import { loadConfigText } from '../../src/config/load.js';
import { createKey } from '../../src/identity/keys.js';
import { directSql, tempDir, uniqueName } from '../helpers.js';

const run = promisify(execFile);
const PLACEHOLDER = /SLUICE_EMAIL_[b-v]{14}/;

describe('placeholders through the REST API, and reveal', () => {
  const dir = tempDir('sluice-vault-api-');
  const table = uniqueName('vault_api');
  let sluice: RunningSluice;
  let url: string;
  const keys: Record<string, string> = {};

  before(async () => {
    mkdirSync(join(dir.path, 'files'));
    writeFileSync(join(dir.path, 'files', 'contacts.txt'), 'ada@example.com ada\ngrace@example.com grace\n');
    await directSql(`CREATE TABLE ${table} (id int PRIMARY KEY, email text)`);
    await directSql(`INSERT INTO ${table} VALUES (1, 'ada@example.com'), (2, 'grace@example.com')`);
    process.env.SLUICE_TEST_VAULT_KEY = randomBytes(32).toString('base64');
    const config = `
store: { url: sqlite:store/sluice.db }
listeners: { api: { address: 127.0.0.1:0 } }
identities:
  copilot: { kind: agent, groups: [agents], on_behalf_of: alice }
  alice: { kind: human, groups: [staff] }
  root-admin: { kind: human, groups: [admin] }
  eve: { kind: human, groups: [outsiders] }
connections:
  db: { kind: postgres, database: test, user: root, max_connections: 2 }
  sh: { kind: shell, cwd: files, timeout: 5s }
masking:
  vault: { key: { env: SLUICE_TEST_VAULT_KEY }, ttl: 1h }
  profiles:
    pii: { detectors: [pii], scope: agent }
approvals: { timeout: 20s, approvers: [admin] }
policy:
  rules:
    - { name: agent-db, connections: [db], when: 'principal.kind == "agent"', effect: allow, mask: pii, detokenise: true }
    - { name: agent-sh, connections: [sh], when: 'principal.kind == "agent" && intent.class == "read"', effect: allow, mask: pii, detokenise: true }
    - { name: reveal-admins, doors: [api], when: 'intent.class == "reveal" && "admin" in principal.groups', effect: allow }
    - { name: reveal-staff, doors: [api], when: 'intent.class == "reveal" && "staff" in principal.groups', effect: review }
    - { name: agents-too-broad, when: 'principal.kind == "agent" && intent.class == "reveal"', effect: allow }
`;
    sluice = await startSluice(loadConfigText(config, join(dir.path, 'sluice.yaml'), dir.path));
    url = sluice.api.url;
    for (const [principal, kind] of [['copilot', 'agent'], ['alice', 'human'], ['root-admin', 'human'], ['eve', 'human']] as const) {
      keys[principal] = (await createKey(sluice.runtime.store, { principal, kind, groups: [] })).key;
    }
  });

  after(async () => {
    await sluice?.stop();
    await directSql(`DROP TABLE IF EXISTS ${table}`);
    delete process.env.SLUICE_TEST_VAULT_KEY;
    dir.remove();
  });

  async function post(path: string, body: unknown, key: string) {
    const response = await fetch(`${url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  }

  async function placeholderOf(id: number, session: string): Promise<string> {
    const masked = await post('/v1/actions', { connection: 'db', command: `SELECT email FROM ${table} WHERE id = ${id}`, session }, keys.copilot!);
    assert.equal(masked.status, 200, JSON.stringify(masked.body));
    const placeholder = String(masked.body.result.rows[0][0]);
    assert.match(placeholder, PLACEHOLDER);
    return placeholder;
  }

  async function records(kind: string): Promise<Record<string, any>[]> {
    await sluice.runtime.ledger.flush();
    return (await sluice.runtime.store.readAudit({ limit: 10_000 })).map((r) => JSON.parse(r.body) as Record<string, any>).filter((r) => r.kind === kind);
  }

  it('PostgreSQL: a placeholder from one session is swapped in a later one (agent scope) and finds the row', async () => {
    const grace = await placeholderOf(2, 'first');
    const found = await post('/v1/actions', { connection: 'db', command: `SELECT id FROM ${table} WHERE email = '${grace}'`, session: 'second' }, keys.copilot!);
    assert.equal(found.status, 200, JSON.stringify(found.body));
    assert.deepEqual(found.body.result.rows, [[2]]);
    const refused = await post('/v1/actions', { connection: 'db', command: `SELECT id FROM ${table} WHERE email = ${grace}`, session: 'second' }, keys.copilot!);
    assert.equal(refused.body.result.ok, false);
    assert.equal(refused.body.result.error.code, 'detokenise_refused');
  });

  it('shell: the value goes in as a single-quoted word', async () => {
    const ada = await placeholderOf(1, 'shell');
    const r = await post('/v1/actions', { connection: 'sh', command: `grep -c ${ada} contacts.txt`, session: 'shell' }, keys.copilot!);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.result.stdout, '1\n');
    const named = await post('/v1/actions', { connection: 'sh', command: `cat ${ada}`, session: 'shell' }, keys.copilot!);
    assert.equal(named.body.result.error?.code, 'detokenise_refused', 'a value that would change the paths the policy saw is refused');
  });

  it('reveal: an allowed human sees the value; the ledger names the placeholder, never the value', async () => {
    const grace = await placeholderOf(2, 'reveal');
    const r = await post('/v1/reveal', { placeholder: grace, scope: 'agent:copilot' }, keys['root-admin']!);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.value, 'grace@example.com');
    assert.equal(r.body.type, 'email');
    const reveals = (await records('reveal')).filter((x) => x.actionId === r.body.action_id);
    assert.deepEqual(reveals.map((x) => [x.detail.event, x.effect, x.outcome ?? null, x.detail.placeholder, x.rule]), [
      ['decision', 'allow', null, grace, 'reveal-admins'],
      ['outcome', 'allow', 'succeeded', grace, 'reveal-admins'],
    ]);
    assert.ok(!JSON.stringify(await records('reveal')).includes('grace@example.com'));
    const missing = await post('/v1/reveal', { placeholder: grace, scope: 'agent:someone-else' }, keys['root-admin']!);
    assert.equal(missing.status, 404);
    assert.equal((await post('/v1/reveal', { placeholder: 'SLUICE_EMAIL_x', scope: 'global' }, keys['root-admin']!)).status, 400);
  });

  it('reveal: denied for agents (whatever the rules say) and for humans no rule allows', async () => {
    const ada = await placeholderOf(1, 'deny');
    const agent = await post('/v1/reveal', { placeholder: ada, scope: 'agent:copilot' }, keys.copilot!);
    assert.equal(agent.status, 403);
    assert.equal(agent.body.error.rule, 'reveal-humans-only');
    const eve = await post('/v1/reveal', { placeholder: ada, scope: 'agent:copilot' }, keys.eve!);
    assert.equal(eve.status, 403);
    assert.equal(eve.body.error.rule, 'default-deny');
    assert.ok(!JSON.stringify([agent.body, eve.body]).includes('ada@example.com'));
    const denied = (await records('reveal')).filter((x) => [agent.body.action_id, eve.body.action_id].includes(x.actionId));
    assert.deepEqual(denied.map((x) => x.effect), ['deny', 'deny']);
  });

  it('reveal: a review holds it until an approver decides (approved: the value; rejected: nothing)', async () => {
    const ada = await placeholderOf(1, 'review');
    for (const verdict of ['approve', 'reject'] as const) {
      const pending = post('/v1/reveal', { placeholder: ada, scope: 'agent:copilot' }, keys.alice!);
      let review;
      for (let i = 0; i < 500 && !review; i++) {
        review = (await sluice.runtime.store.listReviews({ status: 'pending' })).find((r) => (r.action as { command?: string }).command === `reveal ${ada} in agent:copilot`);
        if (!review) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.ok(review, 'the reveal is held for review');
      const decided = await post(`/v1/reviews/${review.id}/${verdict}`, { note: 'checked' }, keys['root-admin']!);
      assert.equal(decided.status, 200, JSON.stringify(decided.body));
      const answer = await pending;
      if (verdict === 'approve') {
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.equal(answer.body.value, 'ada@example.com');
        assert.equal(answer.body.review.by, 'root-admin');
      } else {
        assert.equal(answer.status, 403);
        assert.equal(answer.body.error.code, 'review_rejected');
        assert.equal(answer.body.value, undefined);
      }
    }
  });

  it('sluice reveal asks the API with a key from the environment', async () => {
    const grace = await placeholderOf(2, 'cli');
    const { stdout } = await run(process.execPath, [resolve('bin/sluice.mjs'), 'reveal', grace, '--scope', 'agent:copilot', '--key-env', 'REVEAL_KEY', '--api', url], {
      env: { ...process.env, REVEAL_KEY: keys['root-admin']! },
    });
    assert.equal(stdout, 'grace@example.com\n');
    await assert.rejects(
      run(process.execPath, [resolve('bin/sluice.mjs'), 'reveal', grace, '--scope', 'agent:copilot', '--key-env', 'REVEAL_KEY', '--api', url], { env: { ...process.env, REVEAL_KEY: keys.eve! } }),
      (e: { code?: number; stderr?: string }) => e.code === 1 && /denied/.test(e.stderr ?? ''),
    );
  });
});
