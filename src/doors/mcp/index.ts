// The MCP door: Sluice as an MCP server on the API listener (`/mcp`), offering each
// connection's tools; every call passes the gate. See docs/doors/mcp.md.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Runtime } from '../../app/runtime.js';
import { McpEndpoint } from './endpoint.js';

export { McpEndpoint } from './endpoint.js';
export { TOOL_SEPARATOR, ToolCatalogue, type ToolProvider, type ConnectionTool } from './tools.js';
export { upstreamTools } from './upstream.js';

// One endpoint per runtime: sessions live as long as the runtime that serves them.
const endpoints = new WeakMap<Runtime, McpEndpoint>();

/** Serves one HTTP request to `/mcp` (the API server's only hook into this door). */
export function handleMcp(runtime: Runtime, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let endpoint = endpoints.get(runtime);
  if (!endpoint) {
    endpoint = new McpEndpoint(runtime, { version: packageVersion() });
    endpoints.set(runtime, endpoint);
  }
  return endpoint.handle(req, res);
}

/** Closes the sessions of a runtime's MCP endpoint, if it has one. */
export async function closeMcp(runtime: Runtime): Promise<void> {
  const endpoint = endpoints.get(runtime);
  endpoints.delete(runtime);
  await endpoint?.close();
}

let version: string | undefined;
function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return version;
}
