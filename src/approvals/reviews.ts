// Holding a command for review. A `review` decision creates a pending record in the store;
// the caller waits until a human approves or rejects it (`sluice reviews approve ID`, from
// any process sharing the store), or until it expires or the caller goes away. The full
// approval workflow (quorum, grants, notifications) builds on these records.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditDraft } from '../audit/record.js';
import type { Action, Decision } from '../gate/types.js';
import type { ReviewRecord, ReviewStatus, Store } from '../store/store.js';
import { newId } from '../util/ids.js';

export type ReviewVerdict = 'approved' | 'rejected' | 'expired' | 'cancelled';

export interface ReviewOutcome {
  reviewId: string;
  /** `pending` only when the hold was asked to return at once (`returnPending`). */
  status: ReviewVerdict | 'pending';
  by?: string;
  note?: string;
}

export interface HoldOptions {
  signal?: AbortSignal;
  /** Called once the pending record exists, so the door can tell the caller how to approve. */
  onPending?: (review: ReviewRecord) => void;
  /** Return `pending` once the record exists instead of waiting for a verdict. */
  returnPending?: boolean;
  /** Continue this earlier review of the same command instead of opening a new one. */
  resume?: string;
}

/** The gate's hook for `review` decisions. */
export interface ReviewHook {
  hold(action: Action, decision: Decision, options?: HoldOptions): Promise<ReviewOutcome>;
}

export interface AuditAppender {
  append(draft: AuditDraft): Promise<unknown>;
}

/** The verdict a settled review stands for; `otherwise` for states that are not a verdict. */
function verdictOf(status: ReviewStatus, otherwise: ReviewVerdict): ReviewVerdict {
  return status === 'approved' || status === 'rejected' || status === 'expired' || status === 'cancelled' ? status : otherwise;
}

export function commandHash(command: string): string {
  return createHash('sha256').update(command, 'utf8').digest('hex');
}

export class StoreReviewHook implements ReviewHook {
  constructor(
    private readonly store: Store,
    private readonly audit: AuditAppender,
    private readonly options: { timeoutMs: number; pollMs?: number; notifier?: { notify(review: ReviewRecord, action: Action): void } },
  ) {}

  async hold(action: Action, decision: Decision, options: HoldOptions = {}): Promise<ReviewOutcome> {
    if (options.resume) return this.resume(action, options.resume, options);
    const now = new Date();
    const review: ReviewRecord = {
      id: newId('rv'),
      actionId: action.id,
      status: 'pending',
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + this.options.timeoutMs).toISOString(),
      commandHash: commandHash(action.command),
      action: serialiseAction(action),
      rule: decision.rule,
      reason: decision.reason,
    };
    await this.store.insertReview(review);
    await this.audit.append(reviewDraft(action, review.id, 'pending', {}));
    this.options.notifier?.notify(review, action);
    options.onPending?.(review);
    if (options.returnPending) return { reviewId: review.id, status: 'pending' };
    return this.wait(action, review, options);
  }

  /**
   * Picks up an earlier review of the same command: still pending, it is returned or waited
   * for; approved, it is used up (approved -> executed, so one approval runs once); any other
   * state is its verdict. A review of another principal, connection or command is refused.
   */
  private async resume(action: Action, id: string, options: HoldOptions): Promise<ReviewOutcome> {
    const held = await this.store.getReview(id);
    const heldAction = held?.action as { principal?: { name?: string; credentialId?: string }; connection?: { name?: string } } | undefined;
    if (
      !held ||
      held.commandHash !== commandHash(action.command) ||
      heldAction?.principal?.name !== action.principal.name ||
      heldAction.principal.credentialId !== action.principal.credentialId ||
      heldAction.connection?.name !== action.connection.name
    ) {
      return { reviewId: id, status: 'rejected', note: 'the review does not belong to this command' };
    }
    if (held.status === 'pending') {
      if (Date.now() >= Date.parse(held.expiresAt)) return this.close(action, id, 'expired', 'nobody decided in time');
      options.onPending?.(held);
      return options.returnPending ? { reviewId: id, status: 'pending' } : this.wait(action, held, options);
    }
    if (held.status === 'approved') {
      // An approval is for a call that comes back soon, not one made days later: it keeps for
      // as long as a held call would have waited for it.
      if (Date.now() >= Date.parse(held.decidedAt ?? held.createdAt) + this.options.timeoutMs) {
        await this.store.settleReview(id, { status: 'expired', decidedAt: new Date().toISOString(), note: 'the approval was not used in time' }, 'approved');
        return { reviewId: id, status: 'expired', note: 'the approval was not used in time; ask again' };
      }
      const won = await this.store.settleReview(id, { status: 'executed', decidedAt: new Date().toISOString() }, 'approved');
      if (!won) return { reviewId: id, status: 'rejected', note: 'this approval was already used' };
      return { reviewId: id, status: 'approved', ...(held.decidedBy ? { by: held.decidedBy } : {}), ...(held.note ? { note: held.note } : {}) };
    }
    if (held.status === 'executed') return { reviewId: id, status: 'rejected', note: 'this approval was already used' };
    return { reviewId: id, status: verdictOf(held.status, 'rejected'), ...(held.decidedBy ? { by: held.decidedBy } : {}), ...(held.note ? { note: held.note } : {}) };
  }

  private async wait(action: Action, review: ReviewRecord, options: HoldOptions): Promise<ReviewOutcome> {
    const pollMs = this.options.pollMs ?? 200;
    for (;;) {
      if (options.signal?.aborted) return this.close(action, review.id, 'cancelled', 'the caller went away');
      if (Date.now() >= Date.parse(review.expiresAt)) return this.close(action, review.id, 'expired', 'nobody decided in time');
      const current = await this.store.getReview(review.id);
      if (!current) throw new Error(`review ${review.id} disappeared from the store`);
      if (current.status !== 'pending') return this.verdict(action, review, current);
      await sleep(Math.min(pollMs, Math.max(1, Date.parse(review.expiresAt) - Date.now())), undefined, {
        signal: options.signal,
      }).catch(() => undefined);
    }
  }

  private verdict(action: Action, held: ReviewRecord, current: ReviewRecord): ReviewOutcome {
    // What runs is exactly what was approved: the record's hash must still match the command.
    if (current.commandHash !== held.commandHash || current.commandHash !== commandHash(action.command)) {
      return { reviewId: held.id, status: 'rejected', note: 'the approved command does not match the held command' };
    }
    const status = verdictOf(current.status, 'cancelled');
    return { reviewId: held.id, status, ...(current.decidedBy ? { by: current.decidedBy } : {}), ...(current.note ? { note: current.note } : {}) };
  }

  private async close(action: Action, id: string, status: 'expired' | 'cancelled', note: string): Promise<ReviewOutcome> {
    const won = await this.store.settleReview(id, { status, decidedAt: new Date().toISOString(), note });
    if (!won) {
      // Someone decided in the same instant; their verdict stands.
      const current = await this.store.getReview(id);
      if (current && current.status !== 'pending') {
        return { reviewId: id, status: verdictOf(current.status, status), ...(current.decidedBy ? { by: current.decidedBy } : {}) };
      }
    }
    await this.audit.append(reviewDraft(action, id, status, { note }));
    return { reviewId: id, status, note };
  }
}

