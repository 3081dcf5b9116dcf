// `/mcp` on the API listener: MCP streamable HTTP (the 2025 revisions: initialize, then a
// session named by the Mcp-Session-Id header). Every HTTP request is authenticated with a
// bearer key; a session is bound to the key that opened it, and a request with another key
// on that session is refused. Bodies are bounded before they are parsed.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { isInitializeRequest, type Server } from '@modelcontextprotocol/server';
import type { Runtime } from '../../app/runtime.js';
import type { Principal } from '../../gate/types.js';
import { log } from '../../util/log.js';
import { newId } from '../../util/ids.js';
import { authenticate, refuseAuthentication } from './auth.js';
import { ToolCalls, type ClientInfo } from './calls.js';
import { authInfoFor, createSessionServer } from './server.js';
import { ToolCatalogue } from './tools.js';
import { INVALID_REQUEST, PARSE_ERROR, SERVER_ERROR, SESSION_NOT_FOUND, sendJsonRpcError } from './wire.js';

/** Room for the JSON-RPC envelope around the largest allowed tool arguments. */
const ENVELOPE_ALLOWANCE = 64 * 1024;
const SWEEP_MS = 60_000;

interface Session {
  id: string;
  transport: NodeStreamableHTTPServerTransport;
  server: Server;
  /** The key that opened the session; only it may use the session. */
  credentialId: string;
  principal: string;
  lastUsed: number;
  inFlight: number;
}

export interface McpEndpointOptions {
  version: string;
  progressIntervalMs?: number;
}

export class McpEndpoint {
  readonly #sessions = new Map<string, Session>();
  readonly #catalogue: ToolCatalogue;
  readonly #calls: ToolCalls;
  readonly #sweeper: NodeJS.Timeout;

  constructor(
    private readonly runtime: Runtime,
    private readonly options: McpEndpointOptions,
  ) {
    // Connections need a restart to change, so the catalogue is built once; the policy that
    // filters it is read at each call.
    this.#catalogue = new ToolCatalogue(runtime.loaded.config.connections);
    this.#calls = new ToolCalls(runtime, this.#catalogue, options.progressIntervalMs !== undefined ? { progressIntervalMs: options.progressIntervalMs } : {});
    this.#sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.#sweeper.unref();
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const config = this.runtime.loaded.config.listeners.api.mcp;
    if (!config.enabled) return sendJsonRpcError(res, 404, SERVER_ERROR, 'the MCP door is turned off (listeners.api.mcp.enabled)');
    const method = req.method ?? 'GET';
    if (!['POST', 'GET', 'DELETE'].includes(method)) {
      return sendJsonRpcError(res, 405, SERVER_ERROR, `${method} is not allowed on /mcp`, undefined, { allow: 'GET, POST, DELETE' });
    }

    const auth = await authenticate(this.runtime, req.headers.authorization);
    if (!auth.ok) {
      req.resume();
      return refuseAuthentication(res, auth);
    }
    const { principal } = auth;

    let body: unknown;
    if (method === 'POST') {
      const type = req.headers['content-type'] ?? '';
      if (!/^application\/json\s*(;|$)/i.test(type)) {
        req.resume();
        return sendJsonRpcError(res, 415, INVALID_REQUEST, 'Unsupported Media Type: send the body as JSON with "Content-Type: application/json"');
      }
      const limit = Math.max(this.runtime.loaded.config.listeners.api.max_body, config.max_arguments + ENVELOPE_ALLOWANCE);
      const read = await readBody(req, limit);
      if (!read.ok) {
        res.setHeader('connection', 'close');
        return sendJsonRpcError(res, 413, INVALID_REQUEST, `Request too large: the limit is ${limit} bytes (listeners.api.mcp.max_arguments plus the JSON-RPC envelope)`);
      }
      try {
        body = JSON.parse(read.text) as unknown;
      } catch (error) {
        return sendJsonRpcError(res, 400, PARSE_ERROR, `Parse error: ${(error as Error).message}`);
      }
    }

    const sessionId = req.headers['mcp-session-id'];
    let session: Session | undefined;
    if (typeof sessionId === 'string') {
      session = this.#sessions.get(sessionId);
      if (!session) return sendJsonRpcError(res, 404, SESSION_NOT_FOUND, 'Session not found: it expired or never existed; initialize a new one');
      if (session.credentialId !== principal.credentialId || session.principal !== principal.name) {
        log.warn({ session: session.id, owner: session.principal, caller: principal.name, key: principal.credentialId }, 'MCP session used with another key; refused');
        return sendJsonRpcError(res, 403, SERVER_ERROR, 'Forbidden: this MCP session belongs to another key; initialize your own session');
      }
    } else if (method === 'POST' && isInitializeRequest(body)) {
      if (this.#sessions.size >= config.max_sessions) {
        this.sweep();
        if (this.#sessions.size >= config.max_sessions) {
          return sendJsonRpcError(res, 503, SERVER_ERROR, `Too many MCP sessions are open (listeners.api.mcp.max_sessions = ${config.max_sessions}); try again later`);
        }
      }
      session = this.open(principal);
    } else {
      return sendJsonRpcError(res, 400, SERVER_ERROR, 'Bad Request: send the Mcp-Session-Id header, or an initialize request to open a session');
    }

    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const request = req as IncomingMessage & { auth?: ReturnType<typeof authInfoFor> };
    request.auth = authInfoFor({ principal, signal: abort.signal });
    session.inFlight += 1;
    session.lastUsed = Date.now();
    try {
      await session.transport.handleRequest(request, res, body);
    } finally {
      session.inFlight -= 1;
      session.lastUsed = Date.now();
    }
  }

