// Rows of the approval workflow (store version 4) shared by both stores: column lists, checks
// and row parsers for review extras, votes and grants.
import { StoreError } from './errors.js';
import { isObject, jsonColumn, parseJsonColumn, reviewFromRaw } from './common.js';
import type { GrantRecord, ReviewRecord, ReviewRequirements, ReviewVote } from './store.js';

/** Selected after REVIEW_COLUMNS (common.ts) by every review query. */
export const REVIEW_EXTRA_COLUMNS = 'requirements, holder, heartbeat_at';

export const VOTE_COLUMNS = 'review_id, approver, verdict, at, note, grant_request';

export const GRANT_COLUMNS =
  'id, review_id, scope, rule, principal, connection, session, pattern, summary, created_at, expires_at, granted_by, revoked_at, revoked_by, uses, last_used_at';

/** A review row of REVIEW_COLUMNS followed by REVIEW_EXTRA_COLUMNS. */
export function fullReviewFromRaw(r: readonly unknown[]): ReviewRecord {
  const review = reviewFromRaw(r);
  if (r[12] != null) review.requirements = parseJsonColumn<ReviewRequirements>(r[12], `review ${review.id} requirements`);
  if (r[13] != null) review.holder = r[13] as string;
  if (r[14] != null) review.heartbeatAt = r[14] as string;
  return review;
}

export function voteFromRaw(r: readonly unknown[]): ReviewVote {
  const vote: ReviewVote = {
    reviewId: r[0] as string,
    approver: r[1] as string,
    verdict: r[2] as ReviewVote['verdict'],
    at: r[3] as string,
  };
  if (r[4] != null) vote.note = r[4] as string;
  if (r[5] != null) vote.grant = parseJsonColumn<NonNullable<ReviewVote['grant']>>(r[5], `vote on ${vote.reviewId} grant`);
  return vote;
}

export function grantFromRaw(r: readonly unknown[]): GrantRecord {
  const grant: GrantRecord = {
    id: r[0] as string,
    reviewId: r[1] as string,
    scope: r[2] as GrantRecord['scope'],
    rule: r[3] as string,
    principal: r[4] as string,
    connection: r[5] as string,
    summary: parseJsonColumn<Record<string, unknown>>(r[8], `grant ${String(r[0])} summary`),
    createdAt: r[9] as string,
    expiresAt: r[10] as string,
    grantedBy: parseJsonColumn<string[]>(r[11], `grant ${String(r[0])} granted_by`),
    uses: Number(r[14] ?? 0),
  };
  if (r[6] != null) grant.session = r[6] as string;
  if (r[7] != null) grant.pattern = r[7] as string;
  if (r[12] != null) grant.revokedAt = r[12] as string;
  if (r[13] != null) grant.revokedBy = r[13] as string;
  if (r[15] != null) grant.lastUsedAt = r[15] as string;
  return grant;
}

/** A review's values in REVIEW_COLUMNS then REVIEW_EXTRA_COLUMNS order, for an insert. */
export function reviewValues(review: ReviewRecord): unknown[] {
  return [
    review.id,
    review.actionId,
    review.status,
    review.createdAt,
    review.expiresAt,
    review.commandHash,
    jsonColumn(review.action, 'insertReview: action'),
    review.rule,
    review.reason,
    review.decidedAt ?? null,
    review.decidedBy ?? null,
    review.note ?? null,
    review.requirements ? jsonColumn(review.requirements, 'insertReview: requirements') : null,
    review.holder ?? null,
    review.heartbeatAt ?? null,
  ];
}

/** A vote's values in VOTE_COLUMNS order. */
export function voteValues(vote: ReviewVote): unknown[] {
  return [vote.reviewId, vote.approver, vote.verdict, vote.at, vote.note ?? null, vote.grant ? jsonColumn(vote.grant, 'castVote: grant') : null];
}

/** A new grant's values in GRANT_COLUMNS order: not revoked, never used. */
export function newGrantValues(grant: GrantRecord): unknown[] {
  return [
    grant.id,
    grant.reviewId,
    grant.scope,
    grant.rule,
    grant.principal,
    grant.connection,
    grant.session ?? null,
    grant.pattern ?? null,
    jsonColumn(grant.summary, 'castVote: grant summary'),
    grant.createdAt,
    grant.expiresAt,
    jsonColumn(grant.grantedBy, 'castVote: grant grantedBy'),
    null,
    null,
    0,
    null,
  ];
}

export function checkVote(vote: ReviewVote): void {
  if (!isObject(vote)) throw new StoreError('invalid', 'castVote: a vote is required');
  for (const f of ['reviewId', 'approver', 'at'] as const) {
    if (typeof vote[f] !== 'string' || vote[f].length === 0) throw new StoreError('invalid', `castVote: ${f} must be a non-empty string`);
  }
  if (vote.verdict !== 'approved' && vote.verdict !== 'rejected') throw new StoreError('invalid', 'castVote: verdict must be approved or rejected');
  if (vote.note !== undefined && typeof vote.note !== 'string') throw new StoreError('invalid', 'castVote: note must be a string');
}

export function checkGrant(grant: GrantRecord): void {
  if (!isObject(grant)) throw new StoreError('invalid', 'castVote: a grant record is required');
  for (const f of ['id', 'reviewId', 'rule', 'principal', 'connection', 'createdAt', 'expiresAt'] as const) {
    if (typeof grant[f] !== 'string' || grant[f].length === 0) throw new StoreError('invalid', `castVote: grant ${f} must be a non-empty string`);
  }
  if (grant.scope !== 'session' && grant.scope !== 'pattern') throw new StoreError('invalid', 'castVote: grant scope must be session or pattern');
  if (grant.scope === 'session' && typeof grant.session !== 'string') throw new StoreError('invalid', 'castVote: a session grant needs its session');
  if (grant.scope === 'pattern' && typeof grant.pattern !== 'string') throw new StoreError('invalid', 'castVote: a pattern grant needs its pattern');
  if (!Array.isArray(grant.grantedBy)) throw new StoreError('invalid', 'castVote: grant grantedBy must be a list');
}
