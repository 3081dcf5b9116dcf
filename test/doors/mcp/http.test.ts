// The MCP door over streamable HTTP with the official SDK client, against the real
// PostgreSQL and a shell connection: tools filtered by policy, allowed, masked, denied and
// reviewed calls, policy on arguments, protocol errors, limits, authentication, sessions.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { AuditLedger } from '../../../src/audit/ledger.js';
import { decideReview } from '../../../src/approvals/reviews.js';
import { directSql, uniqueName } from '../../helpers.js';
import { connectClient, rawPost, startMcpSluice, textOf, type McpTestSluice } from './helpers.js';

const table = uniqueName('mcp_people');

const CONFIG = `
store: { url: sqlite:store/sluice.db }
listeners: { api: { address: 127.0.0.1:0, mcp: { max_arguments: 64KiB } } }
connections:
  db: { kind: postgres, database: test, user: root, max_connections: 4, mask: pii }
  sh: { kind: shell, cwd: files, timeout: 5s }
  locked: { kind: shell, cwd: files }
  apionly: { kind: shell, cwd: files }
policy:
  rules:
    - { name: no-sql-comments, connections: [db], doors: [mcp], when: 'args.sql.contains("--")', effect: deny, reason: SQL comments are not accepted from agents }
    - { name: db-reads, connections: [db], when: 'intent.class == "read"', effect: allow }
    - { name: db-writes-reviewed, connections: [db], when: 'intent.class == "write"', effect: review }
    - { name: sh-reads, connections: [sh], when: 'intent.class == "read"', effect: allow }
    - { name: locked-shut, connections: [locked], effect: deny }
    - { name: locked-no-reads, connections: [locked], when: 'intent.class == "read"', effect: deny }
    - { name: api-door-only, connections: [apionly], doors: [api], effect: allow }
masking:
  profiles:
    pii: { columns: [email], replacement: redact }
approvals: { timeout: 3s }
`;

