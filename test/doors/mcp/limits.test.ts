// Limits that keep one client from hurting others: a principal's share of MCP sessions, and
// the size of what a client may say about itself (it is copied into audit records).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MAX_SESSIONS_PER_PRINCIPAL } from '../../../src/doors/mcp/endpoint.js';
import { connectClient, startMcpSluice, textOf, type McpTestSluice } from './helpers.js';

describe('MCP door: per-principal limits', () => {
  let t: McpTestSluice;
  before(async () => {
    t = await startMcpSluice(`
store: { url: sqlite:store/sluice.db }
listeners: { api: { address: 127.0.0.1:0, mcp: { max_sessions: ${MAX_SESSIONS_PER_PRINCIPAL + 4} } } }
connections:
  sh: { kind: shell, cwd: files, run_as: { uid: 65534, gid: 65534 } }
policy:
  rules:
    - { name: allow-echo, connections: [sh], when: 'intent.class == "read"', effect: allow }
`);
  });
  after(async () => {
    await t?.stop();
  });

  it('one principal opening many sessions recycles its own oldest idle ones; another principal still gets in', async () => {
    const key = await t.key('greedy');
    const clients = [];
    for (let i = 0; i < MAX_SESSIONS_PER_PRINCIPAL + 8; i++) clients.push((await connectClient(t.url, key)).client);
    // max_sessions is 20 here: without a per-principal share the 21st initialize would fail.
    await assert.rejects(clients[0]!.callTool({ name: 'sh__exec', arguments: { command: 'echo gone' } }), 'the oldest idle session made room');
    const { client: other } = await connectClient(t.url, await t.key('victim'));
    const listed = await other.listTools();
    assert.ok(listed.tools.some((tool) => tool.name === 'sh__exec'));
    // The newest of the greedy sessions still works.
    const last = clients[clients.length - 1]!;
    assert.match(textOf(await last.callTool({ name: 'sh__exec', arguments: { command: 'echo still-here' } })), /still-here/);
    for (const c of [...clients, other]) await c.close().catch(() => undefined);
  });

  it('keeps at most 128 printable characters of the client name in audit records', async () => {
    const { client } = await connectClient(t.url, await t.key('chatty'), `x${'y'.repeat(100_000)}\u0007`, '1.0');
    await client.callTool({ name: 'sh__exec', arguments: { command: 'echo hi' } });
    await client.close();
    await t.sluice.runtime.ledger.flush();
    const rows = await t.sluice.runtime.store.readAudit({ limit: 50, principal: 'chatty' });
    const decision = rows.map((r) => JSON.parse(r.body)).find((r) => r.kind === 'decision');
    assert.ok(decision, 'a decision record');
    const name = decision.detail.client.name as string;
    assert.equal(name.length, 128);
    assert.ok(!name.includes(String.fromCharCode(7)), "control characters are dropped");
    assert.ok(rows.every((r) => r.body.length < 4000));
  });
});
