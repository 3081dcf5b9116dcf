// What an audit record says. Callers hand the ledger an AuditDraft; the ledger stamps the time,
// the chain adds `v` and `seq`, and the canonical JSON of the result is the record's body.
import type { Effect } from '../gate/types.js';
import { CanonicalJsonError, canonicalJsonAt, encodeKey } from './canonical.js';

/** Version of the body format; part of every body so a future format can be told apart. */
export const AUDIT_FORMAT_VERSION = 1;

export const AUDIT_KINDS = [
  /** The gate's policy decision for an action (written before anything runs). */
  'decision',
  /** What happened to an action afterwards: ran, failed, was rejected, expired... */
  'outcome',
  /** A review (approval request) was opened, approved, rejected, expired or cancelled. */
  'review',
  /** An API key or token was created or revoked. */
  'key',
  /** A masked value was revealed to a human. */
  'reveal',
  /** A signed checkpoint over the chain. */
  'checkpoint',
  /** Configuration or policy was loaded or changed. */
  'config',
  /** Gateway lifecycle: start, stop, store migration. */
  'system',
] as const;
export type AuditKind = (typeof AUDIT_KINDS)[number];

export const AUDIT_OUTCOMES = ['succeeded', 'failed', 'denied', 'rejected', 'expired', 'cancelled', 'timeout'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** The part of an Intent worth keeping in the ledger (the analyser's parts are left out). */
export interface AuditIntent {
  class: string;
  classes?: string[];
  flags?: string[];
  objects?: unknown;
  error?: string;
}

/** A record as a caller writes it. Never put raw secrets here: the ledger keeps it forever. */
export interface AuditDraft {
  kind: AuditKind;
  actionId?: string;
  session?: string;
  /** Name of the principal the action ran as. */
  principal?: string;
  /** Agent name, when the principal is an agent. */
  agent?: string;
  /** The human an agent acts for. */
  onBehalfOf?: string;
  /** Connection (target) name. */
  connection?: string;
  /** Door the command came through: `postgres`, `mcp`, `cli`, `api`... */
  door?: string;
  command?: string;
  intent?: AuditIntent;
  rule?: string;
  effect?: Effect;
  reason?: string;
  /** Who approved or rejected a review. */
  approver?: string;
  outcome?: AuditOutcome;
  /** Rows returned or affected. */
  rows?: number;
  durationMs?: number;
  /** Anything else, as plain JSON (no secrets). */
  detail?: Record<string, unknown>;
}

/** A parsed body: the draft plus what the ledger and the chain add. */
export interface AuditBody extends AuditDraft {
  v: number;
  seq: number;
  time: string;
}

export class AuditDraftError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`invalid audit record: ${message}`, options);
    this.name = 'AuditDraftError';
  }
}

const STRING_FIELDS = [
  'actionId',
  'session',
  'principal',
  'agent',
  'onBehalfOf',
  'connection',
  'door',
  'command',
  'rule',
  'reason',
  'approver',
] as const;
const DRAFT_FIELDS = new Set<string>([
  'kind',
  ...STRING_FIELDS,
  'intent',
  'effect',
  'outcome',
  'rows',
  'durationMs',
  'detail',
]);
const COLUMN_FIELDS = ['actionId', 'session', 'principal', 'connection'] as const;
// eslint-disable-next-line no-control-regex -- finding NUL is the point
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const KINDS = new Set<string>(AUDIT_KINDS);
const OUTCOMES = new Set<string>(AUDIT_OUTCOMES);
const EFFECTS = new Set<string>(['allow', 'deny', 'review']);

/** The indexed columns, in the form both the store and the verifier compare. */
export interface AuditColumns {
  time: string;
  kind: string;
  actionId?: string;
  session?: string;
  principal?: string;
  connection?: string;
  effect?: string;
}

/**
 * A validated draft with its time, encoded up to the sequence number: the body is
 * `prefix + seq + suffix`, so sealing a batch inside the store's transaction is string
 * concatenation and hashing only.
 */
export interface PreparedRecord {
  columns: AuditColumns;
  prefix: string;
  suffix: string;
}