describe('MCP door over streamable HTTP', () => {
  let t: McpTestSluice;
  let key: string;
  let client: Client;
  let transport: StreamableHTTPClientTransport;

  before(async () => {
    await directSql(`CREATE TABLE ${table} (id int PRIMARY KEY, name text, email text)`);
    await directSql(`INSERT INTO ${table} VALUES (1, 'Ada', 'ada@example.com'), (2, 'Grace', 'grace@example.com')`);
    t = await startMcpSluice(CONFIG);
    writeFileSync(join(t.dir, 'files', 'hello.txt'), 'hello from the shell connection\n');
    key = await t.key('claude-bot');
    ({ client, transport } = await connectClient(t.url, key));
  });

  after(async () => {
    await client?.close();
    await t?.stop();
    await directSql(`DROP TABLE IF EXISTS ${table}`);
  });

  it('lists only the tools some rule could allow or review for the mcp door', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name).sort();
    assert.deepEqual(names, ['db__query', 'sh__exec']);
    const db = tools.find((tool) => tool.name === 'db__query')!;
    assert.match(db.description!, /allowed: read commands; held for human approval: write commands/);
    assert.deepEqual(db.inputSchema.required, ['sql']);
  });

  it('runs an allowed query and returns rows as structured content and text, masked', async () => {
    const result = await client.callTool({ name: 'db__query', arguments: { sql: `SELECT id, name, email FROM ${table} ORDER BY id` } });
    assert.equal(result.isError, undefined);
    const structured = result.structuredContent as any;
    assert.deepEqual(structured.columns, ['id', 'name', 'email']);
    assert.deepEqual(structured.rows, [
      [1, 'Ada', '[masked]'],
      [2, 'Grace', '[masked]'],
    ]);
    assert.equal(structured.rowCount, 2);
    assert.equal(structured.truncated, false);
    assert.match(textOf(result), /Ada/);
    assert.doesNotMatch(textOf(result), /ada@example\.com/);
    assert.match(textOf(result), /Masked columns: email/);
  });

  it('runs an allowed shell command', async () => {
    const result = await client.callTool({ name: 'sh__exec', arguments: { command: 'cat hello.txt' } });
    assert.equal(result.isError, undefined);
    assert.equal((result.structuredContent as any).exitCode, 0);
    assert.equal((result.structuredContent as any).stdout, 'hello from the shell connection\n');
  });

  it('denies with a tool error that names the rule', async () => {
    const result = await client.callTool({ name: 'db__query', arguments: { sql: `DROP TABLE ${table}` } });
    assert.equal(result.isError, true);
    assert.match(textOf(result), /default-deny/);
    assert.match(textOf(result), /did not run/);
    const exists = await directSql(`SELECT to_regclass('${table}') AS t`);
    assert.equal(exists.rows[0]?.t, table);
  });

  it('applies policy to the arguments (CEL args.sql)', async () => {
    const result = await client.callTool({ name: 'db__query', arguments: { sql: `SELECT 1 -- harmless?` } });
    assert.equal(result.isError, true);
    assert.match(textOf(result), /no-sql-comments/);
    assert.match(textOf(result), /SQL comments are not accepted from agents/);
  });

  it('holds a write for review, reports the review id by progress, and runs it once approved', async () => {
    const messages: string[] = [];
    let approving: Promise<unknown> | undefined;
    const result = await client.callTool(
      { name: 'db__query', arguments: { sql: `INSERT INTO ${table} VALUES (3, 'Linus', 'linus@example.com')` } },
      {
        onprogress: (progress) => {
          messages.push(progress.message ?? '');
          const id = /sluice reviews approve (rv_[\w-]+)/.exec(progress.message ?? '')?.[1];
          // Another "terminal": the same store, its own ledger, as `sluice reviews approve` does.
          if (id && !approving) approving = decideReview(t.sluice.runtime.store, new AuditLedger(t.sluice.runtime.store), id, 'approved', 'human:ops');
        },
      },
    );
    await approving;
    assert.equal(result.isError, undefined, textOf(result));
    assert.equal((result.structuredContent as any).rowCount, 1);
    assert.match(messages[0]!, /Held for review rv_[\w-]+ \(rule "db-writes-reviewed"\)/);
    const rows = await directSql(`SELECT name FROM ${table} WHERE id = 3`);
    assert.equal(rows.rows[0]?.name, 'Linus');
  });

  it('ends a review nobody decides with an error naming the review id', async () => {
    const result = await client.callTool({ name: 'db__query', arguments: { sql: `DELETE FROM ${table} WHERE id = 1` } });
    assert.equal(result.isError, true);
    assert.match(textOf(result), /Review rv_[\w-]+ timed out/);
    const rows = await directSql(`SELECT count(*)::int AS n FROM ${table} WHERE id = 1`);
    assert.equal(rows.rows[0]?.n, 1);
  });

  it('answers an unknown or policy-hidden tool with a tool error', async () => {
    for (const name of ['nope__query', 'locked__exec', 'apionly__exec']) {
      const result = await client.callTool({ name, arguments: { command: 'ls' } });
      assert.equal(result.isError, true);
      assert.match(textOf(result), new RegExp(`Unknown tool "${name}"`));
    }
    // Probing leaves a trace: a deny decision per refused call, without the arguments.
    await t.sluice.runtime.ledger.flush();
    const refusals = (await t.sluice.runtime.store.readAudit({ limit: 1000, effect: 'deny' }))
      .map((r) => JSON.parse(r.body))
      .filter((r) => r.rule === 'mcp-unknown-tool');
    assert.deepEqual(refusals.map((r) => r.command).sort(), ['apionly__exec', 'locked__exec', 'nope__query']);
    assert.ok(refusals.every((r) => r.door === 'mcp' && !JSON.stringify(r).includes('"ls"')));
  });

  it('refuses arguments over listeners.api.mcp.max_arguments, and bodies over the limit with 413', async () => {
    const big = `SELECT '${'x'.repeat(70 * 1024)}'`;
    const result = await client.callTool({ name: 'db__query', arguments: { sql: big } });
    assert.equal(result.isError, true);
    assert.match(textOf(result), /max_arguments/);
    const huge = JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'tools/call', params: { name: 'db__query', arguments: { sql: 'x'.repeat(1024 * 1024 + 10) } } });
    const response = await rawPost(t.url, huge, { authorization: `Bearer ${key}`, 'mcp-session-id': transport.sessionId! });
    assert.equal(response.status, 413);
    assert.equal(response.json.jsonrpc, '2.0');
  });

  it('refuses wrong arguments sent around the client-side schema check', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'db__query', arguments: { sql: 'SELECT 1', extra: true } } });
    const response = await rawPost(t.url, body, { authorization: `Bearer ${key}`, 'mcp-session-id': transport.sessionId! });
    assert.equal(response.status, 200);
    assert.equal(response.json.result.isError, true);
    assert.match(response.json.result.content[0].text, /unknown argument\(s\): extra/);
  });

  it('answers malformed JSON-RPC and unknown methods with JSON-RPC errors, and the session survives', async () => {
    const headers = { authorization: `Bearer ${key}`, 'mcp-session-id': transport.sessionId! };
    const notJson = await rawPost(t.url, '{"jsonrpc": "2.0", "id": 1, "method": ', headers);
    assert.equal(notJson.status, 400);
    assert.equal(notJson.json.error.code, -32700);
    const notRpc = await rawPost(t.url, '{"hello": "world"}', headers);
    assert.ok(notRpc.status >= 400 && notRpc.status < 500, `status ${notRpc.status}`);
    assert.ok(notRpc.json.error, notRpc.text);
    const unknown = await rawPost(t.url, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'sluice/does-not-exist', params: {} }), headers);
    assert.equal(unknown.json.error.code, -32601);
    const { tools } = await client.listTools();
    assert.equal(tools.length, 2);
  });

  it('answers a missing or wrong key with 401, a challenge and a JSON-RPC body', async () => {
    const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } });
    for (const headers of [{} as Record<string, string>, { authorization: `Bearer slk_AAAAAAAAAAAA_${'A'.repeat(43)}` }, { authorization: 'Basic abc' }]) {
      const response = await rawPost(t.url, init, headers);
      assert.equal(response.status, 401);
      assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer /);
      assert.equal(response.json.jsonrpc, '2.0');
      assert.ok(response.json.error.message.startsWith('Unauthorized'));
    }
    await assert.rejects(connectClient(t.url, 'slk_wrong'));
  });

  it('refuses another key on an existing session', async () => {
    const otherKey = await t.key('intruder');
    const body = JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list', params: {} });
    const hijack = await rawPost(t.url, body, { authorization: `Bearer ${otherKey}`, 'mcp-session-id': transport.sessionId! });
    assert.equal(hijack.status, 403);
    assert.match(hijack.json.error.message, /belongs to another key/);
    // The same key, even for the same principal name, is what the session is bound to.
    const sameName = await t.key('claude-bot');
    const again = await rawPost(t.url, body, { authorization: `Bearer ${sameName}`, 'mcp-session-id': transport.sessionId! });
    assert.equal(again.status, 403);
    const owner = await rawPost(t.url, body, { authorization: `Bearer ${key}`, 'mcp-session-id': transport.sessionId! });
    assert.equal(owner.status, 200);
    assert.equal(owner.json.result.tools.length, 2);
  });

  it('records door mcp, the tool arguments and the client in the audit log', async () => {
    await client.callTool({ name: 'db__query', arguments: { sql: 'SELECT 42 AS answer' } });
    await t.sluice.runtime.ledger.flush();
    const rows = await t.sluice.runtime.store.readAudit({ limit: 50, descending: true });
    const bodies = rows.map((row) => JSON.parse(row.body));
    const decision = bodies.find((b) => b.kind === 'decision' && b.command === 'SELECT 42 AS answer');
    assert.ok(decision, 'decision record');
    assert.equal(decision.door, 'mcp');
    assert.equal(decision.session, transport.sessionId);
    // Argument values are kept as keyed digests (the SQL itself is the recorded command).
    assert.deepEqual(decision.detail.args, { sql: t.sluice.runtime.valueDigester!.digest('SELECT 42 AS answer') });
    assert.equal(decision.detail.tool, 'db__query');
    assert.deepEqual(decision.detail.client, { name: 'mcp-test-client', version: '9.8.7' });
    const outcome = bodies.find((b) => b.kind === 'outcome' && b.actionId === decision.actionId);
    assert.equal(outcome.outcome, 'succeeded');
    assert.equal(outcome.door, 'mcp');
    assert.equal(outcome.detail.client.name, 'mcp-test-client');
    const approved = bodies.find((b) => b.kind === 'outcome' && b.approver === 'human:ops');
    assert.ok(approved, 'the approved write has an outcome naming the approver');
  });
});

