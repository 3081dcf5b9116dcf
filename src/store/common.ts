// Pieces both store implementations share: checks on what appendAudit is asked to insert,
// audit query validation and row <-> record mapping helpers.
import type { AuditQuery, AuditRow, ChainHead } from './store.js';
import { StoreError } from './errors.js';

/** The most rows one readAudit call returns; page with afterSeq/beforeSeq for more. */
export const MAX_AUDIT_PAGE = 100_000;

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The store does not trust `seal`: the rows must continue the chain from `head` exactly, or
 * nothing is written. This keeps a buggy caller from ever forking or gapping the chain.
 */
export function checkSealedRows(head: ChainHead, rows: unknown): AuditRow[] {
  if (!Array.isArray(rows)) throw new StoreError('invalid', 'appendAudit: seal must return an array of rows');
  let seq = head.seq;
  let prev = head.hash;
  for (const row of rows as AuditRow[]) {
    seq += 1;
    if (typeof row !== 'object' || row === null) throw new StoreError('invalid', `appendAudit: row ${seq} is not an object`);
    if (row.seq !== seq) {
      throw new StoreError('invalid', `appendAudit: expected seq ${seq} after head ${head.seq}, got ${String(row.seq)}`);
    }
    if (row.prevHash !== prev) throw new StoreError('invalid', `appendAudit: row ${seq} does not link to the previous hash`);
    if (typeof row.hash !== 'string' || !HEX64.test(row.hash)) {
      throw new StoreError('invalid', `appendAudit: row ${seq} has no valid hash`);
    }
    if (typeof row.body !== 'string' || typeof row.time !== 'string' || typeof row.kind !== 'string') {
      throw new StoreError('invalid', `appendAudit: row ${seq} needs string time, kind and body`);
    }
    for (const col of ['actionId', 'session', 'principal', 'connection', 'effect'] as const) {
      if (row[col] !== undefined && typeof row[col] !== 'string') {
        throw new StoreError('invalid', `appendAudit: row ${seq} column ${col} must be a string`);
      }
    }
    prev = row.hash;
  }
  return rows as AuditRow[];
}

export function checkAuditQuery(q: AuditQuery): void {
  if (typeof q !== 'object' || q === null) throw new StoreError('invalid', 'readAudit: a query object is required');
  if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > MAX_AUDIT_PAGE) {
    throw new StoreError('invalid', `readAudit: limit must be an integer from 1 to ${MAX_AUDIT_PAGE}`);
  }
  for (const k of ['afterSeq', 'beforeSeq'] as const) {
    const v = q[k];
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0)) {
      throw new StoreError('invalid', `readAudit: ${k} must be a non-negative integer`);
    }
  }
  for (const k of ['session', 'principal', 'connection', 'effect', 'actionId'] as const) {
    if (q[k] !== undefined && typeof q[k] !== 'string') throw new StoreError('invalid', `readAudit: ${k} must be a string`);
  }
}

/** Audit filter columns in query order: [AuditQuery key, column name]. */
export const AUDIT_FILTERS = [
  ['session', 'session'],
  ['principal', 'principal'],
  ['connection', 'connection'],
  ['effect', 'effect'],
  ['actionId', 'action_id'],
] as const;

export const AUDIT_COLUMNS = 'seq, time, kind, action_id, session, principal, connection, effect, prev_hash, hash, body';

/** Builds an AuditRow from a raw row in AUDIT_COLUMNS order; absent columns stay absent. */
export function auditRowFromRaw(r: readonly unknown[]): AuditRow {
  const row: AuditRow = {
    seq: Number(r[0]),
    time: r[1] as string,
    kind: r[2] as string,
    prevHash: r[8] as string,
    hash: r[9] as string,
    body: r[10] as string,
  };
  if (r[3] != null) row.actionId = r[3] as string;
  if (r[4] != null) row.session = r[4] as string;
  if (r[5] != null) row.principal = r[5] as string;
  if (r[6] != null) row.connection = r[6] as string;
  if (r[7] != null) row.effect = r[7] as string;
  return row;
}

export function parseJsonColumn<T>(value: unknown, what: string): T {
  if (typeof value !== 'string') return value as T; // JSONB comes back parsed from pg
  try {
    return JSON.parse(value) as T;
  } catch {
    throw new StoreError('failed', `${what} holds malformed JSON`);
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
