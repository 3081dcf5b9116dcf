// JSON-RPC answers the door writes itself, before a request reaches the SDK transport
// (authentication, session binding, size limits, unparsable bodies).
import type { ServerResponse } from 'node:http';

export function sendJsonRpcError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  data?: Record<string, unknown>,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify({ jsonrpc: '2.0', error: { code, message, ...(data ? { data } : {}) }, id: null });
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** JSON-RPC error codes the door uses (the standard ones, and the SDK's -32000 range). */
export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const SERVER_ERROR = -32000;
export const SESSION_NOT_FOUND = -32001;

/** A tools/call the door answers itself, as one JSON response (see McpEndpoint.handle). */
export interface PlainToolCall {
  id: string | number;
  name: string;
  arguments: unknown;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const CALL_PARAM_KEYS = new Set(['name', 'arguments', '_meta']);

/**
 * The body as a plain tools/call: one JSON-RPC request, params with only a name, object
 * arguments and a `_meta` without a progress token (a caller that asked for progress gets
 * the SDK's SSE stream). Anything else, including every malformed request, returns undefined
 * and goes to the SDK, which answers it as it always did.
 */
export function plainToolCall(body: unknown): PlainToolCall | undefined {
  if (!isPlainObject(body) || body.jsonrpc !== '2.0' || body.method !== 'tools/call') return undefined;
  const { id, params } = body;
  if (typeof id !== 'string' && !(typeof id === 'number' && Number.isSafeInteger(id))) return undefined;
  if (!isPlainObject(params) || typeof params.name !== 'string') return undefined;
  for (const key of Object.keys(params)) if (!CALL_PARAM_KEYS.has(key)) return undefined;
  if (params.arguments !== undefined && !isPlainObject(params.arguments)) return undefined;
  if (params._meta !== undefined && (!isPlainObject(params._meta) || 'progressToken' in params._meta)) return undefined;
  return { id, name: params.name, arguments: params.arguments };
}

/** The request id a notifications/cancelled body names, if the body is one. */
export function cancelledRequestId(body: unknown): string | number | undefined {
  if (!isPlainObject(body) || body.jsonrpc !== '2.0' || body.method !== 'notifications/cancelled' || 'id' in body) return undefined;
  const id = isPlainObject(body.params) ? body.params.requestId : undefined;
  return typeof id === 'string' || typeof id === 'number' ? id : undefined;
}

/** Sends one JSON-RPC response as application/json. */
export function sendJsonRpcResult(res: ServerResponse, id: string | number, result: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ jsonrpc: '2.0', id, result });
  res.writeHead(200, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
