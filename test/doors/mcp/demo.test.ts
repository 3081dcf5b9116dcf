// `sluice demo` offers its connections as MCP tools: the printed mcp_url and agent key work
// with the official SDK client as they are.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../../helpers.js';
import { connectClient, textOf } from './helpers.js';

const BIN = fileURLToPath(new URL('../../../bin/sluice.mjs', import.meta.url));

describe('sluice demo over MCP', () => {
  it('prints mcp_url and the agent key, and serves the demo connections as tools', async () => {
    const dir = tempDir('sluice-demo-mcp-');
    const child = spawn(process.execPath, [BIN, 'demo', '--json', '--port', '0', '--pg-port', '0', '--dir', join(dir.path, 'state')], {
      cwd: dir.path,
      env: { ...process.env, SLUICE_LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      const facts = await new Promise<Record<string, any>>((resolvePromise, reject) => {
        const timer = setTimeout(() => reject(new Error(`demo did not start: ${stderr}`)), 60_000);
        child.stdout.on('data', (chunk: Buffer) => {
          stdout += chunk.toString();
          if (stdout.includes('\n')) {
            clearTimeout(timer);
            resolvePromise(JSON.parse(stdout.split('\n')[0]!) as Record<string, any>);
          }
        });
        child.once('exit', (code) => reject(new Error(`demo exited early (${code}): ${stderr}`)));
      });
      assert.equal(facts.mcp_url, `${facts.api_url}/mcp`);
      const { client } = await connectClient(facts.mcp_url, facts.agent.key);
      try {
        const { tools } = await client.listTools();
        assert.deepEqual(tools.map((tool) => tool.name).sort(), ['demo-db__query', 'demo-shell__exec']);
        const read = await client.callTool({ name: 'demo-db__query', arguments: { sql: 'SELECT name, email FROM customers ORDER BY id LIMIT 2' } });
        assert.equal(read.isError, undefined, textOf(read));
        const rows = (read.structuredContent as any).rows as string[][];
        assert.equal(rows.length, 2);
        assert.ok(rows.every((row) => !row[1]!.includes('@')), 'emails are masked');
        const denied = await client.callTool({ name: 'demo-db__query', arguments: { sql: 'DELETE FROM orders' } });
        assert.equal(denied.isError, true);
        assert.match(textOf(denied), /guarded@demo-db\//);
      } finally {
        await client.close();
      }
    } finally {
      child.kill('SIGINT');
      await new Promise((resolvePromise) => child.once('exit', resolvePromise));
      dir.remove();
    }
  });
});
