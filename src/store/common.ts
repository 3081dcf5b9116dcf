// Pieces both store implementations share: sealing prepared audit records into chained rows
// and the checks on them, audit query validation and row <-> record mapping helpers. Kept free
// of the audit modules: the embedded store seals in a worker thread that loads only store code.
import { hash as oneShotHash } from 'node:crypto';
import type {
  ApiKeyRecord,
  AuditQuery,
  AuditRow,
  ChainHead,
  PreparedAuditRecord,
  ReviewRecord,
  ReviewStatus,
} from './store.js';
import { StoreError } from './errors.js';

/** The most rows one readAudit call returns; page with afterSeq/beforeSeq for more. */
export const MAX_AUDIT_PAGE = 100_000;

/** A record's hash: lowercase hex SHA-256 of `prevHash + "\n" + body` (see audit/chain.ts). */
export function recordHash(prevHash: string, body: string): string {
  // The one-shot hash (strings are UTF-8 encoded) is about 1.5x faster than createHash here,
  // which matters to verify's throughput.
  return oneShotHash('sha256', prevHash + '\n' + body, 'hex');
}

/** The stored row for `record` at `seq`, linked to `prevHash`, with its `hash`. */
export function sealedRow(record: PreparedAuditRecord, seq: number, prevHash: string, hash: string): AuditRow {
  const c = record.columns;
  const row: AuditRow = { seq, time: c.time, kind: c.kind, prevHash, hash, body: record.prefix + String(seq) + record.suffix };
  if (c.actionId !== undefined) row.actionId = c.actionId;
  if (c.session !== undefined) row.session = c.session;
  if (c.principal !== undefined) row.principal = c.principal;
  if (c.connection !== undefined) row.connection = c.connection;
  if (c.effect !== undefined) row.effect = c.effect;
  return row;
}

/**
 * Turns prepared records into rows chained from `head`: seq head.seq+1, +2, ... in order.
 * Runs inside the store's append transaction, so it is quick and synchronous.
 */
export function sealPrepared(head: ChainHead, records: readonly PreparedAuditRecord[]): AuditRow[] {
  const rows: AuditRow[] = new Array<AuditRow>(records.length);
  let prevHash = head.hash;
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    const seq = head.seq + i + 1;
    const hash = recordHash(prevHash, r.prefix + String(seq) + r.suffix);
    rows[i] = sealedRow(r, seq, prevHash, hash);
    prevHash = hash;
  }
  return rows;
}

const COLUMN_KEYS = ['actionId', 'session', 'principal', 'connection', 'effect'] as const;

/**
 * The store does not trust its caller: every record must be well formed (string columns, a
 * body template with the seq gap where prepareRecord leaves it) or nothing of the batch is
 * written. Throws StoreError `invalid`; returns the records for chaining.
 */
export function checkPreparedRecords(records: unknown): readonly PreparedAuditRecord[] {
  if (!Array.isArray(records)) throw new StoreError('invalid', 'appendAudit: records must be an array');
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as Partial<PreparedAuditRecord> | null;
    if (typeof r !== 'object' || r === null) throw new StoreError('invalid', `appendAudit: record ${i} is not an object`);
    const c = r.columns;
    if (typeof c !== 'object' || c === null || typeof c.time !== 'string' || typeof c.kind !== 'string') {
      throw new StoreError('invalid', `appendAudit: record ${i} needs string columns time and kind`);
    }
    for (const col of COLUMN_KEYS) {
      if (c[col] !== undefined && typeof c[col] !== 'string') {
        throw new StoreError('invalid', `appendAudit: record ${i} column ${col} must be a string`);
      }
    }
    // The body must carry its own seq (that is what makes reordering detectable).
    if (typeof r.prefix !== 'string' || !r.prefix.startsWith('{') || !r.prefix.endsWith('"seq":')) {
      throw new StoreError('invalid', `appendAudit: record ${i} has no body prefix ending in "seq":`);
    }
    if (typeof r.suffix !== 'string' || !r.suffix.endsWith('}')) {
      throw new StoreError('invalid', `appendAudit: record ${i} has no body suffix`);
    }
  }
  return records as PreparedAuditRecord[];
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

export const KEY_COLUMNS = 'id, principal, kind, groups, on_behalf_of, hash, created_at, expires_at, revoked_at, scram, token, parent_id';
export const REVIEW_COLUMNS =
  'id, action_id, status, created_at, expires_at, command_hash, action, rule, reason, decided_at, decided_by, note';

