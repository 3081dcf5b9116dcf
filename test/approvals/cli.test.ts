// `sluice reviews` and `sluice grants` from another process, as a human at another terminal:
// through the API with their own key (SLUICE_KEY), or on the store as the OS user, who must be
// an approver identity. Nobody can claim a name with --by.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { directSql, tempDir, uniqueName } from '../helpers.js';
import { query, startApprovalSluice, type ApprovalSluice } from './helpers.js';

const BIN = resolve('bin/sluice.mjs');
const table = uniqueName('approvals_cli');

function sluice(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    const clean: NodeJS.ProcessEnv = { ...process.env, SLUICE_LOG_LEVEL: 'silent', ...env };
    if (!('SLUICE_KEY' in env)) delete clean.SLUICE_KEY;
    execFile(process.execPath, [BIN, ...args], { env: clean, timeout: 60_000 }, (error, stdout, stderr) => {
      resolvePromise({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('sluice reviews and sluice grants', () => {
  const dir = tempDir('sluice-approvals-cli-');
  const osUser = userInfo().username;
  let s: ApprovalSluice;
  const keys: Record<string, string> = {};

  before(async () => {
    await directSql(`CREATE TABLE ${table} (id int PRIMARY KEY, note text)`);
    s = await startApprovalSluice({
      dir: dir.path,
      identities: { [osUser]: { kind: 'human', groups: ['dba'] } },
      approvals: { rules: { writes: { approvers: ['dba'] } } },
    });
    for (const name of ['bot', 'bob', 'erin', 'dave'] as const) keys[name] = await s.key(name);
  });
  after(async () => {
    await s?.stop();
    await directSql(`DROP TABLE IF EXISTS ${table}`);
    dir.remove();
  });

  it('lists and shows held commands as JSON; approves as the OS user with a session grant; lists and revokes grants through the API', async () => {
    const config = ['--config', s.configFile];
    const sql = `INSERT INTO ${table} VALUES (1, 'one')`;
    const held = query(s.pgClient('bot', keys.bot!), sql);
    const review = await s.pending(sql);
    const listed = await sluice([...config, 'reviews', 'list', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const row = listed.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>).find((r) => r.id === review.id);
    assert.equal(row?.command, sql);
    assert.equal(row?.principal, 'agent:bot');
    assert.equal(row?.on_behalf_of, 'alice');
    const shown = await sluice([...config, 'reviews', 'show', review.id, '--json']);
    assert.equal(shown.code, 0, shown.stderr);
    assert.deepEqual((JSON.parse(shown.stdout) as { votes: unknown[] }).votes, []);

    const claimed = await sluice([...config, 'reviews', 'approve', review.id, '--by', 'human:bob']);
    assert.notEqual(claimed.code, 0, 'there is no --by');
    assert.match(claimed.stderr, /unknown option '--by'/);

    const approved = await sluice([...config, 'reviews', 'approve', review.id, '--note', 'fine', '--grant', 'session', '--minutes', '5', '--json']);
    assert.equal(approved.code, 0, approved.stderr);
    const answer = JSON.parse(approved.stdout) as Record<string, any>;
    assert.equal(answer.status, 'approved');
    assert.equal(answer.decided_by, osUser);
    assert.equal(answer.grant.scope, 'session');
    assert.equal((await held).ok, true);
    const voteRecord = (await s.audit()).find((r) => r.detail?.reviewId === review.id && r.detail.event === 'vote');
    assert.equal(voteRecord?.approver, osUser);
    assert.match(String(voteRecord?.detail.via), new RegExp(`OS user ${osUser}`));

    const grants = await sluice([...config, 'grants', 'list', '--json']);
    assert.equal(grants.code, 0, grants.stderr);
    const grant = grants.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>).find((g) => g.id === answer.grant.id);
    assert.equal(grant?.review_id, review.id);
    const notApprover = await sluice([...config, 'grants', 'revoke', grant!.id, '--api', s.api], { SLUICE_KEY: keys.dave! });
    assert.equal(notApprover.code, 1);
    assert.match(notApprover.stderr, /not_approver/);
    const revoked = await sluice([...config, 'grants', 'revoke', grant!.id, '--api', s.api, '--json'], { SLUICE_KEY: keys.erin! });
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal((JSON.parse(revoked.stdout) as Record<string, any>).revoked_by, 'erin');
    assert.equal((await sluice([...config, 'grants', 'list', '--json'])).stdout.trim(), '', 'no active grants left');
  });

  it('rejects through the API with the approver\'s own key; refuses an OS user who is not an approver identity', async () => {
    const sql = `INSERT INTO ${table} VALUES (2, 'two')`;
    const held = query(s.pgClient('bot', keys.bot!), sql);
    const review = await s.pending(sql);
    // The same store, a config in which the OS user is not an identity.
    const stranger = parse(readFileSync(s.configFile, 'utf8')) as { identities: Record<string, unknown> };
    delete stranger.identities[osUser];
    const strangerFile = join(dir.path, 'stranger.yaml');
    writeFileSync(strangerFile, stringify(stranger));
    const refused = await sluice(['--config', strangerFile, 'reviews', 'approve', review.id]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`OS user "${osUser}" is not a human identity`));
    const rejected = await sluice(['--config', s.configFile, 'reviews', 'reject', review.id, '--note', 'no', '--api', s.api], { SLUICE_KEY: keys.bob! });
    assert.equal(rejected.code, 0, rejected.stderr);
    assert.match(rejected.stdout, /rejected/);
    const result = await held;
    assert.equal(result.ok, false);
    assert.match((result as { message: string }).message, /rejected by bob: no/);
  });
});
