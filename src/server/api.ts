// The REST API (`sluice up`): run commands through the gate, read the audit log, health and
// metrics. Plain node:http: a handful of routes does not need a framework, and every byte
// of a request body is bounded before it is parsed.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { GateError, type GateOutcome } from '../gate/gate.js';
import type { Principal } from '../gate/types.js';
import { checkKey, createKey, unusable } from '../identity/keys.js';
import { StoreError } from '../store/errors.js';
import { IdentityError, principalFromKey } from '../identity/principals.js';
import type { Runtime } from '../app/runtime.js';
import type { Metrics } from './metrics.js';
import { log } from '../util/log.js';
import { newId } from '../util/ids.js';
import { handleMcp } from '../doors/mcp/index.js';
import { handleReveal } from './reveal.js';
import { parseDuration } from '../util/units.js';
import type { ApiKeyRecord } from '../store/store.js';
import { approvalRoute } from './approvals-api.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const actionBody = z
  .object({
    connection: z.string().min(1),
    command: z.string(),
    session: z.string().min(1).max(200).optional(),
  })
  .strict();

const tokenBody = z
  .object({
    /** Lifetime such as 15m or 2h; default tokens.default_ttl, at most tokens.max_ttl. */
    ttl: z.string().min(1).max(32).optional(),
  })
  .strict();

const auditQuery = z
  .object({
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    after: z.coerce.number().int().min(0).optional(),
    order: z.enum(['asc', 'desc']).default('desc'),
    session: z.string().optional(),
    principal: z.string().optional(),
    connection: z.string().optional(),
    effect: z.enum(['allow', 'deny', 'review']).optional(),
    action: z.string().optional(),
  })
  .strict();

export interface ApiServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function startApi(runtime: Runtime, metrics: Metrics, address: { host: string; port: number }): Promise<ApiServer> {
  const maxBody = runtime.loaded.config.listeners.api.max_body;
  const server = createServer((req, res) => {
    handle(runtime, metrics, maxBody, req, res).catch((error: unknown) => {
      log.error({ err: error }, 'unhandled API error');
      if (!res.headersSent) send(res, 500, { error: { code: 'internal', message: 'internal error; see the Sluice log' } });
      else res.destroy();
    });
  });
  // Receiving a request (headers and body) must finish within a minute; answering may take
  // longer (a held review waits for a human), which these timeouts do not limit.
  server.requestTimeout = 60_000;
  server.headersTimeout = 30_000;
  await new Promise<void>((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      resolvePromise();
    });
  });
  const bound = server.address() as AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return {
    server,
    url: `http://${host}:${bound.port}`,
    close: () =>
      new Promise<void>((resolvePromise) => {
        server.close(() => resolvePromise());
        server.closeAllConnections();
      }),
  };
}

async function handle(runtime: Runtime, metrics: Metrics, maxBody: number, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const route = `${req.method ?? 'GET'} ${url.pathname}`;
  res.on('finish', () => metrics.httpRequests.inc({ route: routeLabel(url.pathname), status: String(res.statusCode) }));
  try {
    // The MCP door (doors/mcp) answers its own errors in JSON-RPC form.
    if (url.pathname === '/mcp') return await handleMcp(runtime, req, res);
    // Reviews and grants (server/approvals-api.ts).
    if (url.pathname.startsWith('/v1/reviews') || url.pathname.startsWith('/v1/grants')) {
      if (await approvalRoute(runtime, maxBody, req, res, url)) return;
    }
    switch (route) {
      case 'GET /healthz':
        return send(res, 200, { status: 'ok' });
      case 'GET /readyz':
        return await ready(runtime, res);
      case 'GET /metrics': {
        res.setHeader('content-type', metrics.registry.contentType);
        res.end(await metrics.registry.metrics());
        return;
      }
      case 'POST /v1/actions':
        return await runAction(runtime, maxBody, req, res);
      case 'GET /v1/audit':
        return await readAudit(runtime, req, url, res);
      case 'POST /v1/tokens':
        return await createToken(runtime, maxBody, req, res);
      case 'POST /v1/reveal':
        return await handleReveal(runtime, await authenticate(runtime, req), await readJson(req, maxBody), res);
      default:
        if (ROUTES.includes(url.pathname)) {
          throw new ApiError(405, 'method_not_allowed', `${req.method} is not allowed on ${url.pathname}`);
        }
        throw new ApiError(404, 'not_found', `no route ${url.pathname}; see docs/api.md`);
    }
  } catch (error) {
    if (error instanceof ApiError) {
      if (error.status === 413) res.setHeader('connection', 'close');
      return send(res, error.status, { error: { code: error.code, message: error.message, ...error.extra } });
    }
    if (error instanceof GateError) {
      log.error({ err: error.cause ?? error }, error.message);
      return send(res, 503, { error: { code: error.code, message: error.message } });
    }
    if (error instanceof StoreError) {
      log.error({ err: error }, 'store error');
      return send(res, 503, { error: { code: 'store_unavailable', message: 'the store cannot be reached, so nothing ran; check the store and try again' } });
    }
    throw error;
  }
}

