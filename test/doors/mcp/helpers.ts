// Starting a real Sluice for the MCP door tests and connecting the official SDK client.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startSluice, type RunningSluice } from '../../../src/app/server.js';
import { loadConfigText } from '../../../src/config/load.js';
import { createKey } from '../../../src/identity/keys.js';
import { tempDir } from '../../helpers.js';

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
