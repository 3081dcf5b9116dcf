// The approval workflow end to end through the MCP door with the official SDK client: held tool
// calls report their review by progress notifications and humans decide them through the API.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@modelcontextprotocol/client';
import { directSql, tempDir, uniqueName } from '../helpers.js';
import { connectClient, textOf } from '../doors/mcp/helpers.js';
import { QUORUM_OF_TWO, startApprovalSluice, type ApprovalSluice } from './helpers.js';

const table = uniqueName('approvals_mcp');

/** Calls `tool` and, once the review id shows up in a progress notification, runs `decide` with it. */
async function callAndDecide(client: Client, tool: string, args: Record<string, unknown>, decide: (reviewId: string) => Promise<unknown>) {
  let deciding: Promise<unknown> | undefined;
  const result = await client.callTool(
    { name: tool, arguments: args },
    {
      onprogress: (progress) => {
        const id = /sluice reviews approve (rv_[\w-]+)/.exec(progress.message ?? '')?.[1];
        if (id && !deciding) deciding = decide(id);
      },
    },
  );
  return { result, decided: await deciding };
}

describe('approvals through the MCP door', () => {
  const dir = tempDir('sluice-approvals-mcp-');
  let s: ApprovalSluice;
  let client: Client;
  const keys: Record<string, string> = {};

  before(async () => {
    await directSql(`CREATE TABLE ${table} (id int PRIMARY KEY, note text)`);
    await directSql(`INSERT INTO ${table} VALUES (100, 'a'), (101, 'b'), (102, 'c')`);
    s = await startApprovalSluice({
      dir: dir.path,
      ...QUORUM_OF_TWO,
    });
    for (const name of ['bot', 'alice', 'bob', 'carol'] as const) keys[name] = await s.key(name);
    ({ client } = await connectClient(`${s.api}/mcp`, keys.bot!));
  });

  after(async () => {
    await client?.close().catch(() => undefined);
    await s?.stop();
    await directSql(`DROP TABLE IF EXISTS ${table}`);
    dir.remove();
  });

  it('approve, with self-approval refused first', async () => {
    const { result, decided } = await callAndDecide(client, 'test__query', { sql: `INSERT INTO ${table} VALUES (1, 'one')` }, async (id) => {
      const own = await s.vote(id, 'approve', keys.alice!);
      const ok = await s.vote(id, 'approve', keys.bob!);
      return { own, ok };
    });
    const { own, ok } = decided as { own: { status: number; body: any }; ok: { status: number } };
    assert.equal(own.status, 403);
    assert.equal(own.body.error.code, 'self_approval');
    assert.equal(ok.status, 200);
    assert.equal(result.isError, undefined, textOf(result));
    assert.equal((await directSql(`SELECT count(*)::int AS n FROM ${table} WHERE id = 1`)).rows[0]!.n, 1);
  });

  it('reject', async () => {
    const { result } = await callAndDecide(client, 'test__query', { sql: `INSERT INTO ${table} VALUES (2, 'two')` }, (id) => s.vote(id, 'reject', keys.carol!, { note: 'no' }));
    assert.equal(result.isError, true);
    assert.match(textOf(result), /rejected by carol: no/);
    assert.equal((await directSql(`SELECT count(*)::int AS n FROM ${table} WHERE id = 2`)).rows[0]!.n, 0);
  });

  it('quorum of two', async () => {
    const { result, decided } = await callAndDecide(client, 'two__query', { sql: `INSERT INTO ${table} VALUES (3, 'three')` }, async (id) => {
      const first = await s.vote(id, 'approve', keys.bob!);
      const second = await s.vote(id, 'approve', keys.carol!);
      return [first.body.status, second.body.status];
    });
    assert.deepEqual(decided, ['pending', 'approved']);
    assert.equal(result.isError, undefined, textOf(result));
  });

  it('grant for the session: the next write of this MCP session runs without a review', async () => {
    const { result, decided } = await callAndDecide(client, 'test__query', { sql: `INSERT INTO ${table} VALUES (4, 'four')` }, (id) =>
      s.vote(id, 'approve', keys.bob!, { grant: { scope: 'session', minutes: 5 } }),
    );
    assert.equal(result.isError, undefined, textOf(result));
    const grantId = (decided as { body: { grant: { id: string } } }).body.grant.id;
    const before = (await s.sluice.runtime.store.listReviews()).length;
    const next = await client.callTool({ name: 'test__query', arguments: { sql: `UPDATE ${table} SET note = 'FOUR' WHERE id = 4` } });
    assert.equal(next.isError, undefined, textOf(next));
    assert.equal((await s.sluice.runtime.store.listReviews()).length, before, 'no new review');
    assert.equal((await s.sluice.runtime.store.getGrant(grantId))?.uses, 1);
    assert.ok((await s.audit()).some((r) => r.detail?.event === 'grant-used' && r.detail.grantId === grantId));
  });

  it('grant for a pattern: another MCP session of the same agent runs the same statement shape without a review', async () => {
    // Two fresh sessions: the session grant of the test before must not be what lets these through.
    const { client: first } = await connectClient(`${s.api}/mcp`, keys.bot!);
    const { client: other } = await connectClient(`${s.api}/mcp`, keys.bot!);
    try {
      const { result } = await callAndDecide(first, 'test__query', { sql: `UPDATE ${table} SET note = 'x' WHERE id = 100` }, (id) =>
        s.vote(id, 'approve', keys.carol!, { grant: { scope: 'pattern', minutes: 5 } }),
      );
      assert.equal(result.isError, undefined, textOf(result));
      const same = await other.callTool({ name: 'test__query', arguments: { sql: `UPDATE ${table} SET note = 'x' WHERE id = 101` } });
      assert.equal(same.isError, undefined, textOf(same));
      assert.equal((await directSql(`SELECT note FROM ${table} WHERE id = 101`)).rows[0]!.note, 'x');
    } finally {
      await first.close();
      await other.close();
    }
  });
});

