// `sluice mcp`: a stdio bridge for MCP clients that only launch local commands (Claude
// Desktop, Cursor). It relays JSON-RPC messages unchanged between stdin/stdout and a running
// Sluice's `/mcp` endpoint, adding the bearer key from an environment variable; it interprets
// no tools, so every call still passes the gate in Sluice.
import type { Command } from 'commander';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import type { JSONRPCMessage } from '@modelcontextprotocol/server';
import { CliError } from './context.js';
import { createHttpFetch } from '../util/http-fetch.js';

export const DEFAULT_MCP_URL = 'http://127.0.0.1:8080/mcp';

interface McpOptions {
  url: string;
  keyEnv: string;
}

export function registerMcp(program: Command): void {
  program
    .command('mcp')
    .description('relay MCP over stdio to a running Sluice (for clients that launch a command)')
    .option('--url <url>', "the Sluice MCP endpoint", DEFAULT_MCP_URL)
    .option('--key-env <name>', 'environment variable holding the Sluice key', 'SLUICE_KEY')
    .action(async (options: McpOptions) => {
      await bridge(options);
    });
}

async function bridge(options: McpOptions): Promise<void> {
  const key = process.env[options.keyEnv];
  if (!key) throw new CliError(`set ${options.keyEnv} to a Sluice API key (create one with \`sluice keys create --agent NAME\`)`, 2);
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new CliError(`--url ${options.url} is not a URL`, 2);
  }
  await preflight(url, key, options.keyEnv);

  const upstream = new StreamableHTTPClientTransport(url, { requestInit: { headers: { authorization: `Bearer ${key}` } }, fetch: createHttpFetch() });
  const local = new StdioServerTransport();
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    process.exitCode = code;
    // Ending the session lets Sluice free it at once instead of waiting for the idle timeout.
    await upstream.terminateSession().catch(() => undefined);
    await Promise.allSettled([upstream.close(), local.close()]);
  };

  upstream.onmessage = (message) => {
    // The protocol version header must follow the version the client and Sluice agreed on.
    const version = negotiatedVersion(message);
    if (version) upstream.setProtocolVersion(version);
    local.send(message).catch((error: unknown) => warn(`could not write to stdout: ${(error as Error).message}`));
  };
  upstream.onerror = (error) => warn(error.message);
  local.onmessage = (message) => {
    upstream.send(message).catch(async (error: unknown) => {
      const text = describe(error);
      warn(text.message);
      // Answer the request, so the client shows the reason instead of timing out.
      if ('id' in message && 'method' in message && message.id !== undefined) {
        await local
          .send({ jsonrpc: '2.0', id: message.id, error: { code: -32000, message: `Sluice: ${text.message}` } })
          .catch(() => undefined);
      }
      if (text.fatal) await stop(1);
    });
  };
  local.onclose = () => void stop(process.exitCode === undefined ? 0 : Number(process.exitCode));
  await upstream.start();
  await local.start();
}

/** Fails fast, with a clear message, when Sluice is unreachable or refuses the key. */
async function preflight(url: URL, key: string, keyEnv: string): Promise<void> {
  let response: Response;
  try {
    // GET without a session: Sluice checks the key first (401), then answers 400.
    response = await fetch(url, { method: 'GET', headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream' }, signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new CliError(`cannot reach Sluice at ${url.href}: ${cause?.code ?? cause?.message ?? (error as Error).message}; is \`sluice up\` running?`, 1);
  }
  const text = await response.text().catch(() => '');
  if (response.status === 401) {
    throw new CliError(`Sluice refused the key in ${keyEnv}: ${errorMessage(text) ?? response.statusText}`, 1);
  }
  if (response.status === 404 && !/jsonrpc/.test(text)) throw new CliError(`${url.href} is not a Sluice MCP endpoint (HTTP 404)`, 1);
  if (response.status >= 500) throw new CliError(`Sluice at ${url.href} answered HTTP ${response.status}: ${errorMessage(text) ?? response.statusText}`, 1);
}

function negotiatedVersion(message: JSONRPCMessage): string | undefined {
  if (!('result' in message) || typeof message.result !== 'object' || message.result === null) return undefined;
  const result = message.result as { protocolVersion?: unknown; serverInfo?: unknown };
  return typeof result.protocolVersion === 'string' && result.serverInfo ? result.protocolVersion : undefined;
}

function describe(error: unknown): { message: string; fatal: boolean } {
  const status = (error as { data?: { status?: number } }).data?.status;
  const name = (error as Error).name;
  if (name === 'UnauthorizedError' || status === 401) return { message: 'Sluice refused the key (HTTP 401); check the key and ask an operator for a new one', fatal: true };
  const cause = (error as { cause?: { code?: string } }).cause;
  if (cause?.code === 'ECONNREFUSED' || cause?.code === 'ENOTFOUND') return { message: `Sluice is not reachable (${cause.code})`, fatal: true };
  return { message: (error as Error).message, fatal: false };
}

function errorMessage(text: string): string | undefined {
  try {
    const body = JSON.parse(text) as { error?: { message?: string } };
    return body.error?.message;
  } catch {
    return undefined;
  }
}

function warn(message: string): void {
  process.stderr.write(`sluice mcp: ${message}\n`);
}
