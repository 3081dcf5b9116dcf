// POST /v1/reveal: a human asks to see the value behind a placeholder. The policy decides
// (intent class `reveal`, door `api`); a review holds the request until an approver decides,
// like POST /v1/actions (103 Early Hints carry the review id). See masking/vault-reveal.ts.
import type { ServerResponse } from 'node:http';
import type { Runtime } from '../app/runtime.js';
import type { Principal } from '../gate/types.js';
import { reveal, RevealError } from '../masking/vault-reveal.js';
import { log } from '../util/log.js';
import { send } from './api.js';

const FIELDS = new Set(['placeholder', 'scope']);

export async function handleReveal(runtime: Runtime, principal: Principal, body: unknown, res: ServerResponse): Promise<void> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return send(res, 400, error('invalid_request', 'the body must be a JSON object {"placeholder": ..., "scope": ...}'));
  const unknown = Object.keys(body).filter((key) => !FIELDS.has(key));
  if (unknown.length > 0) return send(res, 400, error('invalid_request', `invalid request body: unknown field(s): ${unknown.join(', ')}`));
  const { placeholder, scope } = body as { placeholder?: unknown; scope?: unknown };
  const abort = new AbortController();
  // A caller that disconnects withdraws its held reveal.
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  let result;
  try {
    result = await reveal(
      { gate: runtime.gate, audit: runtime.ledger, vault: runtime.vault },
      { principal, placeholder: placeholder as string, scope: scope as string },
      {
        signal: abort.signal,
        onHold: (review) => {
          log.info({ review: review.id, principal: principal.name }, 'reveal held for review');
          res.writeEarlyHints({ 'x-sluice-review': review.id });
        },
      },
    );
  } catch (caught) {
    if (caught instanceof RevealError) return send(res, 400, error('invalid_request', `invalid request body: ${caught.message}`));
    throw caught;
  }
  if (abort.signal.aborted) return;
  const review = 'review' in result && result.review ? { review: { id: result.review.reviewId, status: result.review.status, ...(result.review.by ? { by: result.review.by } : {}) } } : {};
  switch (result.status) {
    case 'revealed':
      return send(res, 200, { action_id: result.actionId, placeholder: result.placeholder, scope: result.scope, type: result.type, value: result.value, ...review });
    case 'denied':
      return send(res, 403, { ...error('denied', `denied by rule ${result.decision.rule}: ${result.decision.reason}`, { rule: result.decision.rule }), action_id: result.actionId });
    case 'rejected':
    case 'expired':
    case 'cancelled':
      return send(res, 403, { ...error(`review_${result.status}`, `review ${result.review.reviewId} ${result.status}${result.review.by ? ` by ${result.review.by}` : ''}: the value was not revealed`), action_id: result.actionId, ...review });
    case 'failed': {
      const status = result.code === 'not_found' ? 404 : result.code === 'no_vault' ? 409 : result.code === 'unavailable' ? 503 : 500;
      return send(res, status, { ...error(result.code === 'unavailable' ? 'vault_unavailable' : result.code, result.message), action_id: result.actionId, ...review });
    }
  }
}

function error(code: string, message: string, extra: Record<string, unknown> = {}): { error: Record<string, unknown> } {
  return { error: { code, message, ...extra } };
}
