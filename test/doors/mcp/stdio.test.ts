// `sluice mcp`, the stdio bridge, spawned as an MCP client launches it: the official SDK
// client over stdio, relayed to a running Sluice over streamable HTTP.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { directSql, uniqueName } from '../../helpers.js';
import { startMcpSluice, textOf, type McpTestSluice } from './helpers.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../../bin/sluice.mjs', import.meta.url));
const table = uniqueName('mcp_stdio');

describe('sluice mcp (stdio bridge)', () => {
  let t: McpTestSluice;
  let key: string;

  before(async () => {
    await directSql(`CREATE TABLE ${table} (id int, secret text)`);
    await directSql(`INSERT INTO ${table} VALUES (1, 'top')`);
    t = await startMcpSluice(`
store: { url: sqlite:store/sluice.db }
listeners: { api: { address: 127.0.0.1:0 } }
connections:
  db: { kind: postgres, database: test, user: root, max_connections: 2, policy: read-only }
`);
    key = await t.key('desktop-bot');
  });

  after(async () => {
    await t?.stop();
    await directSql(`DROP TABLE IF EXISTS ${table}`);
  });

  it('relays tools/list and tools/call, and Sluice still decides and records', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, 'mcp', '--url', t.url, '--key-env', 'MY_SLUICE_KEY'],
      env: { PATH: process.env.PATH ?? '', MY_SLUICE_KEY: key },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'desktop-via-stdio', version: '0.1' });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((tool) => tool.name), ['db__query']);
      const read = await client.callTool({ name: 'db__query', arguments: { sql: `SELECT id, secret FROM ${table}` } });
      assert.deepEqual((read.structuredContent as any).rows, [[1, 'top']]);
      const write = await client.callTool({ name: 'db__query', arguments: { sql: `DELETE FROM ${table}` } });
      assert.equal(write.isError, true);
      assert.match(textOf(write), /read-only@db\/deny-write/);
    } finally {
      await client.close();
    }
    await t.sluice.runtime.ledger.flush();
    const rows = await t.sluice.runtime.store.readAudit({ limit: 20, descending: true });
    const decision = rows.map((row) => JSON.parse(row.body)).find((b) => b.kind === 'decision' && b.command === `DELETE FROM ${table}`);
    assert.equal(decision.door, 'mcp');
    assert.equal(decision.detail.client.name, 'desktop-via-stdio');
    assert.equal((await directSql(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]?.n, 1);
  });

  it('exits non-zero with a clear message when the key is refused', async () => {
    const failure = await run(process.execPath, [BIN, 'mcp', '--url', t.url], { env: { PATH: process.env.PATH ?? '', SLUICE_KEY: `slk_AAAAAAAAAAAA_${'A'.repeat(43)}` } }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    assert.ok(failure, 'the bridge must fail');
    assert.equal(failure.code, 1);
    assert.match(failure.stderr, /Sluice refused the key in SLUICE_KEY: .*unknown API key/);
  });

  it('exits non-zero with a clear message when Sluice is unreachable or no key is set', async () => {
    const port = await freePort();
    const unreachable = await run(process.execPath, [BIN, 'mcp', '--url', `http://127.0.0.1:${port}/mcp`], { env: { PATH: process.env.PATH ?? '', SLUICE_KEY: key } }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(unreachable?.code, 1);
    assert.match(unreachable!.stderr, new RegExp(`cannot reach Sluice at http://127\\.0\\.0\\.1:${port}/mcp: ECONNREFUSED`));
    const noKey = await run(process.execPath, [BIN, 'mcp', '--url', t.url], { env: { PATH: process.env.PATH ?? '' } }).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(noKey?.code, 2);
    assert.match(noKey!.stderr, /set SLUICE_KEY to a Sluice API key/);
  });
});

/** A port nothing listens on (taken, then released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolvePromise) => server.listen(0, '127.0.0.1', resolvePromise));
  const { port } = server.address() as { port: number };
  await new Promise((resolvePromise) => server.close(resolvePromise));
  return port;
}
