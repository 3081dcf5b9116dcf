// Holding a command for review. A `review` decision first looks for an active grant that
// covers the command (approvals/grants.ts); failing that it creates a pending record in the
// store and the caller waits until enough humans approve it (the rule's quorum) or one rejects
// it (`sluice reviews approve ID`, the API, from any node sharing the store), until it expires,
// or until the caller goes away. A node holding callers renews a heartbeat on their reviews;
// every node cancels reviews whose holder stopped renewing. Votes are written to the audit
// ledger before they count.
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { canonicalJson } from '../audit/canonical.js';
import type { AuditDraft } from '../audit/record.js';
import type { Action, Decision } from '../gate/types.js';
import type { GrantRecord, GrantScope, ReviewRecord, ReviewRequirements, ReviewStatus, ReviewVote, Store } from '../store/store.js';
import { log } from '../util/log.js';
import { newId } from '../util/ids.js';
import { approvalsExtraDefaults, defaultRequirements, requirementsFor, type ApprovalSettings } from './config.js';
import { grantCovers, patternOf } from './grants.js';

export type ReviewVerdict = 'approved' | 'rejected' | 'expired' | 'cancelled';

export interface ReviewOutcome {
  reviewId: string;
  /** `pending` only when the hold was asked to return at once (`returnPending`). */
  status: ReviewVerdict | 'pending';
  by?: string;
  note?: string;
  /** Set when an earlier grant let the command through without a new review. */
  grantId?: string;
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

export interface ReviewHookOptions {
  /** How long a request waits when no settings say otherwise. */
  timeoutMs: number;
  /** How often a waiting caller re-reads its review (a safety net beside store notifications). */
  pollMs?: number;
  notifier?: { notify(review: ReviewRecord, action: Action): void };
  /** The approvals section in force (read at each hold, so reloads apply to new reviews). */
  settings?: () => ApprovalSettings;
  /**
   * This node's id. With it, reviews whose caller waits here carry it as holder and get a
   * heartbeat, and this node cancels other holders' reviews whose heartbeat went stale.
   */
  node?: string;
}

export class StoreReviewHook implements ReviewHook {
  private readonly waiters = new Map<string, Set<() => void>>();
  private unwatch: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private held = 0;
  private ticking = false;
  private closed = false;
  /** Review ids this node was told about by the store (newest last, bounded): shows wake-ups work. */
  private readonly heard: string[] = [];

  constructor(
    private readonly store: Store,
    private readonly audit: AuditAppender,
    private readonly options: ReviewHookOptions,
  ) {}

  private settings(): ApprovalSettings {
    return this.options.settings?.() ?? { timeout: this.options.timeoutMs, approvers: ['admin'], rules: {}, ...approvalsExtraDefaults };
  }

  /** Starts the heartbeat and the sweep of abandoned reviews (a node calls this at start). */
  start(): void {
    if (this.closed || this.timer || !this.options.node) return;
    const every = Math.max(50, Math.floor(this.settings().lease / 6));
    this.timer = setInterval(() => void this.tick(), every);
    this.timer.unref();
    void this.tick();
  }

  /** Stops the timers and the store subscription. Held callers keep their own abort signals. */
  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unwatch?.();
    this.unwatch = undefined;
  }

  /** Whether the store told this node that review `id` was settled (tests of cross-node wake-ups). */
  heardOf(id: string): boolean {
    return this.heard.includes(id);
  }

