// The REST routes of the approval workflow, for humans in an approver group:
//   GET  /v1/reviews[?status=pending|...|all]     what waits (pending by default)
//   GET  /v1/reviews/ID                           one review with its votes
//   POST /v1/reviews/ID/approve|reject            vote {"note", "grant": {"scope", "minutes"}}
//   GET  /v1/grants[?all=true]                    active grants (all with ?all=true)
//   POST /v1/grants/ID/revoke                     end a grant now
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import type { Runtime } from '../app/runtime.js';
import { GRANT_SCOPES } from '../approvals/config.js';
import { ReviewError, decideReview, type DecidedReview, type ReviewErrorCode } from '../approvals/reviews.js';
import { GrantError, revokeGrant } from '../approvals/grant-admin.js';
import type { Principal } from '../gate/types.js';
import type { GrantRecord, ReviewRecord, ReviewStatus, ReviewVote } from '../store/store.js';
import { ApiError, authenticate, readJson, send, validate } from './api.js';

const REVIEW_STATUSES = ['pending', 'approved', 'rejected', 'expired', 'cancelled', 'executed'] as const;
const ID = '([A-Za-z0-9_-]{1,100})';
const REVIEW_PATH = new RegExp(`^/v1/reviews/${ID}$`);
const DECIDE_PATH = new RegExp(`^/v1/reviews/${ID}/(approve|reject)$`);
const REVOKE_PATH = new RegExp(`^/v1/grants/${ID}/revoke$`);

