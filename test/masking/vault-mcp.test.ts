// Placeholders through the MCP door with the official SDK client: a placeholder the `query`
// tool handed out is swapped back in a later SQL call and in the JSON arguments of an
// upstream MCP tool (server-everything's echo), where the deciding rule allows it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/client';
import { directSql, uniqueName } from '../helpers.js';
import { connectClient, EVERYTHING_ENTRY, nodeStdioConnection, startMcpSluice, TEST_CONFIG_HEAD, textOf, type McpTestSluice } from '../doors/mcp/helpers.js';

describe('placeholders through the MCP door', () => {
  const table = uniqueName('vault_mcp');
  let t: McpTestSluice;
  let client: Client;

  before(async () => {
    await directSql(`CREATE TABLE ${table} (id int PRIMARY KEY, email text)`);
    await directSql(`INSERT INTO ${table} VALUES (1, 'ada@example.com'), (2, 'grace@example.com')`);
    process.env.SLUICE_TEST_MCP_VAULT_KEY = randomBytes(32).toString('base64');
    t = await startMcpSluice(`
${TEST_CONFIG_HEAD}
connections:
  db: { kind: postgres, database: test, user: root, max_connections: 2 }
${nodeStdioConnection('every', EVERYTHING_ENTRY, ['stdio'])}
masking:
  vault: { key: { env: SLUICE_TEST_MCP_VAULT_KEY } }
  profiles:
    pii: { detectors: [pii] }
policy:
  rules:
    - { name: db-agents, connections: [db], effect: allow, mask: pii, detokenise: true }
    - { name: echo-agents, connections: [every], when: 'intent.class == "read"', effect: allow, detokenise: true }
`);
    ({ client } = await connectClient(t.url, await t.key('copilot')));
    // The upstream server starts in the background; its tools appear once it is ready.
    for (let i = 0; i < 500; i++) {
      if ((await client.listTools()).tools.some((tool) => tool.name === 'every__echo')) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });

  after(async () => {
    await client?.close();
    await t?.stop();
    await directSql(`DROP TABLE IF EXISTS ${table}`);
    delete process.env.SLUICE_TEST_MCP_VAULT_KEY;
  });

  it('swaps a placeholder into SQL and into an upstream tool call, within the MCP session', async () => {
    const masked = await client.callTool({ name: 'db__query', arguments: { sql: `SELECT email FROM ${table} WHERE id = 2` } });
    const placeholder = String((masked.structuredContent as { rows: unknown[][] }).rows[0]![0]);
    assert.match(placeholder, /^SLUICE_EMAIL_[b-v]{14}$/);

    const found = await client.callTool({ name: 'db__query', arguments: { sql: `SELECT id FROM ${table} WHERE email = '${placeholder}'` } });
    assert.equal(found.isError, undefined, textOf(found));
    assert.deepEqual((found.structuredContent as { rows: unknown[] }).rows, [[2]]);

    // No masking on the echo rule: what comes back shows what the upstream server received.
    const echoed = await client.callTool({ name: 'every__echo', arguments: { message: `write to ${placeholder} "quoted"` } });
    assert.equal(echoed.isError, undefined, textOf(echoed));
    assert.match(textOf(echoed), /write to grace@example\.com "quoted"/);

    const refused = await client.callTool({ name: 'db__query', arguments: { sql: `SELECT id FROM ${table} WHERE email = ${placeholder}` } });
    assert.equal(refused.isError, true);
    assert.match(textOf(refused), /outside a string literal/);
  });
});