  async hold(action: Action, decision: Decision, options: HoldOptions = {}): Promise<ReviewOutcome> {
    const { requirements, timeoutMs } = requirementsFor(this.settings(), decision.rule, action);
    if (options.resume) return this.resume(action, options.resume, options, timeoutMs);
    const granted = await this.grantFor(action, decision, requirements);
    if (granted) return granted;
    if (options.returnPending) {
      // A caller that could not wait calls again; after a restart the door has forgotten the
      // review id, so find the same command's open review in the store.
      const earlier = await this.earlierReview(action);
      if (earlier) return this.resume(action, earlier.id, options, timeoutMs);
    }
    const now = new Date();
    const holder = !options.returnPending && this.options.node ? this.options.node : undefined;
    const review: ReviewRecord = {
      id: newId('rv'),
      actionId: action.id,
      status: 'pending',
      createdAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + timeoutMs).toISOString(),
      commandHash: commandHash(action.command),
      action: serialiseAction(action),
      rule: decision.rule,
      reason: decision.reason,
      requirements,
      ...(holder ? { holder, heartbeatAt: now.toISOString() } : {}),
    };
    await this.store.insertReview(review);
    await this.audit.append(
      reviewDraft(action, review.id, 'pending', {
        extra: { approvers: requirements.approvers, quorum: requirements.quorum, expiresAt: review.expiresAt, ...(holder ? { holder } : {}) },
      }),
    );
    this.options.notifier?.notify(review, action);
    options.onPending?.(review);
    if (options.returnPending) return { reviewId: review.id, status: 'pending' };
    return this.wait(action, review, options);
  }

  /**
   * An active grant that covers this command: its use is counted and audited (with the grant
   * id) before the command may run; if the use cannot be recorded the command does not run.
   */
  private async grantFor(action: Action, decision: Decision, requirements: ReviewRequirements): Promise<ReviewOutcome | undefined> {
    const scopes = requirements.grants.filter((s) => s !== 'once');
    if (scopes.length === 0) return undefined;
    const now = new Date().toISOString();
    const grants = await this.store.listGrants({ activeAt: now, principal: action.principal.name, connection: action.connection.name, rule: decision.rule });
    for (const grant of grants) {
      if (!scopes.includes(grant.scope) || !grantCovers(grant, action, decision.rule)) continue;
      if (!(await this.store.useGrant(grant.id, now))) continue; // revoked or expired meanwhile
      await this.audit.append({
        kind: 'review',
        actionId: action.id,
        session: action.session,
        principal: action.principal.name,
        connection: action.connection.name,
        approver: grant.grantedBy.join(', '),
        detail: { event: 'grant-used', grantId: grant.id, reviewId: grant.reviewId, scope: grant.scope, expiresAt: grant.expiresAt },
      });
      return { reviewId: grant.reviewId, status: 'approved', by: grant.grantedBy.join(', '), grantId: grant.id, note: `covered by grant ${grant.id} (${grant.scope}, until ${grant.expiresAt})` };
    }
    return undefined;
  }

  /** An open return-pending review of the very same call (principal, key, connection, command, arguments). */
  private async earlierReview(action: Action): Promise<ReviewRecord | undefined> {
    const hash = commandHash(action.command);
    const args = action.args ? canonicalJson(action.args) : undefined;
    for (const review of await this.store.findReviews(hash)) {
      if (review.holder) continue;
      const held = review.action as { principal?: { name?: string; credentialId?: string }; connection?: { name?: string }; args?: unknown };
      if (
        held.principal?.name === action.principal.name &&
        held.principal.credentialId === action.principal.credentialId &&
        held.connection?.name === action.connection.name &&
        (held.args === undefined ? undefined : canonicalJson(held.args)) === args
      ) {
        return review;
      }
    }
    return undefined;
  }

  /**
   * Picks up an earlier review of the same command: still pending, it is returned or waited
   * for; approved, it is used up (approved -> executed, so one approval runs once); any other
   * state is its verdict. A review of another principal, connection or command is refused.
   */
  private async resume(action: Action, id: string, options: HoldOptions, timeoutMs: number): Promise<ReviewOutcome> {
    const held = await this.store.getReview(id);
    const heldAction = held?.action as { principal?: { name?: string; credentialId?: string }; connection?: { name?: string }; args?: unknown } | undefined;
    if (
      !held ||
      held.commandHash !== commandHash(action.command) ||
      heldAction?.principal?.name !== action.principal.name ||
      heldAction.principal.credentialId !== action.principal.credentialId ||
      heldAction.connection?.name !== action.connection.name ||
      // A tool call's command is its name: what was approved includes the arguments.
      (heldAction.args === undefined ? undefined : canonicalJson(heldAction.args)) !== (action.args ? canonicalJson(action.args) : undefined)
    ) {
      return { reviewId: id, status: 'rejected', note: 'the review does not belong to this command' };
    }
    if (held.status === 'pending') {
      if (Date.now() >= Date.parse(held.expiresAt)) return this.finish(action, id, 'expired', 'nobody decided in time');
      options.onPending?.(held);
      return options.returnPending ? { reviewId: id, status: 'pending' } : this.wait(action, held, options);
    }
    if (held.status === 'approved') {
      // An approval is for a call that comes back soon, not one made days later: it keeps for
      // as long as a held call would have waited for it.
      if (Date.now() >= Date.parse(held.decidedAt ?? held.createdAt) + timeoutMs) {
        const note = 'the approval was not used in time';
        if (await this.store.settleReview(id, { status: 'expired', decidedAt: new Date().toISOString(), note }, 'approved')) {
          await this.audit.append(reviewDraft(action, id, 'expired', { note }));
        }
        return { reviewId: id, status: 'expired', note: `${note}; ask again` };
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
    this.watch();
    if (review.holder) {
      this.held++;
      this.start();
    }
    try {
      for (;;) {
        if (options.signal?.aborted) return await this.finish(action, review.id, 'cancelled', 'the caller went away');
        if (Date.now() >= Date.parse(review.expiresAt)) return await this.finish(action, review.id, 'expired', 'nobody decided in time');
        const current = await this.store.getReview(review.id);
        if (!current) throw new Error(`review ${review.id} disappeared from the store`);
        if (current.status !== 'pending') return this.verdict(action, review, current);
        await this.nap(review.id, Math.min(pollMs, Math.max(1, Date.parse(review.expiresAt) - Date.now())), options.signal);
      }
    } finally {
      if (review.holder) this.held--;
    }
  }

  /** Sleeps until `ms` pass, the store says the review was settled, or the caller goes away. */
  private async nap(id: string, ms: number, signal: AbortSignal | undefined): Promise<void> {
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let set = this.waiters.get(id);
    if (!set) this.waiters.set(id, (set = new Set()));
    set.add(onAbort);
    try {
      await sleep(ms, undefined, { signal: stop.signal }).catch(() => undefined);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      set.delete(onAbort);
      if (set.size === 0) this.waiters.delete(id);
    }
  }

  private watch(): void {
    if (this.unwatch || this.closed) return;
    this.unwatch = this.store.watchReviews((id) => {
      if (id !== '*') {
        this.heard.push(id);
        if (this.heard.length > 1000) this.heard.shift();
      }
      const targets = id === '*' ? [...this.waiters.values()] : [this.waiters.get(id)];
      for (const set of targets) for (const wake of set ?? []) wake();
    });
  }

  /** Renews the heartbeat of reviews held here and cancels those whose holder went quiet. */
  private async tick(): Promise<void> {
    if (this.ticking || this.closed || !this.options.node) return;
    this.ticking = true;
    try {
      const now = new Date();
      if (this.held > 0) await this.store.heartbeatReviews(this.options.node, now.toISOString());
      const staleBefore = new Date(now.getTime() - this.settings().lease).toISOString();
      const gone = await this.store.cancelAbandonedReviews(staleBefore, now.toISOString(), 'the caller went away (its node stopped renewing the hold)');
      for (const review of gone) {
        const held = review.action as { id?: string; session?: string; principal?: { name?: string }; connection?: { name?: string } };
        // Each on its own: the store has cancelled them all already, so one failure must not
        // leave the rest unrecorded.
        await this.audit
          .append({
            kind: 'review',
            actionId: review.actionId,
            ...(held.session ? { session: held.session } : {}),
            ...(held.principal?.name ? { principal: held.principal.name } : {}),
            ...(held.connection?.name ? { connection: held.connection.name } : {}),
            detail: { reviewId: review.id, status: 'cancelled', note: review.note ?? 'the caller went away', holder: review.holder ?? null, by: this.options.node },
          })
          .catch((error: unknown) => log.error({ err: error, review: review.id }, 'a cancelled review could not be recorded in the audit ledger'));
      }
    } catch (error) {
      log.warn({ err: error }, 'review heartbeat or sweep failed; trying again');
    } finally {
      this.ticking = false;
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

  private async finish(action: Action, id: string, status: 'expired' | 'cancelled', note: string): Promise<ReviewOutcome> {
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
  if (approver.kind !== 'human') return new ReviewError('not_approver', `only humans decide reviews; ${approver.name} is ${approver.kind === 'agent' ? 'an agent' : 'a service'}`);
  const self = selfRefusal(review, approver.name);
  if (self) return self;
  if (!approver.groups.some((g) => approverGroups.includes(g))) {
    return new ReviewError('not_approver', `${approver.name} is not in an approver group for this review (${approverGroups.join(', ')})`);
  }
  return undefined;
}

function selfRefusal(review: ReviewRecord, name: string): ReviewError | undefined {
  const requester = review.action as { principal?: { name?: string; onBehalfOf?: string } };
  if (name === requester.principal?.name || name === requester.principal?.onBehalfOf) {
    return new ReviewError('self_approval', `${name} cannot decide review ${review.id}: it holds a command of theirs${name === requester.principal?.onBehalfOf ? ' (made by an agent acting for them)' : ''}`);
  }
  return undefined;
}

export interface DecideOptions {
  /** Why; required when the review's rule asks for a justification. */
  note?: string;
  /** With an approval: let later commands like this one through (default: this command once). */
  grant?: { scope: GrantScope; durationMs?: number };
  /** Grant lifetime when `grant.durationMs` is not given (approvals.grants.default). */
  grantDefaultMs?: number;
  /** Approver groups for reviews opened before store version 4 (approvals.approvers). */
  approvers?: readonly string[];
  /** How the approver reached Sluice, for the audit record (`api`, `cli`...). */
  via?: string;
}

/** A decided vote: the review as it now stands, the votes so far and any grant made. */
export interface DecidedReview extends ReviewRecord {
  approvals: number;
  quorum: number;
  grant?: GrantRecord;
}

/**
 * Casts a vote on a pending review; used by the CLI and the API. With an Approver the rule's
 * approver groups apply; a plain name is an already-checked caller (tests, internal). The
 * requester and the human an agent acts for can never vote. The vote (and the verdict and
 * grant it brings) is written to the audit ledger first: if that fails, the vote does not count.
 * Concurrent votes are compare-and-set on the vote count, so exactly one reaches the quorum.
 */
export async function decideReview(
  store: Store,
  audit: AuditAppender,
  id: string,
  verdict: 'approved' | 'rejected',
  by: string | Approver,
  noteOrOptions?: string | DecideOptions,
): Promise<DecidedReview> {
  const options: DecideOptions = typeof noteOrOptions === 'string' ? { note: noteOrOptions } : (noteOrOptions ?? {});
  const name = typeof by === 'string' ? by : by.name;
  const note = options.note?.trim() ? options.note.trim() : undefined;
  for (let attempt = 0; ; attempt++) {
    const review = await store.getReview(id);
    if (!review) throw new ReviewError('not_found', `no review with id ${id}`);
    if (review.status !== 'pending') throw new ReviewError('not_pending', `review ${id} is already ${review.status}`);
    if (Date.parse(review.expiresAt) <= Date.now()) throw new ReviewError('expired', `review ${id} expired at ${review.expiresAt}`);
    const req = review.requirements ?? defaultRequirements(options.approvers ?? []);
    const refused = typeof by === 'string' ? selfRefusal(review, name) : approverRefusal(review, by, req.approvers);
    if (refused) throw refused;
    if (req.justification && !note) {
      throw new ReviewError('justification_required', `review ${id} needs a justification: say why with a note (--note "..." or {"note": "..."})`);
    }
    const wanted = verdict === 'approved' ? checkGrantRequest(review, req, options) : undefined;
    const votes = await store.listVotes(id);
    if (votes.some((v) => v.approver === name)) throw new ReviewError('already_voted', `${name} has already voted on review ${id}; another approver must add theirs`);
    const approvals = votes.filter((v) => v.verdict === 'approved');
    const settles = verdict === 'rejected' || approvals.length + 1 >= req.quorum;
    const now = new Date();
    const vote: ReviewVote = { reviewId: id, approver: name, verdict, at: now.toISOString(), ...(note ? { note } : {}), ...(wanted ? { grant: wanted } : {}) };
    const grant = settles && verdict === 'approved' ? grantOf(review, [...approvals, vote], now) : undefined;
    const count = verdict === 'approved' ? approvals.length + 1 : approvals.length;
    const held = review.action as { session?: string; principal?: { name?: string }; connection?: { name?: string } };
    const base: AuditDraft = {
      kind: 'review',
      actionId: review.actionId,
      ...(held.session ? { session: held.session } : {}),
      ...(held.principal?.name ? { principal: held.principal.name } : {}),
      ...(held.connection?.name ? { connection: held.connection.name } : {}),
      approver: name,
    };
    try {
      await audit.append({
        ...base,
        detail: {
          reviewId: id,
          event: 'vote',
          vote: verdict,
          status: settles ? verdict : 'pending',
          approvals: count,
          quorum: req.quorum,
          ...(note ? { note } : {}),
          ...(options.via ? { via: options.via } : {}),
          ...(grant ? { grant: { id: grant.id, scope: grant.scope, expiresAt: grant.expiresAt, ...(grant.pattern ? { pattern: grant.summary.pattern ?? grant.pattern } : {}) } } : {}),
        },
      });
    } catch (error) {
      throw new ReviewError('audit_unavailable', `the vote on review ${id} could not be written to the audit ledger, so it does not count; check the audit store and try again`, { cause: error });
    }
    const result = await store.castVote(
      vote,
      votes.length,
      settles ? { status: verdict, decidedAt: now.toISOString(), decidedBy: settledBy(verdict, approvals, name), ...(note ? { note } : {}) } : undefined,
      grant,
    );
    if (result === 'cast') {
      const after: DecidedReview = { ...review, approvals: count, quorum: req.quorum, ...(grant ? { grant } : {}) };
      if (settles) Object.assign(after, { status: verdict, decidedAt: now.toISOString(), decidedBy: settledBy(verdict, approvals, name), ...(note ? { note } : {}) });
      return after;
    }
    // The vote recorded above did not count: say so in the ledger, then decide again.
    await audit.append({ ...base, detail: { reviewId: id, event: 'vote-void', vote: verdict, reason: result } }).catch((error: unknown) =>
      log.error({ err: error }, 'could not record that a vote did not count'),
    );
    if (result === 'duplicate') throw new ReviewError('already_voted', `${name} has already voted on review ${id}`);
    if (result === 'not_pending' || attempt >= 10) {
      const now2 = await store.getReview(id);
      throw new ReviewError('not_pending', `review ${id} is already ${now2?.status ?? 'gone'}`);
    }
  }
}

/** Who settled a review: the rejecter, or every approver of the quorum. */
function settledBy(verdict: 'approved' | 'rejected', approvals: readonly ReviewVote[], name: string): string {
  return verdict === 'rejected' ? name : [...approvals.map((v) => v.approver), name].join(', ');
}

/** Checks the grant an approver asks for against the rule; undefined for "this command once". */
function checkGrantRequest(review: ReviewRecord, req: ReviewRequirements, options: DecideOptions): ReviewVote['grant'] | undefined {
  const asked = options.grant;
  if (!asked || asked.scope === 'once') return undefined;
  if (!req.grants.includes(asked.scope)) {
    throw new ReviewError(
      'grant_not_allowed',
      req.grants.length === 1
        ? `review ${review.id} can only be approved once (a destructive command, or the rule allows no grants)`
        : `rule ${review.rule} allows only these grants: ${req.grants.join(', ')}`,
    );
  }
  if (asked.scope === 'pattern') {
    const held = review.action as { command?: string; intent?: { class?: string; language?: string; flags?: string[]; parts?: unknown[]; objects?: { programs?: string[] } } };
    if (!patternOfStored(held)) throw new ReviewError('grant_not_allowed', `the command of review ${review.id} has no pattern Sluice can match safely; approve once or for the session`);
  }
  const durationMs = asked.durationMs ?? Math.min(options.grantDefaultMs ?? 30 * 60_000, req.maxGrantMs);
  if (!(durationMs > 0)) throw new ReviewError('grant_not_allowed', 'a grant needs a positive duration');
  if (durationMs > req.maxGrantMs) throw new ReviewError('grant_too_long', `a grant on rule ${review.rule} lasts at most ${Math.floor(req.maxGrantMs / 60_000)} minutes`);
  return { scope: asked.scope, durationMs };
}

/** The pattern of a stored (serialised) action. */
function patternOfStored(held: { command?: string; intent?: unknown }): { key: string; display: string } | undefined {
  const intent = held.intent as (Omit<Action['intent'], 'parts'> & { parts?: unknown }) | undefined;
  if (typeof held.command !== 'string' || !intent) return undefined;
  // The stored request keeps the number of parts only.
  const parts = Array.from({ length: typeof intent.parts === 'number' ? intent.parts : 0 }) as Action['intent']['parts'];
  return patternOf({ command: held.command, intent: { ...intent, parts } });
}

/**
 * The grant a quorum agrees to: only when every approving vote asked for a grant of the same
 * scope, for the shortest duration any of them gave. Anything else is "this command once".
 */
function grantOf(review: ReviewRecord, approvals: readonly ReviewVote[], now: Date): GrantRecord | undefined {
  const asks = approvals.map((v) => v.grant);
  const first = asks[0];
  if (!first || asks.some((g) => !g || g.scope !== first.scope)) return undefined;
  const scope = first.scope;
  if (scope === 'once') return undefined;
  const durationMs = Math.min(...asks.map((g) => g!.durationMs));
  const held = review.action as { principal?: { name?: string }; connection?: { name?: string }; session?: string; command?: string; intent?: unknown };
  const pattern = scope === 'pattern' ? patternOfStored(held) : undefined;
  if (!held.principal?.name || !held.connection?.name || (scope === 'pattern' && !pattern) || (scope === 'session' && !held.session)) return undefined;
  const intent = held.intent as { class?: string; flags?: string[] } | undefined;
  return {
    id: newId('gr'),
    reviewId: review.id,
    scope,
    rule: review.rule,
    principal: held.principal.name,
    connection: held.connection.name,
    ...(scope === 'session' ? { session: held.session! } : { pattern: pattern!.key }),
    summary: { command: held.command ?? '', class: intent?.class ?? 'unknown', flags: intent?.flags ?? [], ...(pattern ? { pattern: pattern.display } : {}) },
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + durationMs).toISOString(),
    grantedBy: approvals.map((v) => v.approver),
    uses: 0,
  };
}

export type ReviewErrorCode =
  | 'not_found'
  | 'not_pending'
  | 'expired'
  | 'self_approval'
  | 'not_approver'
  | 'justification_required'
  | 'already_voted'
  | 'grant_not_allowed'
  | 'grant_too_long'
  | 'audit_unavailable';

export class ReviewError extends Error {
  constructor(
    readonly code: ReviewErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ReviewError';
  }
}

function reviewDraft(action: Action, reviewId: string, status: ReviewStatus, extra: { note?: string; extra?: Record<string, unknown> }): AuditDraft {
  return {
    kind: 'review',
    actionId: action.id,
    session: action.session,
    principal: action.principal.name,
    connection: action.connection.name,
    detail: { reviewId, status, ...(extra.note ? { note: extra.note } : {}), ...extra.extra },
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
    intent: {
      language: action.intent.language,
      class: action.intent.class,
      classes: action.intent.classes,
      flags: action.intent.flags,
      objects: action.intent.objects,
      // Kept so that a pattern grant can be derived from the stored request (approvals/grants.ts).
      parts: action.intent.parts.length,
      ...(action.intent.error ? { error: action.intent.error } : {}),
    },
    ...(action.args ? { args: action.args } : {}),
  };
}
