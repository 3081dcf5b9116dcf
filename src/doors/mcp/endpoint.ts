// `/mcp` on the API listener: MCP streamable HTTP (the 2025 revisions: initialize, then a
// session named by the Mcp-Session-Id header). Every HTTP request is authenticated with a
// bearer key; a session is bound to the key that opened it, and a request with another key
// on that session is refused. Bodies are bounded before they are parsed.
//
// A plain tools/call (no progress token) is answered here as one application/json response,
// which the transport spec allows for any request: the SDK transport would open an SSE stream
// through web-stream adapters for it, which cost more than the gate itself. Everything else
// (initialize, tools/list, calls that want progress, anything malformed) goes to the SDK.
// A plain call that is held for review turns into an SSE stream with keep-alive comments, as
// the SDK's would, so that nothing between client and server drops the idle connection.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { isInitializeRequest, SUPPORTED_PROTOCOL_VERSIONS, type Server } from '@modelcontextprotocol/server';
import type { Runtime } from '../../app/runtime.js';
import type { Principal } from '../../gate/types.js';
import { log } from '../../util/log.js';
import { newId } from '../../util/ids.js';
import { authenticate, refuseAuthentication } from './auth.js';
import { ToolCalls, type ClientInfo } from './calls.js';
import { authInfoFor, createSessionServer } from './server.js';
import { ToolCatalogue } from './tools.js';
import { UpstreamNotices } from './upstream-notices.js';
import { toolError } from './results.js';
import {
  cancelledRequestId,
  INVALID_REQUEST,
  PARSE_ERROR,
  plainToolCall,
  SERVER_ERROR,
  SESSION_NOT_FOUND,
  sendJsonRpcError,
  sendJsonRpcResult,
  type PlainToolCall,
} from './wire.js';

/** Room for the JSON-RPC envelope around the largest allowed tool arguments. */
const ENVELOPE_ALLOWANCE = 64 * 1024;
const SWEEP_MS = 60_000;
/** Comment lines on a held call's SSE stream (the SDK's default interval). */
const KEEPALIVE_MS = 15_000;

interface Session {
  id: string;
  transport: NodeStreamableHTTPServerTransport;
  server: Server;
  /** The key that opened the session; only it may use the session. */
  credentialId: string;
  principal: string;
  /** The principal as the latest request proved it (groups follow reloads); for notifications. */
  who: Principal;
  lastUsed: number;
  inFlight: number;
  /** POST requests (calls) being answered; an open GET notification stream is not one. */
  postsInFlight: number;
  /** Set once the client has initialized. */
  client?: ClientInfo;
  /** Plain tools/calls answered by the door, by JSON-RPC id: notifications/cancelled aborts them. */
  calls: Map<string | number, AbortController>;
}

export interface McpEndpointOptions {
  version: string;
  progressIntervalMs?: number;
}

export class McpEndpoint {
  readonly #sessions = new Map<string, Session>();
  readonly #catalogue: ToolCatalogue;
  readonly #calls: ToolCalls;
  readonly #notices: UpstreamNotices;
  readonly #sweeper: NodeJS.Timeout;

