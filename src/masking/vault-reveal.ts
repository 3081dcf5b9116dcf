// Revealing the value behind a placeholder to a human (`POST /v1/reveal`, `sluice reveal`).
// It is an action like a command: door `api`, intent class `reveal`, decided by the policy
// (deny, allow, or review: held until an approver decides), and audited with kind `reveal`
// before and after. The records name the placeholder and scope, never the value; the value is
// handed out only once the outcome record is stored.
import type { AuditDraft } from '../audit/record.js';
import type { AuditAppender, ReviewOutcome } from '../approvals/reviews.js';
import { GateError, type Gate } from '../gate/gate.js';
import type { Action, Decision, Principal } from '../gate/types.js';
import type { ReviewRecord } from '../store/store.js';
import { newId, newUuid } from '../util/ids.js';
import { PLACEHOLDER_PATTERN } from './placeholder.js';
import { VaultError, type PlaceholderVault } from './vault.js';

/** The pseudo-connection reveal actions name (rules select them by `intent.class == "reveal"`). */
export const REVEAL_CONNECTION = 'vault';
/** Decides a reveal asked for by anybody but a human. */
export const REVEAL_HUMANS_ONLY_RULE = 'reveal-humans-only';

const WHOLE_PLACEHOLDER = new RegExp(`^${PLACEHOLDER_PATTERN.source}$`);
const SCOPE = /^(?:global|session:[\x21-\x7e]{1,200}|agent:[\x21-\x7e]{1,200})$/;

export interface RevealRequest {
  principal: Principal;
  placeholder: string;
  /** `session:ID`, `agent:NAME` or `global`: where the placeholder was handed out. */
  scope: string;
}

export type RevealResult =
  | { status: 'revealed'; actionId: string; placeholder: string; scope: string; type: string; value: string; review?: ReviewOutcome }
  | { status: 'denied'; actionId: string; decision: Decision }
  | { status: 'rejected' | 'expired' | 'cancelled'; actionId: string; decision: Decision; review: ReviewOutcome }
  | { status: 'failed'; actionId: string; code: 'no_vault' | 'not_found' | VaultError['code']; message: string };

export class RevealError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RevealError';
  }
}

export interface RevealDependencies {
  gate: Pick<Gate, 'decide' | 'reviews'>;
  audit: AuditAppender;
  vault: PlaceholderVault | undefined;
}

/** The type a placeholder names, in lower case (`SLUICE_EMAIL_...` -> `email`). */
export function placeholderType(placeholder: string): string {
  return placeholder.slice('SLUICE_'.length, placeholder.length - 15).toLowerCase();
}

/** The Action a reveal is decided as. */
export function revealAction(request: RevealRequest): Action {
  const objects = { tables: [], programs: [], paths: [], hosts: [], functions: [] };
  return {
    id: newUuid(),
    time: new Date(),
    principal: request.principal,
    // Each reveal is its own session: an approval granted for a session never covers another value.
    session: newId('rvl'),
    connection: { name: REVEAL_CONNECTION, kind: 'vault', labels: {} },
    door: 'api',
    command: `reveal ${request.placeholder} in ${request.scope}`,
    intent: { language: 'reveal', class: 'reveal', classes: ['reveal'], objects, flags: [], parts: [{ class: 'reveal', kind: 'REVEAL', objects, flags: [] }] },
    args: { placeholder: request.placeholder, scope: request.scope, type: placeholderType(request.placeholder) },
  };
}

/**
 * Decides, holds when the policy says review, and looks the value up. Throws RevealError for
 * a malformed request and GateError when an audit record cannot be stored (before: nothing
 * is looked up; after: the value is withheld).
 */