async function ready(runtime: Runtime, res: ServerResponse): Promise<void> {
  try {
    const head = await runtime.store.auditHead();
    // Commands still run and are recorded while checkpoints fail, so the node stays ready; the
    // operator needs to know that the ledger is not being sealed or anchored meanwhile.
    const checkpointError = runtime.checkpoints?.lastError;
    // Records are safe in the journal while the store refuses them, and commands still run
    // until the backlog fills: ready, but the operator must know.
    const ledgerFailure = runtime.ledger.failure;
    const warnings = [
      ...(ledgerFailure
        ? [{ code: 'audit_store_failing', message: `audit records are journaled but not reaching the store (${runtime.ledger.pending} waiting; commands are refused once the backlog is full): ${ledgerFailure.message}` }]
        : []),
      ...(checkpointError ? [{ code: 'checkpoint_failing', message: `audit checkpoints are not being written: ${checkpointError}` }] : []),
      ...(runtime.retention?.lastError ? [{ code: 'retention_failing', message: `old audit records are not being pruned: ${runtime.retention.lastError}` }] : []),
      // Likewise a SIEM target that fails or lags: records wait in the ledger and nothing is lost.
      ...(runtime.stream?.warnings(head.seq) ?? []),
    ];
    send(res, 200, {
      status: 'ready',
      ...(warnings.length > 0 ? { warnings } : {}),
    });
  } catch {
    send(res, 503, { status: 'unavailable', error: { code: 'store_unavailable', message: 'the store cannot be reached' } });
  }
}

export async function authenticate(runtime: Runtime, req: IncomingMessage): Promise<Principal> {
  return (await authenticateKey(runtime, req)).principal;
}

/** The caller's Principal and the record of the key or token it presented. */
async function authenticateKey(runtime: Runtime, req: IncomingMessage): Promise<{ principal: Principal; record: ApiKeyRecord }> {
  const header = req.headers.authorization;
  if (!header) {
    throw new ApiError(401, 'missing_credentials', 'send "Authorization: Bearer <key>"; create a key with `sluice keys create --agent NAME`');
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) throw new ApiError(401, 'missing_credentials', 'the Authorization header must be "Bearer <key>"');
  const check = await checkKey(runtime.store, match[1]!);
  if (!check.ok) {
    const token = match[1]!.startsWith('slt_');
    const code = check.reason === 'expired' ? (token ? 'token_expired' : 'key_expired') : check.reason === 'revoked' ? 'key_revoked' : 'invalid_key';
    throw new ApiError(401, code, `${check.message}; ${token ? 'create a new token with your API key' : 'ask an operator for a new key'}`);
  }
  try {
    return { principal: principalFromKey(check.record, runtime.loaded.config.identities), record: check.record };
  } catch (error) {
    if (error instanceof IdentityError) throw new ApiError(401, 'identity_conflict', error.message);
    throw error;
  }
}