  constructor(
    private readonly runtime: Runtime,
    private readonly options: McpEndpointOptions,
  ) {
    // Connections need a restart to change, so the catalogue is built once; the policy that
    // filters it is read at each call.
    this.#catalogue = new ToolCatalogue(runtime.loaded.config.connections, undefined, { connector: (name) => runtime.connector(name) });
    this.#notices = new UpstreamNotices(runtime, this.#catalogue);
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
      session.who = principal;
    } else if (method === 'POST' && isInitializeRequest(body)) {
      // One principal must not be able to hold every session: beyond its share, its own
      // least recently used idle session makes room.
      const own = [...this.#sessions.values()].filter((x) => x.principal === principal.name);
      if (own.length >= MAX_SESSIONS_PER_PRINCIPAL) {
        const idle = own.filter((x) => x.postsInFlight === 0).sort((a, b) => a.lastUsed - b.lastUsed)[0];
        if (!idle) {
          return sendJsonRpcError(res, 429, SERVER_ERROR, `${principal.name} already has ${own.length} MCP sessions with calls in flight; close one first`);
        }
        await this.closeSession(idle);
      }
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

    if (method === 'POST') {
      const call = plainToolCall(body);
      if (call && this.canAnswer(req)) return this.answer(session, principal, call, res);
      const cancelled = cancelledRequestId(body);
      // The SDK server still sees the notification, for the calls it runs itself.
      if (cancelled !== undefined) session.calls.get(cancelled)?.abort();
    }

    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const request = req as IncomingMessage & { auth?: ReturnType<typeof authInfoFor> };
    request.auth = authInfoFor({ principal, signal: abort.signal });
    const post = method === 'POST' ? 1 : 0;
    session.inFlight += 1;
    session.postsInFlight += post;
    session.lastUsed = Date.now();
    try {
      await session.transport.handleRequest(request, res, body);
    } finally {
      session.inFlight -= 1;
      session.postsInFlight -= post;
      session.lastUsed = Date.now();
    }
  }

  /** What the SDK transport would refuse for a request on a session, we leave to it to refuse. */
  private canAnswer(req: IncomingMessage): boolean {
    const accept = req.headers.accept ?? '';
    if (!accept.includes('application/json') || !accept.includes('text/event-stream')) return false;
    const version = req.headers['mcp-protocol-version'];
    return version === undefined || (typeof version === 'string' && SUPPORTED_PROTOCOL_VERSIONS.includes(version));
  }

  /** A plain tools/call, answered as one JSON response: the same ToolCalls path as the SDK's handler. */
  private async answer(session: Session, principal: Principal, call: PlainToolCall, res: ServerResponse): Promise<void> {
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    // A reused id belongs to the newer call; the older one can no longer be named.
    session.calls.set(call.id, abort);
    session.inFlight += 1;
    session.postsInFlight += 1;
    session.lastUsed = Date.now();
    let keepAlive: NodeJS.Timeout | undefined;
    const held = () => {
      if (res.headersSent || res.destroyed) return;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache, no-transform', 'mcp-session-id': session.id });
      res.write(': held for review\n\n');
      keepAlive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    };
    let result;
    try {
      result = await this.#calls.call(call.name, call.arguments, {
        principal,
        session: session.id,
        signal: abort.signal,
        held,
        ...(session.client ? { client: session.client } : {}),
      });
    } catch (error) {
      log.error({ err: error }, 'MCP tool call failed');
      result = toolError('The call failed inside Sluice; see the Sluice log. Check the target before retrying a write.');
    } finally {
      if (keepAlive) clearInterval(keepAlive);
      if (session.calls.get(call.id) === abort) session.calls.delete(call.id);
      session.inFlight -= 1;
      session.postsInFlight -= 1;
      session.lastUsed = Date.now();
    }
    if (res.destroyed) return;
    if (res.headersSent) res.end(`event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: call.id, result })}\n\n`);
    else sendJsonRpcResult(res, call.id, result, { 'mcp-session-id': session.id });
  }

  private open(principal: Principal): Session {
    const session = { calls: new Map() } as unknown as Session;
    const server = createSessionServer(
      { runtime: this.runtime, catalogue: this.#catalogue, calls: this.#calls, version: this.options.version },
      () => session.client,
    );
    this.#notices.attach(server, () => session.id, () => session.who);
    server.oninitialized = () => {
      const info = server.getClientVersion();
      // The client names itself; what it says goes into every audit record of the session,
      // so only a short printable form is kept.
      if (info) session.client = { name: clientText(info.name), ...(info.version ? { version: clientText(info.version) } : {}) };
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
    Object.assign(session, { transport, server, credentialId: principal.credentialId ?? '', principal: principal.name, who: principal, lastUsed: Date.now(), inFlight: 0, postsInFlight: 0 });
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
    this.#catalogue.close();
    this.#notices.close();
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

/** Most MCP sessions one principal holds at a time. */
export const MAX_SESSIONS_PER_PRINCIPAL = 16;

/** At most 128 characters of a client-supplied name, control characters dropped. */
function clientText(value: unknown): string {
  // eslint-disable-next-line no-control-regex -- dropping control characters is the point
  return String(value).replace(/[\u0000-\u001f\u007f-\u009f]/g, '').slice(0, 128);
}
