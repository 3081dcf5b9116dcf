// Who is calling /mcp: every HTTP request carries `Authorization: Bearer <Sluice key or
// token>`, checked the same way as on the REST API (identity/keys.ts: constant-time hash
// comparison, expiry, revocation). Failures are answered in a shape MCP clients understand:
// 401 with a WWW-Authenticate challenge and a JSON-RPC error body.
import type { ServerResponse } from 'node:http';
import type { Runtime } from '../../app/runtime.js';
import type { Principal } from '../../gate/types.js';
import { checkKey } from '../../identity/keys.js';
import { IdentityError, principalFromKey } from '../../identity/principals.js';
import { StoreError } from '../../store/errors.js';
import { SERVER_ERROR, sendJsonRpcError } from './wire.js';

export type Authentication = { ok: true; principal: Principal } | { ok: false; status: 401 | 503; code: string; message: string };

export async function authenticate(runtime: Runtime, header: string | undefined): Promise<Authentication> {
  if (!header) {
    return { ok: false, status: 401, code: 'missing_credentials', message: 'send "Authorization: Bearer <Sluice key>"; create one with `sluice keys create --agent NAME`' };
  }
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match) return { ok: false, status: 401, code: 'missing_credentials', message: 'the Authorization header must be "Bearer <Sluice key>"' };
  try {
    const check = await checkKey(runtime.store, match[1]!);
    if (!check.ok) {
      const code = check.reason === 'expired' ? 'key_expired' : check.reason === 'revoked' ? 'key_revoked' : 'invalid_key';
      return { ok: false, status: 401, code, message: `${check.message}; ask an operator for a new key` };
    }
    return { ok: true, principal: principalFromKey(check.record, runtime.loaded.config.identities) };
  } catch (error) {
    if (error instanceof IdentityError) return { ok: false, status: 401, code: 'identity_conflict', message: error.message };
    if (error instanceof StoreError) {
      return { ok: false, status: 503, code: 'store_unavailable', message: 'the store cannot be reached, so no key can be checked; try again later' };
    }
    throw error;
  }
}

/** Answers a failed authentication; the challenge tells clients a bearer token is expected. */
export function refuseAuthentication(res: ServerResponse, failure: Extract<Authentication, { ok: false }>): void {
  const headers: Record<string, string> =
    failure.status === 401
      ? { 'www-authenticate': `Bearer realm="sluice", error="invalid_token", error_description="${failure.message.replace(/["\\]/g, "'")}"` }
      : {};
  sendJsonRpcError(res, failure.status, SERVER_ERROR, `${failure.status === 401 ? 'Unauthorized' : 'Unavailable'}: ${failure.message}`, { code: failure.code }, headers);
}