/**
 * Checks a draft and encodes it. Throws AuditDraftError for anything that is not a valid
 * record, so one bad draft fails only its own caller and never a whole batch.
 */
export function prepareRecord(draft: AuditDraft, time: string): PreparedRecord {
  if (typeof draft !== 'object' || draft === null || Array.isArray(draft)) {
    throw new AuditDraftError('a record must be an object');
  }
  const d = draft as unknown as Record<string, unknown>;
  for (const key of Object.keys(d)) {
    if (!DRAFT_FIELDS.has(key)) throw new AuditDraftError(`unknown field ${JSON.stringify(key)}`);
  }
  if (typeof d.kind !== 'string' || !KINDS.has(d.kind)) {
    throw new AuditDraftError(`kind must be one of ${AUDIT_KINDS.join(', ')}`);
  }
  for (const f of STRING_FIELDS) {
    if (d[f] !== undefined && typeof d[f] !== 'string') throw new AuditDraftError(`${f} must be a string`);
  }
  // Search columns are stored as plain text: a NUL would be cut off (SQLite) or refused
  // (PostgreSQL), a lone surrogate replaced, and the column would no longer match the body.
  for (const f of COLUMN_FIELDS) {
    const v = d[f] as string | undefined;
    if (v !== undefined && UNSTORABLE.test(v)) {
      throw new AuditDraftError(`${f} contains a NUL character or an unpaired surrogate`);
    }
  }
  if (d.effect !== undefined && !EFFECTS.has(d.effect as string)) {
    throw new AuditDraftError('effect must be allow, deny or review');
  }
  if (d.outcome !== undefined && !OUTCOMES.has(d.outcome as string)) {
    throw new AuditDraftError(`outcome must be one of ${AUDIT_OUTCOMES.join(', ')}`);
  }
  for (const f of ['rows', 'durationMs'] as const) {
    const v = d[f];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
      throw new AuditDraftError(`${f} must be a finite number >= 0`);
    }
  }
  if (d.intent !== undefined && (typeof d.intent !== 'object' || d.intent === null || Array.isArray(d.intent))) {
    throw new AuditDraftError('intent must be an object');
  }
  if (d.detail !== undefined && (typeof d.detail !== 'object' || d.detail === null || Array.isArray(d.detail))) {
    throw new AuditDraftError('detail must be an object');
  }
  if (typeof time !== 'string' || time.length === 0) throw new AuditDraftError('time must be an ISO string');

  // Encode the sorted entries, leaving a gap for `"seq":N` in its sorted place: the chain
  // fills the number in later (body = prefix + seq + suffix).
  const keys = Object.keys(d);
  keys.push('seq', 'time', 'v');
  keys.sort();
  let prefix = '{';
  let suffix = '';
  let afterSeq = false;
  let first = true;
  for (const key of keys) {
    let json: string;
    if (key === 'seq') {
      prefix += (first ? '' : ',') + '"seq":';
      afterSeq = true;
      first = false;
      continue;
    } else if (key === 'v') {
      json = String(AUDIT_FORMAT_VERSION);
    } else if (key === 'time') {
      json = JSON.stringify(time);
    } else {
      const value = d[key];
      if (value === undefined) continue;
      try {
        json = canonicalJsonAt(value, [key]);
      } catch (error) {
        if (error instanceof CanonicalJsonError) throw new AuditDraftError(error.message, { cause: error });
        throw error;
      }
    }
    const item = encodeKey(key) + ':' + json;
    if (afterSeq) suffix += ',' + item;
    else prefix += (first ? '' : ',') + item;
    first = false;
  }
  suffix += '}';

  const columns: AuditColumns = { time, kind: d.kind };
  if (d.actionId !== undefined) columns.actionId = d.actionId as string;
  if (d.session !== undefined) columns.session = d.session as string;
  if (d.principal !== undefined) columns.principal = d.principal as string;
  if (d.connection !== undefined) columns.connection = d.connection as string;
  if (d.effect !== undefined) columns.effect = d.effect as string;
  return { columns, prefix, suffix };
}
