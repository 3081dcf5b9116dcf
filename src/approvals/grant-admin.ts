// Ending a grant before its time. The revocation is written to the audit ledger first; if that
// fails the grant stays as it was, so the ledger never lacks a revocation that happened.
import type { GrantRecord, Store } from '../store/store.js';
import type { AuditAppender } from './reviews.js';

export class GrantError extends Error {
  constructor(
    readonly code: 'not_found' | 'not_active' | 'audit_unavailable',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'GrantError';
  }
}

export async function revokeGrant(store: Store, audit: AuditAppender, id: string, by: string, options: { via?: string; note?: string } = {}): Promise<GrantRecord> {
  const grant = await store.getGrant(id);
  if (!grant) throw new GrantError('not_found', `no grant with id ${id}`);
  if (grant.revokedAt) throw new GrantError('not_active', `grant ${id} was already revoked at ${grant.revokedAt} by ${grant.revokedBy ?? 'unknown'}`);
  const now = new Date().toISOString();
  try {
    await audit.append({
      kind: 'review',
      principal: grant.principal,
      connection: grant.connection,
      ...(grant.session ? { session: grant.session } : {}),
      approver: by,
      detail: {
        event: 'grant-revoked',
        grantId: id,
        reviewId: grant.reviewId,
        scope: grant.scope,
        uses: grant.uses,
        ...(options.via ? { via: options.via } : {}),
        ...(options.note ? { note: options.note } : {}),
      },
    });
  } catch (error) {
    throw new GrantError('audit_unavailable', `the revocation of grant ${id} could not be written to the audit ledger, so the grant stays; check the audit store and try again`, { cause: error });
  }
  if (!(await store.revokeGrant(id, now, by))) {
    const again = await store.getGrant(id);
    throw new GrantError('not_active', `grant ${id} was already revoked${again?.revokedBy ? ` by ${again.revokedBy}` : ''}`);
  }
  return { ...grant, revokedAt: now, revokedBy: by };
}