export async function readJson(req: IncomingMessage, maxBody: number): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;\s*charset=utf-8\s*)?$/i.test(type)) {
    throw new ApiError(415, 'unsupported_media_type', 'send the body as UTF-8 JSON with "Content-Type: application/json"');
  }
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > maxBody) {
    req.resume();
    throw new ApiError(413, 'payload_too_large', `the request body is ${declared} bytes; the limit is ${maxBody} (listeners.api.max_body)`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBody) {
      req.resume();
      throw new ApiError(413, 'payload_too_large', `the request body exceeds ${maxBody} bytes (listeners.api.max_body)`);
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new ApiError(400, 'bad_json', `the request body is not valid JSON: ${(error as Error).message}`);
  }
}

export function validate<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const details = parsed.error.issues.map((issue) => {
    const path = issue.path.join('.');
    const message = issue.code === 'unrecognized_keys' ? `unknown field(s): ${issue.keys.join(', ')}` : issue.message;
    return path ? `${path}: ${message}` : message;
  });
  throw new ApiError(400, 'invalid_request', `invalid ${what}: ${details.join('; ')}`);
}

async function runAction(runtime: Runtime, maxBody: number, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const principal = await authenticate(runtime, req);
  const body = validate(actionBody, await readJson(req, maxBody), 'request body');
  const abort = new AbortController();
  // A caller that disconnects cancels its held review or running command.
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  const outcome = await runtime.gate.run(
    {
      principal,
      session: body.session ?? newId('ses'),
      connection: body.connection,
      door: 'api',
      command: body.command,
    },
    {
      signal: abort.signal,
      onHold: (review) => {
        log.info({ review: review.id, principal: principal.name, connection: body.connection }, 'command held for review');
        // 103 lets a client that reads informational responses show the review id at once.
        res.writeEarlyHints({ 'x-sluice-review': review.id });
      },
    },
  );
  if (abort.signal.aborted) return;
  sendOutcome(res, outcome);
}

function sendOutcome(res: ServerResponse, outcome: GateOutcome): void {
  const { action, decision } = outcome;
  const summary = {
    action_id: action.id,
    session: action.session,
    decision: { effect: decision.effect, rule: decision.rule, reason: decision.reason },
    intent: { class: action.intent.class, classes: action.intent.classes, flags: action.intent.flags, objects: action.intent.objects },
    ...(outcome.review ? { review: { id: outcome.review.reviewId, status: outcome.review.status, ...(outcome.review.by ? { by: outcome.review.by } : {}) } } : {}),
  };
  if (outcome.status === 'denied') {
    return send(res, 403, { error: { code: 'denied', message: `denied by rule ${decision.rule}: ${decision.reason}`, rule: decision.rule }, ...summary });
  }
  if (outcome.status !== 'executed') {
    const message =
      outcome.status === 'rejected'
        ? `review ${outcome.review?.reviewId} was rejected${outcome.review?.by ? ` by ${outcome.review.by}` : ''}${outcome.review?.note ? `: ${outcome.review.note}` : ''}`
        : `review ${outcome.review?.reviewId} ${outcome.status}: nobody approved the command in time, so it did not run`;
    return send(res, 403, { error: { code: `review_${outcome.status}`, message }, ...summary });
  }
  send(res, 200, {
    ...summary,
    duration_ms: outcome.durationMs,
    result: outcome.result,
    ...(outcome.masked && outcome.masked.values > 0 ? { masked: outcome.masked } : {}),
  });
}

/**
 * A short-lived token for the caller's own principal (same kind, groups and on-behalf-of as the
 * key or token presented), shown once. It never outlives the credential that asked for it, so
 * tokens made from tokens cannot stretch a lifetime. Every creation is in the audit ledger.
 */
