// Starting a real Sluice for the MCP door tests and connecting the official SDK client.
import { mkdirSync } from 'node:fs';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { Server } from '@modelcontextprotocol/server';
import { startSluice, type RunningSluice } from '../../../src/app/server.js';
import { loadConfigText } from '../../../src/config/load.js';
import { McpConnector } from '../../../src/connectors/mcp.js';
import { createKey } from '../../../src/identity/keys.js';
import { tempDir } from '../../helpers.js';

/** The real @modelcontextprotocol/server-everything, run over stdio as `node ENTRY stdio`. */
export const EVERYTHING_ENTRY = join(dirname(createRequire(import.meta.url).resolve('@modelcontextprotocol/server-everything/package.json')), 'dist', 'index.js');

/** A raw protocol server (fixtures/raw-upstream.mjs) for what server-everything does not do. */
export const RAW_UPSTREAM_ENTRY = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'raw-upstream.mjs');

/** The first lines of a test config: the embedded store in the test's folder, the API on a free port. */
export const TEST_CONFIG_HEAD = 'store: { url: sqlite:store/sluice.db }\nlisteners: { api: { address: 127.0.0.1:0 } }';

/**
 * A connection entry (YAML, to go under `connections:`) that runs `node script ...args` as an MCP
 * server over stdio; `more` are further settings of the connection, one a line.
 */
export function nodeStdioConnection(name: string, script: string, args: readonly string[], more: readonly string[] = []): string {
  return [
    `  ${name}:`,
    '    kind: mcp',
    '    transport: stdio',
    `    command: ${JSON.stringify(process.execPath)}`,
    `    args: [${[script, ...args].map((a) => JSON.stringify(a)).join(', ')}]`,
    ...more.map((line) => `    ${line}`),
  ].join('\n');
}

/** A connection entry (YAML, under `connections:`) for an MCP server at `url` over streamable HTTP; `more` as above. */
export function httpConnection(name: string, url: string, more: readonly string[] = []): string {
  return [`  ${name}:`, '    kind: mcp', '    transport: http', `    url: ${url}`, ...more.map((line) => `    ${line}`)].join('\n');
}

/** Starts an HTTP server on a free loopback port and returns the port. */
export async function listenOnLoopback(server: HttpServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/**
 * Answers one HTTP request as a stateless streamable-HTTP MCP server (the official SDK) with a
 * single read-only tool, `whoami`, whose text `answer` makes from the request.
 */
export function serveWhoami(req: IncomingMessage, res: ServerResponse, server: { name: string; description: string }, answer: (req: IncomingMessage) => string): void {
  const mcp = new Server({ name: server.name, version: '1.0.0' }, { capabilities: { tools: {} } });
  mcp.setRequestHandler('tools/list', () => ({
    tools: [{ name: 'whoami', description: server.description, inputSchema: { type: 'object', properties: {} }, annotations: { readOnlyHint: true } }],
  }));
  mcp.setRequestHandler('tools/call', () => ({ content: [{ type: 'text', text: answer(req) }] }));
  const transport = new NodeStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => void mcp.close());
  void mcp.connect(transport).then(() => transport.handleRequest(req, res));
}

export interface McpTestSluice {
  sluice: RunningSluice;
  url: string;
  dir: string;
  key(principal: string, kind?: 'agent' | 'human'): Promise<string>;
  stop(): Promise<void>;
}

export async function startMcpSluice(config: string): Promise<McpTestSluice> {
  const dir = tempDir('sluice-mcp-');
  mkdirSync(join(dir.path, 'files'));
  const sluice = await startSluice(loadConfigText(config, join(dir.path, 'sluice.yaml'), dir.path));
  return {
    sluice,
    url: `${sluice.api.url}/mcp`,
    dir: dir.path,
    key: async (principal, kind = 'agent') => (await createKey(sluice.runtime.store, { principal, kind, groups: [] })).key,
    async stop() {
      await sluice.stop();
      dir.remove();
    },
  };
}

/** Waits until the named MCP connections have their upstream servers running. */
export async function upstreamsReady(t: McpTestSluice, names: readonly string[]): Promise<void> {
  for (const name of names) {
    const connector = t.sluice.runtime.connector(name);
    if (!(connector instanceof McpConnector)) throw new Error(`connection ${name} is not an MCP connection`);
    await connector.ready();
  }
}

export async function connectClient(url: string, key: string, name = 'mcp-test-client', version = '9.8.7'): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name, version });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${key}` } } });
  await client.connect(transport);
  return { client, transport };
}

/** A raw JSON-RPC POST, for what the SDK client would refuse to send. */
export async function rawPost(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; headers: Headers; text: string; json: any }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body,
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, json: parseMaybeSse(text) };
}

/** A JSON body, or the first `data:` line of an SSE stream. */
function parseMaybeSse(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    const data = text.split('\n').find((line) => line.startsWith('data: '));
    return data ? JSON.parse(data.slice(6)) : undefined;
  }
}

export function textOf(result: { content?: unknown }): string {
  return ((result.content ?? []) as { type: string; text?: string }[]).map((c) => c.text ?? '').join('\n');
}