describe('MCP door with review: return-pending', () => {
  let t: McpTestSluice;
  let client: Client;
  const pendingTable = uniqueName('mcp_pending');

  before(async () => {
    await directSql(`CREATE TABLE ${pendingTable} (id int PRIMARY KEY)`);
    t = await startMcpSluice(`
store: { url: sqlite:store/sluice.db }
listeners: { api: { address: 127.0.0.1:0, mcp: { review: return-pending } } }
connections:
  db: { kind: postgres, database: test, user: root, max_connections: 2 }
policy:
  rules:
    - { name: writes-reviewed, connections: [db], when: 'intent.class == "write"', effect: review }
approvals: { timeout: 1m }
`);
    ({ client } = await connectClient(t.url, await t.key('short-timeout-bot')));
  });

  after(async () => {
    await client?.close();
    await t?.stop();
    await directSql(`DROP TABLE IF EXISTS ${pendingTable}`);
  });

  it('answers at once with the review id, runs the same call once approved, and uses the approval once', async () => {
    const args = { sql: `INSERT INTO ${pendingTable} VALUES (1)` };
    const first = await client.callTool({ name: 'db__query', arguments: args });
    assert.equal(first.isError, true);
    const id = /review (rv_[\w-]+)/.exec(textOf(first))?.[1];
    assert.ok(id, textOf(first));
    assert.match(textOf(first), /Pending: .* call this tool again with the same arguments/);

    const stillPending = await client.callTool({ name: 'db__query', arguments: args });
    assert.match(textOf(stillPending), new RegExp(`Pending: Sluice holds this call for review ${id}`));
    assert.equal((await directSql(`SELECT count(*)::int AS n FROM ${pendingTable}`)).rows[0]?.n, 0);

    await decideReview(t.sluice.runtime.store, new AuditLedger(t.sluice.runtime.store), id, 'approved', 'human:ops');
    const ran = await client.callTool({ name: 'db__query', arguments: args });
    assert.equal(ran.isError, undefined, textOf(ran));
    assert.equal((ran.structuredContent as any).rowCount, 1);
    assert.equal((await t.sluice.runtime.store.getReview(id))?.status, 'executed');

    const again = await client.callTool({ name: 'db__query', arguments: { sql: `INSERT INTO ${pendingTable} VALUES (1)` } });
    const second = /review (rv_[\w-]+)/.exec(textOf(again))?.[1];
    assert.ok(second && second !== id, 'a used approval does not run the call twice');
  });
});
