// The REST API through real HTTP (fetch and curl), on a real embedded store, shell and
// PostgreSQL.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startSluice, type RunningSluice } from '../../src/app/server.js';
import { AuditLedger } from '../../src/audit/ledger.js';
import { decideReview } from '../../src/approvals/reviews.js';
import { loadConfigText } from '../../src/config/load.js';
import { createKey } from '../../src/identity/keys.js';
import { directSql, tempDir, uniqueName } from '../helpers.js';

const run = promisify(execFile);

describe('REST API', () => {
  const dir = tempDir('sluice-api-');
  const table = uniqueName('api_items');
  let sluice: RunningSluice;
  let url: string;
  let agentKey: string;
  let adminKey: string;

  before(async () => {
    mkdirSync(join(dir.path, 'files'));
    await directSql(`CREATE TABLE ${table} (id int PRIMARY KEY, email text, note text)`);
    await directSql(`INSERT INTO ${table} VALUES (1, 'ada@example.com', 'a'), (2, 'bob@example.com', 'b')`);
    const config = `
store: { url: sqlite:store/sluice.db }
listeners: { api: { address: 127.0.0.1:0, max_body: 64KiB } }
identities:
  alice: { kind: human, groups: [staff] }
  copilot: { kind: agent, groups: [agents], on_behalf_of: alice }
  root-admin: { kind: human, groups: [admin] }
connections:
  db: { kind: postgres, database: test, user: root, policy: guarded, mask: pii, max_connections: 2 }
  sh: { kind: shell, cwd: files, timeout: 5s, policy: read-only, env: { set: { API_TOKEN: { env: SLUICE_TEST_API_TOKEN }, GREETING: hello } } }
masking:
  profiles:
    pii: { columns: [email], replacement: partial }
approvals: { timeout: 20s, approvers: [admin, staff] }
`;
    process.env.SLUICE_TEST_API_TOKEN = 'tok-3f9a1c-injected';
    const loaded = loadConfigText(config, join(dir.path, 'sluice.yaml'), dir.path);
    sluice = await startSluice(loaded);
    url = sluice.api.url;
    agentKey = (await createKey(sluice.runtime.store, { principal: 'copilot', kind: 'agent', groups: [] })).key;
    adminKey = (await createKey(sluice.runtime.store, { principal: 'root-admin', kind: 'human', groups: [] })).key;
  });

  after(async () => {
    await sluice?.stop();
    await directSql(`DROP TABLE IF EXISTS ${table}`);
    dir.remove();
  });

  async function post(body: unknown, key: string | null = agentKey, init: RequestInit = {}) {
    const response = await fetch(`${url}/v1/actions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      ...init,
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  }

  it('answers health, readiness and metrics without a key', async () => {
    assert.deepEqual(await (await fetch(`${url}/healthz`)).json(), { status: 'ok' });
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
    await post({ connection: 'sh', command: 'echo metrics' });
    const metrics = await (await fetch(`${url}/metrics`)).text();
    assert.match(metrics, /sluice_decisions_total\{door="api",effect="allow"\} \d+/);
  });

  it('runs an allowed shell command (driven with curl)', async () => {
    const { stdout } = await run('curl', [
      '-s', '-X', 'POST', `${url}/v1/actions`,
      '-H', `Authorization: Bearer ${agentKey}`,
      '-H', 'content-type: application/json',
      '-d', JSON.stringify({ connection: 'sh', command: 'echo hello | tr a-z A-Z' }),
    ]);
    const body = JSON.parse(stdout) as Record<string, any>;
    assert.equal(body.decision.effect, 'allow');
    assert.equal(body.result.stdout, 'HELLO\n');
    assert.equal(body.result.exitCode, 0);
  });

  it('never returns an injected credential, even when the command prints it', async () => {
    const { status, body } = await post({ connection: 'sh', command: 'printenv API_TOKEN GREETING' });
    assert.equal(status, 200);
    assert.equal(body.result.stdout, '[secret]\nhello\n');
    await sluice.runtime.ledger.flush();
    const records = await sluice.runtime.store.readAudit({ actionId: body.action_id, limit: 10 });
    assert.ok(records.every((row) => !row.body.includes('tok-3f9a1c-injected')));
    assert.equal((JSON.parse(records.at(-1)!.body) as any).detail.secretsRedacted, 1);
  });

  it('denies with 403, names the rule, and does not run the command', async () => {
    const { status, body } = await post({ connection: 'sh', command: 'touch pwned' });
    assert.equal(status, 403);
    assert.equal(body.error.code, 'denied');
    assert.equal(body.error.rule, body.decision.rule);
    assert.match(body.error.message, /denied by rule/);
    assert.equal(existsSync(join(dir.path, 'files', 'pwned')), false);
  });

  it('masks personal data in query results', async () => {
    const { status, body } = await post({ connection: 'db', command: `SELECT id, email FROM ${table} ORDER BY id` });
    assert.equal(status, 200);
    assert.deepEqual(body.result.rows, [[1, '****.com'], [2, '****.com']]);
    assert.deepEqual(body.masked, { columns: ['email'], values: 2 });
  });

  it('holds a write for review until approved, then runs it', async () => {
    const pending = post({ connection: 'db', command: `UPDATE ${table} SET note = 'reviewed' WHERE id = 2`, session: 'review-session' });
    let reviewId: string | undefined;
    for (let i = 0; i < 100 && !reviewId; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      reviewId = (await sluice.runtime.store.listReviews({ status: 'pending' }))[0]?.id;
    }
    assert.ok(reviewId, 'a pending review appears');
    await decideReview(sluice.runtime.store, new AuditLedger(sluice.runtime.store), reviewId, 'approved', 'human:alice-boss');
    const { status, body } = await pending;
    assert.equal(status, 200);
    assert.equal(body.review.status, 'approved');
    assert.equal(body.result.rowCount, 1);
    assert.equal((await directSql<{ note: string }>(`SELECT note FROM ${table} WHERE id = 2`)).rows[0]!.note, 'reviewed');
  });

  it('rejects requests without a usable key', async () => {
    assert.equal((await post({ connection: 'sh', command: 'ls' }, null)).body.error.code, 'missing_credentials');
    assert.equal((await post({ connection: 'sh', command: 'ls' }, 'slk_AAAAAAAAAAAA_' + 'A'.repeat(43))).body.error.code, 'invalid_key');
    assert.equal((await post({ connection: 'sh', command: 'ls' }, 'not-a-key')).status, 401);
    const expiring = await createKey(sluice.runtime.store, { principal: 'copilot', kind: 'agent', groups: [], ttlMs: 1 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.equal((await post({ connection: 'sh', command: 'ls' }, expiring.key)).body.error.code, 'key_expired');
    const revoked = await createKey(sluice.runtime.store, { principal: 'copilot', kind: 'agent', groups: [] });
    await sluice.runtime.store.revokeKey(revoked.record.id, new Date().toISOString());
    const response = await post({ connection: 'sh', command: 'ls' }, revoked.key);
    assert.equal(response.status, 401);
    assert.equal(response.body.error.code, 'key_revoked');
  });

  it('gives clear errors for bad bodies and runs nothing', async () => {
    const before = await sluice.runtime.store.auditHead();
    const notJson = await post('{"connection": "sh", "command": ');
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.error.code, 'bad_json');
    const unknownField = await post({ connection: 'sh', command: 'ls', sudo: true });
    assert.equal(unknownField.status, 400);
    assert.match(unknownField.body.error.message, /unknown field\(s\): sudo/);
    const wrongType = await post({ connection: 'sh', command: 42 });
    assert.equal(wrongType.body.error.code, 'invalid_request');
    const wrongMedia = await fetch(`${url}/v1/actions`, { method: 'POST', headers: { authorization: `Bearer ${agentKey}` }, body: 'x' });
    assert.equal(wrongMedia.status, 415);
    // A 10 MB command: refused before it is parsed or analysed.
    const huge = await post({ connection: 'sh', command: `echo ${'x'.repeat(10 * 1024 * 1024)}` });
    assert.equal(huge.status, 413);
    assert.equal(huge.body.error.code, 'payload_too_large');
    assert.deepEqual(await sluice.runtime.store.auditHead(), before, 'nothing was recorded, so nothing was decided or run');
    assert.equal((await fetch(`${url}/healthz`)).status, 200, 'the server is still up');
  });

  it('answers unknown routes and methods with JSON errors', async () => {
    const missing = await fetch(`${url}/v2/nothing`);
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as any).error.code, 'not_found');
    const wrongMethod = await fetch(`${url}/v1/actions`);
    assert.equal(wrongMethod.status, 405);
  });

  it('lets audit readers read the log, and no one else', async () => {
    const session = uniqueName('ses');
    await post({ connection: 'sh', command: 'echo audited', session });
    const forbidden = await fetch(`${url}/v1/audit`, { headers: { authorization: `Bearer ${agentKey}` } });
    assert.equal(forbidden.status, 403);
    const allowed = await fetch(`${url}/v1/audit?session=${session}&order=asc`, { headers: { authorization: `Bearer ${adminKey}` } });
    assert.equal(allowed.status, 200);
    const { records } = (await allowed.json()) as { records: { record: Record<string, unknown> }[] };
    assert.deepEqual(records.map((r) => r.record.kind), ['decision', 'outcome']);
    assert.equal(records[0]!.record.principal, 'copilot');
    assert.equal(records[0]!.record.onBehalfOf, 'alice');
    const badQuery = await fetch(`${url}/v1/audit?limit=abc`, { headers: { authorization: `Bearer ${adminKey}` } });
    assert.equal(badQuery.status, 400);
  });

  async function token(body: unknown, key: string | null = agentKey) {
    const response = await fetch(`${url}/v1/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  }

  it('POST /v1/tokens: a 15-minute token for the same principal, usable like a key, audited without its secret', async () => {
    const before = Date.now();
    const made = await token({});
    assert.equal(made.status, 201, JSON.stringify(made.body));
    const { body } = made;
    assert.match(body.token, /^slt_[A-Za-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    assert.equal(body.principal, 'copilot');
    assert.equal(body.kind, 'agent');
    const record = (await sluice.runtime.store.getKey(body.id))!;
    assert.equal(record.token, true);
    assert.equal(record.onBehalfOf, undefined, 'the parent key named no human; config still says whom the agent acts for');
    const ttl = Date.parse(body.expires_at) - before;
    assert.ok(ttl > 14 * 60_000 && ttl <= 15 * 60_000 + 1000, `default ttl ${ttl}`);
    // The token runs commands as the same principal (config groups and on-behalf-of included).
    const ran = await post({ connection: 'sh', command: 'echo via-token' }, body.token);
    assert.equal(ran.status, 200);
    await sluice.runtime.ledger.flush();
    const decision = (await sluice.runtime.store.readAudit({ actionId: ran.body.action_id, limit: 1 }))[0]!;
    assert.equal(JSON.parse(decision.body).onBehalfOf, 'alice');
    // Audited: kind key, who asked, no secret anywhere in the ledger.
    await sluice.runtime.ledger.flush();
    const rows = await sluice.runtime.store.readAudit({ limit: 1000, principal: 'copilot' });
    const created = rows.map((r) => JSON.parse(r.body)).find((r) => r.kind === 'key' && r.detail?.keyId === body.id);
    assert.ok(created, 'a key record for the token');
    assert.equal(created.detail.event, 'token-created');
    assert.equal(created.detail.expiresAt, body.expires_at);
    const secret = (body.token as string).slice(17);
    assert.ok(!rows.some((r) => r.body.includes(secret)) && !rows.some((r) => r.body.includes(agentKey.slice(17))));
  });

  it('POST /v1/tokens: groups and on-behalf-of come from the presenting key; a token made from a token never outlives it', async () => {
    const parent = await createKey(sluice.runtime.store, { principal: 'copilot', kind: 'agent', groups: ['extra'], onBehalfOf: 'alice' });
    const first = await token({ ttl: '10m' }, parent.key);
    assert.equal(first.status, 201);
    assert.deepEqual(first.body.groups, ['extra']);
    assert.equal(first.body.on_behalf_of, 'alice');
    const second = await token({ ttl: '1h' }, first.body.token);
    assert.equal(second.status, 201);
    assert.ok(Date.parse(second.body.expires_at) <= Date.parse(first.body.expires_at), 'capped at the parent token\'s expiry');
  });

  it('POST /v1/tokens: revoking the issuing key stops its tokens; a principal holds at most tokens.max_live', async () => {
    const parent = await createKey(sluice.runtime.store, { principal: 'copilot', kind: 'agent', groups: [], onBehalfOf: 'alice' });
    const child = await token({ ttl: '1h' }, parent.key);
    assert.equal(child.status, 201);
    assert.equal((await sluice.runtime.store.getKey(child.body.id))!.parentId, parent.record.id);
    assert.equal((await post({ connection: 'sh', command: 'echo before' }, child.body.token)).status, 200);
    await sluice.runtime.store.revokeKey(parent.record.id, new Date().toISOString());
    const after = await post({ connection: 'sh', command: 'echo after' }, child.body.token);
    assert.equal(after.status, 401);
    assert.match(JSON.stringify(after.body), /issued by API key/);

    const max = sluice.runtime.loaded.config.tokens.max_live;
    const issuer = await createKey(sluice.runtime.store, { principal: 'copilot', kind: 'agent', groups: [], onBehalfOf: 'alice' });
    const live = (await sluice.runtime.store.loginKeys('copilot', new Date().toISOString())).filter((k) => k.token && !k.revokedAt && Date.parse(k.expiresAt!) > Date.now()).length;
    for (let i = live; i < max; i++) assert.equal((await token({ ttl: '1m' }, issuer.key)).status, 201);
    const refused = await token({ ttl: '1m' }, issuer.key);
    assert.equal(refused.status, 429);
    assert.equal(refused.body.error.code, 'too_many_tokens');
  });

  it('reviews over the API: approvers list and decide; the agent and the human it acts for cannot', async () => {
    const aliceKey = (await createKey(sluice.runtime.store, { principal: 'alice', kind: 'human', groups: [] })).key;
    const reviews = async (key: string) => {
      const r = await fetch(`${url}/v1/reviews`, { headers: { authorization: `Bearer ${key}` } });
      return { status: r.status, body: (await r.json()) as Record<string, any> };
    };
    const decide = async (id: string, verdict: string, key: string) => {
      const r = await fetch(`${url}/v1/reviews/${id}/${verdict}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ note: 'checked' }),
      });
      return { status: r.status, body: (await r.json()) as Record<string, any> };
    };
    const command = `INSERT INTO ${table} VALUES (3, 'cy@example.com', 'c')`;
    const held = post({ connection: 'db', command });
    let id: string | undefined;
    for (let i = 0; i < 100 && !id; i++) {
      const listed = await reviews(adminKey);
      assert.equal(listed.status, 200);
      id = (listed.body.reviews as Record<string, any>[]).find((r) => r.command === command)?.id;
      if (!id) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(id, 'the held INSERT is listed for approvers');
    assert.equal((await reviews(agentKey)).status, 403, 'agents do not see the queue');
    const own = await decide(id, 'approve', agentKey);
    assert.equal(own.status, 403);
    assert.equal(own.body.error.code, 'not_approver');
    const forSelf = await decide(id, 'approve', aliceKey);
    assert.equal(forSelf.status, 403, 'alice is an approver, but the agent acts for her');
    assert.equal(forSelf.body.error.code, 'self_approval');
    const ok = await decide(id, 'approve', adminKey);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.decided_by, 'root-admin');
    const ran = await held;
    assert.equal(ran.status, 200, JSON.stringify(ran.body));
    assert.equal((await directSql(`SELECT count(*)::int AS n FROM ${table} WHERE id = 3`)).rows[0]!.n, 1);
    const again = await decide(id, 'reject', adminKey);
    assert.equal(again.status, 409, 'already decided');
    assert.equal((await decide('rv_nope', 'approve', adminKey)).status, 404);
  });

  it('POST /v1/tokens: refuses missing keys, too long or malformed lifetimes and unknown fields', async () => {
    assert.equal((await token({}, null)).status, 401);
    const tooLong = await token({ ttl: '13h' });
    assert.equal(tooLong.status, 400);
    assert.equal(tooLong.body.error.code, 'ttl_too_long');
    assert.match(tooLong.body.error.message, /at most 12h \(tokens\.max_ttl\)/);
    const bad = await token({ ttl: 'forever' });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /ttl: "forever" is not a duration/);
    const unknown = await token({ ttl: '5m', scope: 'all' });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error.message, /unknown field\(s\): scope/);
    assert.equal((await fetch(`${url}/v1/tokens`)).status, 405);
  });
});