describe('restart while a request is pending', () => {
  const dir = tempDir('sluice-approvals-restart-');
  const restartTable = uniqueName('approvals_restart');

  before(async () => {
    await directSql(`CREATE TABLE ${restartTable} (id int PRIMARY KEY)`);
  });
  after(async () => {
    await directSql(`DROP TABLE IF EXISTS ${restartTable}`);
    dir.remove();
  });

  it('a return-pending MCP call approved after a restart runs when the client calls again; grants survive; a held caller whose node is gone is cancelled', async () => {
    const options = { dir: dir.path, mcpReview: 'return-pending' as const, approvals: { rules: { writes: { approvers: ['dba'] } }, lease: '1s' } };
    const first = await startApprovalSluice(options);
    const bot = await first.key('bot');
    const bob = await first.key('bob');
    const sql = `INSERT INTO ${restartTable} VALUES (1)`;
    let reviewId: string;
    let grantId: string;
    {
      const { client } = await connectClient(`${first.api}/mcp`, bot);
      const pending = await client.callTool({ name: 'test__query', arguments: { sql } });
      assert.match(textOf(pending), /Pending: Sluice holds this call for review (rv_[\w-]+)/);
      reviewId = /review (rv_[\w-]+)/.exec(textOf(pending))![1]!;
      // A grant made before the restart, for a shape used after it.
      const shaped = `UPDATE ${restartTable} SET id = id WHERE id = 1`;
      await client.callTool({ name: 'test__query', arguments: { sql: shaped } });
      const shapedReview = await first.pending(shaped);
      const granted = await first.vote(shapedReview.id, 'approve', bob, { grant: { scope: 'pattern', minutes: 10 } });
      grantId = granted.body.grant.id as string;
      await client.close();
    }
    // A caller held by a node that then dies without cleaning up: simulated by a review whose
    // holder stopped renewing its heartbeat.
    const store = first.sluice.runtime.store;
    await store.insertReview({
      id: 'rv_orphan',
      actionId: 'act_orphan',
      status: 'pending',
      createdAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 600_000).toISOString(),
      commandHash: 'f'.repeat(64),
      action: { command: 'DELETE FROM nowhere WHERE id = 1', principal: { name: 'bot' }, connection: { name: 'test' } },
      rule: 'writes',
      reason: 'test',
      holder: 'node_gone',
      heartbeatAt: new Date(Date.now() - 60_000).toISOString(),
    });
    await first.stop();

    const second = await startApprovalSluice(options);
    try {
      assert.equal((await second.sluice.runtime.store.getReview(reviewId))?.status, 'pending', 'the pending request survived the restart');
      const ok = await second.vote(reviewId, 'approve', await second.key('bob'));
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      const { client } = await connectClient(`${second.api}/mcp`, bot);
      try {
        const again = await client.callTool({ name: 'test__query', arguments: { sql } });
        assert.equal(again.isError, undefined, textOf(again));
        assert.equal((await directSql(`SELECT count(*)::int AS n FROM ${restartTable}`)).rows[0]!.n, 1);
        assert.equal((await second.sluice.runtime.store.getReview(reviewId))?.status, 'executed');
        const twice = await client.callTool({ name: 'test__query', arguments: { sql } });
        assert.equal(twice.isError, true, 'an approval runs once; the same call again is a new request');
        const shapedLater = await client.callTool({ name: 'test__query', arguments: { sql: `UPDATE ${restartTable} SET id = id WHERE id = 2` } });
        assert.equal(shapedLater.isError, undefined, textOf(shapedLater));
        assert.equal((await second.sluice.runtime.store.getGrant(grantId))?.uses, 1, 'the grant made before the restart was used after it');
      } finally {
        await client.close();
      }
      const orphan = await (async () => {
        for (let i = 0; i < 200; i++) {
          const r = await second.sluice.runtime.store.getReview('rv_orphan');
          if (r?.status !== 'pending') return r;
          await new Promise((resolve) => setTimeout(resolve, 25));
        }
        return undefined;
      })();
      assert.equal(orphan?.status, 'cancelled', 'the new node cancels the review of a caller whose node is gone');
      assert.ok((await second.audit()).some((r) => r.kind === 'review' && r.detail?.reviewId === 'rv_orphan' && r.detail.status === 'cancelled'));
    } finally {
      await second.stop();
    }
  });
});