export async function reveal(
  deps: RevealDependencies,
  request: RevealRequest,
  options: { signal?: AbortSignal; onHold?: (review: ReviewRecord) => void } = {},
): Promise<RevealResult> {
  if (typeof request.placeholder !== 'string' || !WHOLE_PLACEHOLDER.test(request.placeholder)) {
    throw new RevealError('placeholder must be one whole placeholder, such as SLUICE_EMAIL_kqbvtnmdrcfgph');
  }
  if (typeof request.scope !== 'string' || !SCOPE.test(request.scope)) {
    throw new RevealError('scope must be session:ID, agent:NAME or global (where the placeholder was handed out)');
  }
  const action = revealAction(request);
  const decision: Decision =
    request.principal.kind === 'human'
      ? deps.gate.decide(action)
      : { effect: 'deny', rule: REVEAL_HUMANS_ONLY_RULE, reason: `only a human may reveal a masked value; ${request.principal.name} is ${request.principal.kind === 'agent' ? 'an agent' : 'a service'}`, matched: [] };
  await record(deps.audit, draft(action, decision, { event: 'decision', reason: decision.reason }), 'audit_unavailable');
  if (decision.effect === 'deny') return { status: 'denied', actionId: action.id, decision };

  let review: ReviewOutcome | undefined;
  if (decision.effect === 'review') {
    review = await deps.gate.reviews.hold(action, decision, {
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onHold ? { onPending: options.onHold } : {}),
    });
    if (review.status !== 'approved') {
      const status = review.status === 'pending' ? 'cancelled' : review.status;
      await record(deps.audit, draft(action, decision, { event: 'outcome', outcome: status, review }), 'audit_unavailable');
      return { status, actionId: action.id, decision, review };
    }
  }

  const failed = async (code: Extract<RevealResult, { status: 'failed' }>['code'], message: string): Promise<RevealResult> => {
    await record(deps.audit, draft(action, decision, { event: 'outcome', outcome: 'failed', error: code, ...(review ? { review } : {}) }), 'audit_unavailable');
    return { status: 'failed', actionId: action.id, code, message };
  };
  if (!deps.vault) return failed('no_vault', 'no placeholder vault is configured (masking.vault.key or SLUICE_VAULT_KEY), so placeholders are one-way');
  let found;
  try {
    found = (await deps.vault.lookup([request.placeholder], [request.scope])).get(request.placeholder);
  } catch (error) {
    if (error instanceof VaultError) return failed(error.code, error.message);
    throw error;
  }
  if (!found) return failed('not_found', `${request.placeholder} is not in the vault for ${request.scope}: it expired, was never stored, or belongs to another scope`);
  // The value leaves only once its reveal is on record.
  await record(deps.audit, draft(action, decision, { event: 'outcome', outcome: 'succeeded', ...(review ? { review } : {}) }), 'outcome_unrecorded');
  return { status: 'revealed', actionId: action.id, placeholder: found.placeholder, scope: found.scope, type: found.type, value: found.value, ...(review ? { review } : {}) };
}

function draft(
  action: Action,
  decision: Decision,
  facts: { event: 'decision' | 'outcome'; reason?: string; outcome?: 'succeeded' | 'failed' | 'rejected' | 'expired' | 'cancelled'; error?: string; review?: ReviewOutcome },
): AuditDraft {
  const args = action.args as { placeholder: string; scope: string; type: string };
  return {
    kind: 'reveal',
    actionId: action.id,
    session: action.session,
    principal: action.principal.name,
    ...(action.principal.onBehalfOf ? { onBehalfOf: action.principal.onBehalfOf } : {}),
    connection: action.connection.name,
    door: action.door,
    ...(facts.event === 'decision' ? { command: action.command, intent: { class: 'reveal' } } : {}),
    rule: decision.rule,
    effect: decision.effect,
    ...(facts.reason ? { reason: facts.reason } : {}),
    ...(facts.outcome ? { outcome: facts.outcome } : {}),
    ...(facts.review?.by ? { approver: facts.review.by } : {}),
    detail: {
      event: facts.event,
      placeholder: args.placeholder,
      scope: args.scope,
      type: args.type,
      principalKind: action.principal.kind,
      ...(facts.review ? { reviewId: facts.review.reviewId } : {}),
      ...(facts.error ? { error: facts.error } : {}),
    },
  };
}

async function record(audit: AuditAppender, entry: AuditDraft, code: 'audit_unavailable' | 'outcome_unrecorded'): Promise<void> {
  try {
    await audit.append(entry);
  } catch (error) {
    throw new GateError(
      code,
      code === 'audit_unavailable' ? 'the audit store cannot be written, so nothing is revealed; check the store and try again' : 'the reveal could not be recorded, so the value is withheld; check the audit store and try again',
      { cause: error },
    );
  }
}