const decideBody = z
  .object({
    note: z.string().max(2000).optional(),
    grant: z
      .object({
        scope: z.enum(GRANT_SCOPES),
        /** Lifetime in minutes; default approvals.grants.default. */
        minutes: z.number().int().min(1).max(30 * 24 * 60).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const revokeBody = z.object({ note: z.string().max(2000).optional() }).strict();

/** Handles the route when it is one of these; false for a path this module does not know. */
export async function approvalRoute(runtime: Runtime, maxBody: number, req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean> {
  const path = url.pathname;
  const method = req.method ?? 'GET';
  let m: RegExpExecArray | null;
  if (path === '/v1/reviews') {
    if (method !== 'GET') throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on ${path}`);
    await listReviews(runtime, req, url, res);
    return true;
  }
  if ((m = REVIEW_PATH.exec(path))) {
    if (method !== 'GET') throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on ${path}`);
    await showReview(runtime, req, res, m[1]!);
    return true;
  }
  if ((m = DECIDE_PATH.exec(path))) {
    if (method !== 'POST') throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on ${path}`);
    await decide(runtime, maxBody, req, res, m[1]!, m[2] === 'approve' ? 'approved' : 'rejected');
    return true;
  }
  if (path === '/v1/grants') {
    if (method !== 'GET') throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on ${path}`);
    await listGrants(runtime, req, url, res);
    return true;
  }
  if ((m = REVOKE_PATH.exec(path))) {
    if (method !== 'POST') throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on ${path}`);
    await revoke(runtime, maxBody, req, res, m[1]!);
    return true;
  }
  return false;
}

/** Every group that may approve something: approvals.approvers and each review rule's approvers. */
export function approverGroups(runtime: Runtime): string[] {
  const a = runtime.loaded.config.approvals;
  return [...new Set([...a.approvers, ...Object.values(a.rules).flatMap((r) => r.approvers ?? [])])];
}

async function approver(runtime: Runtime, req: IncomingMessage): Promise<Principal> {
  const principal = await authenticate(runtime, req);
  const groups = approverGroups(runtime);
  if (principal.kind !== 'human' || !principal.groups.some((g) => groups.includes(g))) {
    throw new ApiError(403, 'not_approver', `${principal.name} is not a human in an approver group (${groups.join(', ')})`);
  }
  return principal;
}

async function listReviews(runtime: Runtime, req: IncomingMessage, url: URL, res: ServerResponse): Promise<void> {
  await approver(runtime, req);
  const status = url.searchParams.get('status') ?? 'pending';
  if (status !== 'all' && !(REVIEW_STATUSES as readonly string[]).includes(status)) {
    throw new ApiError(400, 'invalid_request', `status must be one of ${REVIEW_STATUSES.join(', ')}, all`);
  }
  const reviews = await runtime.store.listReviews(status === 'all' ? {} : { status: status as ReviewStatus });
  send(res, 200, { reviews: reviews.map((r) => reviewJson(r)) });
}

async function showReview(runtime: Runtime, req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
  await approver(runtime, req);
  const review = await runtime.store.getReview(id);
  if (!review) throw new ApiError(404, 'not_found', `no review with id ${id}`);
  send(res, 200, reviewJson(review, await runtime.store.listVotes(id)));
}

async function decide(runtime: Runtime, maxBody: number, req: IncomingMessage, res: ServerResponse, id: string, verdict: 'approved' | 'rejected'): Promise<void> {
  const principal = await authenticate(runtime, req);
  const body = validate(decideBody, (await readJson(req, maxBody)) ?? {}, 'request body');
  if (body.grant && verdict === 'rejected') throw new ApiError(400, 'invalid_request', 'a rejection gives no grant');
  const settings = runtime.loaded.config.approvals;
  try {
    const decided = await decideReview(runtime.store, runtime.ledger, id, verdict, principal, {
      ...(body.note !== undefined ? { note: body.note } : {}),
      ...(body.grant ? { grant: { scope: body.grant.scope, ...(body.grant.minutes ? { durationMs: body.grant.minutes * 60_000 } : {}) } } : {}),
      grantDefaultMs: settings.grants.default,
      approvers: settings.approvers,
      via: 'api',
    });
    send(res, 200, decidedJson(decided));
  } catch (error) {
    if (error instanceof ReviewError) throw new ApiError(REVIEW_ERROR_STATUS[error.code], error.code, error.message);
    throw error;
  }
}

const REVIEW_ERROR_STATUS: Record<ReviewErrorCode, number> = {
  not_found: 404,
  not_pending: 409,
  expired: 409,
  already_voted: 409,
  self_approval: 403,
  not_approver: 403,
  justification_required: 400,
  grant_not_allowed: 400,
  grant_too_long: 400,
  audit_unavailable: 503,
};

async function listGrants(runtime: Runtime, req: IncomingMessage, url: URL, res: ServerResponse): Promise<void> {
  await approver(runtime, req);
  const all = url.searchParams.get('all');
  if (all !== null && all !== 'true' && all !== 'false') throw new ApiError(400, 'invalid_request', 'all must be true or false');
  const grants = await runtime.store.listGrants(all === 'true' ? {} : { activeAt: new Date().toISOString() });
  send(res, 200, { grants: grants.map(grantJson) });
}

async function revoke(runtime: Runtime, maxBody: number, req: IncomingMessage, res: ServerResponse, id: string): Promise<void> {
  const principal = await approver(runtime, req);
  const body = validate(revokeBody, (await readJson(req, maxBody)) ?? {}, 'request body');
  try {
    const grant = await revokeGrant(runtime.store, runtime.ledger, id, principal.name, { via: 'api', ...(body.note ? { note: body.note } : {}) });
    send(res, 200, grantJson(grant));
  } catch (error) {
    if (error instanceof GrantError) throw new ApiError(error.code === 'not_found' ? 404 : error.code === 'audit_unavailable' ? 503 : 409, error.code, error.message);
    throw error;
  }
}

/** A review as the API and `sluice reviews ... --json` show it. */
export function reviewJson(review: ReviewRecord, votes?: readonly ReviewVote[]): Record<string, unknown> {
  const action = review.action as {
    principal?: { kind?: string; name?: string; onBehalfOf?: string };
    connection?: { name?: string };
    session?: string;
    door?: string;
    command?: string;
    args?: unknown;
    intent?: { class?: string; flags?: string[] };
  };
  return {
    id: review.id,
    status: review.status,
    created_at: review.createdAt,
    expires_at: review.expiresAt,
    principal: action.principal?.name ?? null,
    principal_kind: action.principal?.kind ?? null,
    on_behalf_of: action.principal?.onBehalfOf ?? null,
    connection: action.connection?.name ?? null,
    session: action.session ?? null,
    door: action.door ?? null,
    command: action.command ?? null,
    ...(action.args !== undefined ? { args: action.args } : {}),
    intent: action.intent ? { class: action.intent.class ?? null, flags: action.intent.flags ?? [] } : null,
    rule: review.rule,
    reason: review.reason,
    approvers: review.requirements?.approvers ?? null,
    quorum: review.requirements?.quorum ?? 1,
    justification: review.requirements?.justification ?? false,
    grants: review.requirements?.grants ?? ['once'],
    decided_by: review.decidedBy ?? null,
    decided_at: review.decidedAt ?? null,
    note: review.note ?? null,
    ...(votes
      ? {
          votes: votes.map((v) => ({
            approver: v.approver,
            verdict: v.verdict,
            at: v.at,
            note: v.note ?? null,
            grant: v.grant ? { scope: v.grant.scope, minutes: Math.round(v.grant.durationMs / 60_000) } : null,
          })),
        }
      : {}),
  };
}

/** A vote's result as the API answers it and `sluice reviews approve|reject --json` prints it. */
export function decidedJson(decided: DecidedReview): Record<string, unknown> {
  return {
    id: decided.id,
    status: decided.status,
    approvals: decided.approvals,
    quorum: decided.quorum,
    decided_by: decided.decidedBy ?? null,
    decided_at: decided.decidedAt ?? null,
    grant: decided.grant ? grantJson(decided.grant) : null,
  };
}

export function grantJson(grant: GrantRecord): Record<string, unknown> {
  return {
    id: grant.id,
    review_id: grant.reviewId,
    scope: grant.scope,
    rule: grant.rule,
    principal: grant.principal,
    connection: grant.connection,
    session: grant.session ?? null,
    pattern: (grant.summary.pattern as string | undefined) ?? null,
    command: (grant.summary.command as string | undefined) ?? null,
    class: (grant.summary.class as string | undefined) ?? null,
    created_at: grant.createdAt,
    expires_at: grant.expiresAt,
    granted_by: grant.grantedBy,
    revoked_at: grant.revokedAt ?? null,
    revoked_by: grant.revokedBy ?? null,
    uses: grant.uses,
    last_used_at: grant.lastUsedAt ?? null,
  };
}