  private open(principal: Principal): Session {
    let client: ClientInfo | undefined;
    const session = {} as Session;
    const server = createSessionServer(
      { runtime: this.runtime, catalogue: this.#catalogue, calls: this.#calls, version: this.options.version },
      () => client,
    );
    server.oninitialized = () => {
      const info = server.getClientVersion();
      if (info) client = { name: info.name, ...(info.version ? { version: info.version } : {}) };
    };
    const transport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => newId('mcp', 18),
      onsessioninitialized: (id) => {
        session.id = id;
        this.#sessions.set(id, session);
        log.info({ session: id, principal: principal.name }, 'MCP session opened');
      },
      onsessionclosed: (id) => {
        this.#sessions.delete(id);
        log.info({ session: id }, 'MCP session closed by the client');
      },
    });
    Object.assign(session, { transport, server, credentialId: principal.credentialId ?? '', principal: principal.name, lastUsed: Date.now(), inFlight: 0 });
    transport.onerror = (error) => log.debug({ err: error }, 'MCP transport error');
    // connect() only wires callbacks; it resolves at once for this transport.
    void server.connect(transport).catch((error: unknown) => log.error({ err: error }, 'could not start an MCP session'));
    return session;
  }

  private sweep(): void {
    const idle = this.runtime.loaded.config.listeners.api.mcp.session_idle_timeout;
    const now = Date.now();
    for (const session of this.#sessions.values()) {
      if (session.inFlight === 0 && now - session.lastUsed > idle) void this.closeSession(session);
    }
  }

  private async closeSession(session: Session): Promise<void> {
    this.#sessions.delete(session.id);
    await session.server.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    await Promise.allSettled([...this.#sessions.values()].map((session) => this.closeSession(session)));
  }
}

async function readBody(req: IncomingMessage, limit: number): Promise<{ ok: true; text: string } | { ok: false }> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) {
    req.resume();
    return { ok: false };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      return { ok: false };
    }
    chunks.push(chunk);
  }
  return { ok: true, text: Buffer.concat(chunks).toString('utf8') };
}