async function createToken(runtime: Runtime, maxBody: number, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { principal, record } = await authenticateKey(runtime, req);
  const body = validate(tokenBody, await readJson(req, maxBody), 'request body');
  const limits = runtime.loaded.config.tokens;
  let ttlMs = limits.default_ttl;
  if (body.ttl !== undefined) {
    try {
      ttlMs = parseDuration(body.ttl);
    } catch (error) {
      throw new ApiError(400, 'invalid_request', `invalid request body: ttl: ${(error as Error).message}`);
    }
  }
  if (ttlMs > limits.max_ttl) {
    throw new ApiError(400, 'ttl_too_long', `a token may live at most ${formatDuration(limits.max_ttl)} (tokens.max_ttl); ${body.ttl} is longer`, { max_ttl: formatDuration(limits.max_ttl) });
  }
  const now = new Date();
  const live = (await runtime.store.loginKeys(record.principal, now.toISOString())).filter((k) => k.token && !unusable(k, now)).length;
  if (live >= limits.max_live) {
    throw new ApiError(429, 'too_many_tokens', `${record.principal} already holds ${live} unexpired tokens (tokens.max_live is ${limits.max_live}); use one of them or let some expire`);
  }
  if (record.expiresAt !== undefined) ttlMs = Math.min(ttlMs, Date.parse(record.expiresAt) - now.getTime());
  if (!(ttlMs > 0)) throw new ApiError(401, 'key_expired', `${record.token ? 'token' : 'API key'} ${record.id} has expired`);
  const { key, record: created } = await createKey(
    runtime.store,
    {
      principal: record.principal,
      kind: record.kind,
      groups: record.groups,
      ...(record.onBehalfOf !== undefined ? { onBehalfOf: record.onBehalfOf } : {}),
      ttlMs,
      token: true,
      parentId: record.id,
    },
    now,
  );
  try {
    await runtime.ledger.append({
      kind: 'key',
      principal: principal.name,
      detail: {
        event: 'token-created',
        keyId: created.id,
        principal: created.principal,
        kind: created.kind,
        groups: created.groups,
        onBehalfOf: created.onBehalfOf ?? null,
        expiresAt: created.expiresAt ?? null,
        by: record.id,
        door: 'api',
      },
    });
  } catch (error) {
    // A credential nobody can account for must not exist: withdraw it.
    await runtime.store.revokeKey(created.id, new Date().toISOString()).catch((revokeError: unknown) => log.error({ err: revokeError, token: created.id }, 'could not withdraw an unrecorded token'));
    log.error({ err: error }, 'token creation could not be recorded');
    throw new ApiError(503, 'audit_unavailable', 'the token could not be recorded in the audit log, so it was withdrawn; try again');
  }
  log.info({ principal: created.principal, token: created.id, by: record.id, expiresAt: created.expiresAt }, 'token created');
  send(res, 201, {
    token: key,
    id: created.id,
    principal: created.principal,
    kind: created.kind,
    groups: created.groups,
    on_behalf_of: created.onBehalfOf ?? null,
    expires_at: created.expiresAt,
  });
}

/** 90000 -> "1m30s"; for messages. */
function formatDuration(ms: number): string {
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0 || parts.length === 0) parts.push(`${rest}ms`);
  return parts.join('');
}

async function readAudit(runtime: Runtime, req: IncomingMessage, url: URL, res: ServerResponse): Promise<void> {
  const principal = await authenticate(runtime, req);
  const readers = runtime.loaded.config.audit.readers;
  if (!principal.groups.some((group) => readers.includes(group))) {
    throw new ApiError(403, 'forbidden', `reading the audit log needs membership of one of: ${readers.join(', ')} (audit.readers)`);
  }
  const query = validate(auditQuery, Object.fromEntries(url.searchParams), 'query');
  // Records the gate has journaled reach the store in batches: a reader sees everything
  // recorded before its request.
  await runtime.ledger.flush();
  const rows = await runtime.store.readAudit({
    limit: query.limit,
    descending: query.order === 'desc',
    ...(query.after !== undefined ? { afterSeq: query.after } : {}),
    ...(query.session ? { session: query.session } : {}),
    ...(query.principal ? { principal: query.principal } : {}),
    ...(query.connection ? { connection: query.connection } : {}),
    ...(query.effect ? { effect: query.effect } : {}),
    ...(query.action ? { actionId: query.action } : {}),
  });
  send(res, 200, { records: rows.map((row) => ({ seq: row.seq, hash: row.hash, prev_hash: row.prevHash, record: JSON.parse(row.body) as unknown })) });
}

export function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const ROUTES = ['/healthz', '/readyz', '/metrics', '/v1/actions', '/v1/audit', '/v1/tokens', '/v1/reviews', '/v1/grants', '/v1/reveal'];

function routeLabel(path: string): string {
  return ROUTES.includes(path) ? path : 'other';
}
