// The README's MCP client snippets, taken from README.md as written and pointed at a fresh
// `sluice demo` (only its address and key substituted): the Claude Desktop / Cursor stdio
// entry launched exactly as a client launches it, the Claude Code command's URL and header,
// the Cursor HTTP entry, and the TypeScript SDK snippet run as a program.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { tempDir } from '../../helpers.js';
import { textOf } from './helpers.js';

const ROOT = resolve(fileURLToPath(new URL('../../../', import.meta.url)));
const BIN = join(ROOT, 'bin', 'sluice.mjs');
const README_URL = 'http://127.0.0.1:8080/mcp';
const run = promisify(execFile);

/** The README's MCP section, and its fenced blocks of one language. */
function blocks(language: string): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## MCP\n'), readme.indexOf('\n## ', readme.indexOf('\n## MCP\n') + 5));
  return [...section.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]!);
}

interface ServerEntry {
  command?: string;
  args?: string[];
  env?: Record<string, string>;
  url?: string;
  headers?: Record<string, string>;
}

function entry(kind: 'command' | 'url'): ServerEntry {
  const found = blocks('json')
    .map((text) => JSON.parse(text) as { mcpServers: Record<string, ServerEntry> })
    .map((config) => config.mcpServers.sluice!)
    .find((server) => server[kind] !== undefined);
  assert.ok(found, `README has an mcpServers entry with ${kind}`);
  return found;
}

describe('README MCP snippets against a fresh sluice demo', () => {
  let demo: ChildProcess;
  let dir: { path: string; remove(): void };
  let mcpUrl: string;
  let key: string;

  before(async () => {
    dir = tempDir('sluice-readme-mcp-');
    demo = spawn(process.execPath, [BIN, 'demo', '--json', '--port', '0', '--pg-port', '0', '--dir', join(dir.path, 'state')], {
      cwd: dir.path,
      env: { ...process.env, SLUICE_LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    demo.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const facts = await new Promise<Record<string, any>>((resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error(`demo did not start: ${stderr}`)), 60_000);
      demo.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('\n')) {
          clearTimeout(timer);
          resolvePromise(JSON.parse(stdout.split('\n')[0]!) as Record<string, any>);
        }
      });
      demo.once('exit', (code) => reject(new Error(`demo exited early (${code}): ${stderr}`)));
    });
    mcpUrl = facts.mcp_url as string;
    key = facts.agent.key as string;
  });

  after(async () => {
    if (demo && demo.exitCode === null) {
      demo.kill('SIGINT');
      await new Promise((resolvePromise) => demo.once('exit', resolvePromise));
    }
    dir?.remove();
  });

  it('the Claude Desktop / Cursor stdio entry starts the bridge and reaches the tools', async () => {
    const server = entry('command');
    assert.deepEqual(Object.keys(server.env ?? {}), ['SLUICE_KEY']);
    const args = server.args!.map((arg) => arg.replace('/path/to/sluice', ROOT).replace(README_URL, mcpUrl));
    assert.ok(args.includes(mcpUrl), 'the entry names the default URL, which the test swaps for the demo');
    const transport = new StdioClientTransport({ command: server.command!, args, env: { PATH: process.env.PATH ?? '', SLUICE_KEY: key }, stderr: 'pipe' });
    const client = new Client({ name: 'claude-desktop-as-in-readme', version: '1' });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      assert.ok(tools.some((tool) => tool.name === 'demo-db__query'));
      const result = await client.callTool({ name: 'demo-db__query', arguments: { sql: 'SELECT name FROM customers LIMIT 3' } });
      assert.notEqual(result.isError, true, textOf(result));
    } finally {
      await client.close();
    }
  });

  it("the Claude Code command's URL and header are what Sluice accepts", async () => {
    const line = blocks('sh').join('\n').split('\n').find((text) => text.startsWith('claude mcp add'));
    assert.ok(line, 'README has a claude mcp add line');
    const match = /^claude mcp add --transport http (\S+) (\S+) --header "([^"]+)"$/.exec(line);
    assert.ok(match, line);
    assert.equal(match[2], README_URL);
    const [name, value] = match[3]!.split(/:\s*/, 2) as [string, string];
    assert.equal(name, 'Authorization');
    const headers = { [name]: value.replace('$SLUICE_KEY', key) };
    const client = new Client({ name: 'claude-code-as-in-readme', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers } }));
    try {
      assert.ok((await client.listTools()).tools.length > 0);
    } finally {
      await client.close();
    }
  });

  it("the Cursor HTTP entry's URL and header are what Sluice accepts", async () => {
    const server = entry('url');
    assert.equal(server.url, README_URL);
    const headers = Object.fromEntries(Object.entries(server.headers ?? {}).map(([k, v]) => [k, v.replace('${env:SLUICE_KEY}', key)]));
    const client = new Client({ name: 'cursor-as-in-readme', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers } }));
    try {
      assert.ok((await client.listTools()).tools.some((tool) => tool.name === 'demo-db__query'));
    } finally {
      await client.close();
    }
  });

  it('the TypeScript SDK snippet runs as written', async () => {
    const snippet = blocks('ts').find((text) => text.includes('new Client('));
    assert.ok(snippet, 'README has a TypeScript SDK snippet');
    // Run from a temp folder: the package is named by its file, the address swapped for the demo's.
    const entryFile = createRequire(import.meta.url).resolve('@modelcontextprotocol/client');
    const program = `${snippet
      .replace("'@modelcontextprotocol/client'", JSON.stringify(pathToFileURL(entryFile).href))
      .replace(README_URL, mcpUrl)}\nconsole.log(JSON.stringify(result));\nawait client.close();\n`;
    const file = join(dir.path, 'snippet.mjs');
    writeFileSync(file, program);
    const { stdout } = await run(process.execPath, [file], { env: { PATH: process.env.PATH ?? '', SLUICE_KEY: key }, timeout: 30_000 });
    const result = JSON.parse(stdout) as { isError?: boolean; structuredContent?: { rows: unknown[] } };
    assert.notEqual(result.isError, true, stdout);
    assert.equal(result.structuredContent?.rows.length, 3);
  });
});
