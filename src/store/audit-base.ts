// Retention in the store (audit/retention.ts decides what to prune and builds the base): the
// base is JSON kept in the meta table under AUDIT_BASE; the store only needs its `seq`, the
// last record to remove. Records go in chunks, each its own short transaction, so appends on
// other connections wait at most for one chunk.
import { StoreError } from './errors.js';

export const AUDIT_BASE = 'audit_base';
export const PRUNE_CHUNK = 5000;

/** The `seq` of a base's JSON text; throws StoreError `invalid` when it has none. */
export function auditBaseSeq(text: string): number {
  let seq: unknown;
  try {
    seq = (JSON.parse(text) as { seq?: unknown }).seq;
  } catch {
    seq = undefined;
  }
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
    throw new StoreError('invalid', 'pruneAudit: the base must be JSON with a whole-number seq >= 1');
  }
  return seq;
}
