// Plain tools/calls (no progress token) are answered by the door itself as one JSON response;
// calls that ask for progress still get the SDK's SSE stream; a plain call held for review
// turns into an SSE stream with keep-alive comments and can be cancelled by
// notifications/cancelled. Real PostgreSQL, real store.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { directSql, uniqueName } from '../../helpers.js';
import { connectClient, rawPost, startMcpSluice, textOf, type McpTestSluice } from './helpers.js';

const table = uniqueName('mcp_plain');

const CONFIG = `
store: { url: sqlite:store/sluice.db }
listeners: { api: { address: 127.0.0.1:0 } }
connections:
  db: { kind: postgres, database: test, user: root, max_connections: 2 }
policy:
  rules:
    - { name: db-reads, connections: [db], when: 'intent.class == "read"', effect: allow }
    - { name: db-writes-reviewed, connections: [db], when: 'intent.class == "write"', effect: review }
approvals: { timeout: 1m }
`;

describe('MCP door: plain tool calls', () => {
  let t: McpTestSluice;
  let key: string;
  let client: Client;
  let transport: StreamableHTTPClientTransport;
  let headers: Record<string, string>;

  before(async () => {
    await directSql(`CREATE TABLE ${table} (id int)`);
    t = await startMcpSluice(CONFIG);
    key = await t.key('plain-bot');
    ({ client, transport } = await connectClient(t.url, key, 'plain-client', '1.2.3'));
    headers = { authorization: `Bearer ${key}`, 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-11-25' };
  });

  after(async () => {
    await client?.close();
    await t?.stop();
    await directSql(`DROP TABLE IF EXISTS ${table}`);
  });

  it('answers a plain call as application/json, through the gate, with the client in the audit record', async () => {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 'plain-1', method: 'tools/call', params: { name: 'db__query', arguments: { sql: 'SELECT 41 + 1 AS n' } } });
    const response = await rawPost(t.url, body, headers);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(response.headers.get('mcp-session-id'), transport.sessionId);
    assert.equal(response.json.id, 'plain-1');
    assert.deepEqual(response.json.result.structuredContent.rows, [[42]]);

    await t.sluice.runtime.ledger.flush();
    const rows = await t.sluice.runtime.store.readAudit({ limit: 10, descending: true, session: transport.sessionId! });
    const kinds = rows.map((row) => row.kind);
    assert.deepEqual(kinds.slice(0, 2), ['outcome', 'decision']);
    const decision = JSON.parse(rows[1]!.body) as { detail: { client?: { name: string }; tool?: string } };
    assert.equal(decision.detail.client?.name, 'plain-client');
    assert.equal(decision.detail.tool, 'db__query');
  });

  it('leaves calls that ask for progress, and malformed calls, to the SDK', async () => {
    const withProgress = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'db__query', arguments: { sql: 'SELECT 1' }, _meta: { progressToken: 'p' } } });
    const sse = await rawPost(t.url, withProgress, headers);
    assert.equal(sse.status, 200);
    assert.match(sse.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(sse.json.result.structuredContent.rowCount, 1);

    const badName = JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 42 } });
    const refused = await rawPost(t.url, badName, headers);
    assert.ok(refused.json.error, refused.text);

    const badVersion = await rawPost(t.url, JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'db__query', arguments: { sql: 'SELECT 1' } } }), {
      ...headers,
      'mcp-protocol-version': '1999-01-01',
    });
    assert.equal(badVersion.status, 400);
  });

  it('turns a held plain call into an SSE stream, and withdraws the review on notifications/cancelled', async () => {
    const response = await fetch(t.url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 77, method: 'tools/call', params: { name: 'db__query', arguments: { sql: `INSERT INTO ${table} VALUES (1)` } } }),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes(': held for review')) {
      const chunk = await reader.read();
      assert.ok(!chunk.done, 'the stream ended before the call was held');
      text += decoder.decode(chunk.value, { stream: true });
    }
    const [pending] = await t.sluice.runtime.store.listReviews({ status: 'pending' });
    assert.ok(pending);

    const cancel = await rawPost(t.url, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 77, reason: 'test' } }), headers);
    assert.equal(cancel.status, 202);
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
    const data = text.split('\n').find((line) => line.startsWith('data: '));
    assert.ok(data, text);
    const message = JSON.parse(data.slice(6)) as { id: number; result: { isError?: boolean; content: { text: string }[] } };
    assert.equal(message.id, 77);
    assert.equal(message.result.isError, true);
    assert.match(textOf(message.result), /withdrawn because the call was cancelled/);
    assert.equal((await t.sluice.runtime.store.getReview(pending.id))?.status, 'cancelled');
    assert.equal((await directSql(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]?.n, 0);
  });

  it('still serves the SDK client end to end', async () => {
    const result = await client.callTool({ name: 'db__query', arguments: { sql: 'SELECT 2 AS n' } });
    assert.equal(result.isError, undefined, textOf(result));
    assert.deepEqual((result.structuredContent as { rows: unknown[] }).rows, [[2]]);
  });
});