export function keyFromRaw(r: readonly unknown[]): ApiKeyRecord {
  const key: ApiKeyRecord = {
    id: r[0] as string,
    principal: r[1] as string,
    kind: r[2] as ApiKeyRecord['kind'],
    groups: parseJsonColumn<string[]>(r[3], `api key ${String(r[0])} groups`),
    hash: r[5] as string,
    createdAt: r[6] as string,
  };
  if (r[4] != null) key.onBehalfOf = r[4] as string;
  if (r[7] != null) key.expiresAt = r[7] as string;
  if (r[8] != null) key.revokedAt = r[8] as string;
  if (r[9] != null) key.scram = r[9] as string;
  // SQLite gives 0/1, PostgreSQL a boolean.
  if (r[10] === true || Number(r[10]) === 1) key.token = true;
  if (r[11] != null) key.parentId = r[11] as string;
  return key;
}

export function reviewFromRaw(r: readonly unknown[]): ReviewRecord {
  const review: ReviewRecord = {
    id: r[0] as string,
    actionId: r[1] as string,
    status: r[2] as ReviewStatus,
    createdAt: r[3] as string,
    expiresAt: r[4] as string,
    commandHash: r[5] as string,
    action: parseJsonColumn<Record<string, unknown>>(r[6], `review ${String(r[0])} action`),
    rule: r[7] as string,
    reason: r[8] as string,
  };
  if (r[9] != null) review.decidedAt = r[9] as string;
  if (r[10] != null) review.decidedBy = r[10] as string;
  if (r[11] != null) review.note = r[11] as string;
  return review;
}



const KEY_KINDS = new Set(['human', 'agent', 'service']);
const REVIEW_STATUSES = new Set<string>(['pending', 'approved', 'rejected', 'expired', 'cancelled', 'executed']);

function needString(obj: Record<string, unknown>, field: string, what: string, optional = false): void {
  const v = obj[field];
  if (v === undefined && optional) return;
  if (typeof v !== 'string' || (!optional && v.length === 0)) {
    throw new StoreError('invalid', `${what}: ${field} must be a ${optional ? '' : 'non-empty '}string`);
  }
}

/** The installation secret as stored by migration 2 (64 hex characters); fails closed otherwise. */
export function installationSecretFrom(value: unknown): Buffer {
  if (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value)) {
    throw new StoreError('failed', 'the store has no valid installation secret (meta.installation_secret); it is made by migration 2');
  }
  return Buffer.from(value, 'hex');
}

export function checkKeyRecord(key: ApiKeyRecord): void {
  if (!isObject(key)) throw new StoreError('invalid', 'insertKey: a key record is required');
  const k = key as unknown as Record<string, unknown>;
  for (const f of ['id', 'principal', 'hash', 'createdAt']) needString(k, f, 'insertKey');
  for (const f of ['onBehalfOf', 'expiresAt', 'revokedAt', 'scram', 'parentId']) needString(k, f, 'insertKey', true);
  if (key.token !== undefined && typeof key.token !== 'boolean') throw new StoreError('invalid', 'insertKey: token must be a boolean');
  if (!KEY_KINDS.has(key.kind)) throw new StoreError('invalid', 'insertKey: kind must be human, agent or service');
  if (!Array.isArray(key.groups) || key.groups.some((g) => typeof g !== 'string')) {
    throw new StoreError('invalid', 'insertKey: groups must be an array of strings');
  }
}

export function checkReviewRecord(review: ReviewRecord): void {
  if (!isObject(review)) throw new StoreError('invalid', 'insertReview: a review record is required');
  const r = review as unknown as Record<string, unknown>;
  for (const f of ['id', 'actionId', 'createdAt', 'expiresAt', 'commandHash', 'rule']) needString(r, f, 'insertReview');
  needString(r, 'reason', 'insertReview', true);
  if (typeof review.reason !== 'string') throw new StoreError('invalid', 'insertReview: reason must be a string');
  for (const f of ['decidedAt', 'decidedBy', 'note']) needString(r, f, 'insertReview', true);
  checkReviewStatus(review.status, 'insertReview');
  if (!isObject(review.action)) throw new StoreError('invalid', 'insertReview: action must be an object');
}

export function checkReviewStatus(status: unknown, what: string): asserts status is ReviewStatus {
  if (typeof status !== 'string' || !REVIEW_STATUSES.has(status)) {
    throw new StoreError('invalid', `${what}: unknown review status ${JSON.stringify(status)}`);
  }
}

/** JSON text for a JSON column; refuses values JSON cannot carry instead of storing nonsense. */
export function jsonColumn(value: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new StoreError('invalid', `${what} cannot be stored as JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (text === undefined) throw new StoreError('invalid', `${what} cannot be stored as JSON`);
  return text;
}