/** Approves or rejects a pending review; used by the CLI and the API. */
/** Who is deciding, as the API knows them. */
export interface Approver {
  name: string;
  kind: 'human' | 'agent' | 'service';
  groups: readonly string[];
}

/**
 * Why `approver` may not decide `review`, or undefined when they may: only humans in one of
 * `approverGroups` decide, and never on a request they made or that an agent made for them.
 */
export function approverRefusal(review: ReviewRecord, approver: Approver, approverGroups: readonly string[]): ReviewError | undefined {
  const requester = review.action as { principal?: { name?: string; onBehalfOf?: string } };
  if (approver.kind !== 'human') return new ReviewError('not_approver', `only humans decide reviews; ${approver.name} is ${approver.kind === 'agent' ? 'an agent' : 'a service'}`);
  if (approver.name === requester.principal?.name || approver.name === requester.principal?.onBehalfOf) {
    return new ReviewError('self_approval', `${approver.name} cannot decide review ${review.id}: it holds a command of theirs${approver.name === requester.principal?.onBehalfOf ? ' (made by an agent acting for them)' : ''}`);
  }
  if (!approver.groups.some((g) => approverGroups.includes(g))) {
    return new ReviewError('not_approver', `${approver.name} is not in an approver group (approvals.approvers: ${approverGroups.join(', ')})`);
  }
  return undefined;
}

export async function decideReview(
  store: Store,
  audit: AuditAppender,
  id: string,
  verdict: 'approved' | 'rejected',
  by: string,
  note?: string,
): Promise<ReviewRecord> {
  const review = await store.getReview(id);
  if (!review) throw new ReviewError('not_found', `no review with id ${id}`);
  if (review.status !== 'pending') throw new ReviewError('not_pending', `review ${id} is already ${review.status}`);
  if (Date.parse(review.expiresAt) <= Date.now()) throw new ReviewError('expired', `review ${id} expired at ${review.expiresAt}`);
  const decidedAt = new Date().toISOString();
  const won = await store.settleReview(id, { status: verdict, decidedAt, decidedBy: by, ...(note ? { note } : {}) });
  if (!won) {
    const now = await store.getReview(id);
    throw new ReviewError('not_pending', `review ${id} is already ${now?.status ?? 'gone'}`);
  }
  const action = review.action as { principal?: { name?: string }; session?: string; connection?: { name?: string } };
  await audit.append({
    kind: 'review',
    actionId: review.actionId,
    ...(action.session ? { session: action.session } : {}),
    ...(action.principal?.name ? { principal: action.principal.name } : {}),
    ...(action.connection?.name ? { connection: action.connection.name } : {}),
    approver: by,
    detail: { reviewId: id, status: verdict, ...(note ? { note } : {}) },
  });
  return { ...review, status: verdict, decidedAt, decidedBy: by, ...(note ? { note } : {}) };
}

export class ReviewError extends Error {
  constructor(
    readonly code: 'not_found' | 'not_pending' | 'expired' | 'self_approval' | 'not_approver',
    message: string,
  ) {
    super(message);
    this.name = 'ReviewError';
  }
}

function reviewDraft(action: Action, reviewId: string, status: ReviewStatus, extra: { note?: string }): AuditDraft {
  return {
    kind: 'review',
    actionId: action.id,
    session: action.session,
    principal: action.principal.name,
    connection: action.connection.name,
    detail: { reviewId, status, ...(extra.note ? { note: extra.note } : {}) },
  };
}

export function serialiseAction(action: Action): Record<string, unknown> {
  return {
    id: action.id,
    time: action.time.toISOString(),
    principal: action.principal,
    session: action.session,
    connection: action.connection,
    door: action.door,
    command: action.command,
    intent: { class: action.intent.class, classes: action.intent.classes, flags: action.intent.flags, objects: action.intent.objects },
    ...(action.args ? { args: action.args } : {}),
  };
}
