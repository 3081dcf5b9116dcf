// The Store holds everything Sluice must not lose: API keys (hashes only), review requests
// and the audit chain. Two implementations pass one test suite: embedded SQLite (libsql)
// and PostgreSQL for several nodes.

export interface ApiKeyRecord {
  /** Public key id (the part of the key before the secret); safe to print. */
  id: string;
  principal: string;
  kind: 'human' | 'agent' | 'service';
  groups: string[];
  onBehalfOf?: string;
  /** SHA-256 (hex) of the whole key. The key itself is never stored. */
  hash: string;
  createdAt: string;
  expiresAt?: string;
  revokedAt?: string;
  /**
   * SCRAM-SHA-256 verifier of the key in PostgreSQL's text form, computed at creation
   * (identity/scram.ts). Absent for keys created before store version 2.
   */
  scram?: string;
  /** A short-lived token (`slt_...`) rather than an API key (`slk_...`). */
  token?: boolean;
  /** The key or token that issued this token: revoking it stops this one too. */
  parentId?: string;
}

export type ReviewStatus = 'pending' | 'approved' | 'rejected' | 'expired' | 'cancelled' | 'executed';

export interface ReviewRecord {
  id: string;
  actionId: string;
  status: ReviewStatus;
  createdAt: string;
  expiresAt: string;
  /** SHA-256 (hex) of the exact command text that was held; what runs must match it. */
  commandHash: string;
  /** The held Action as JSON (principal, connection, command, intent...). */
  action: Record<string, unknown>;
  rule: string;
  reason: string;
  decidedAt?: string;
  decidedBy?: string;
  note?: string;
}

/** The end of the audit chain: the last record's sequence number and hash. */
export interface ChainHead {
  seq: number;
  hash: string;
}

export const GENESIS_HASH = '0'.repeat(64);
export const GENESIS_HEAD: ChainHead = { seq: 0, hash: GENESIS_HASH };

/** One stored audit record. `body` is the canonical JSON the hash covers. */
export interface AuditRow {
  seq: number;
  time: string;
  kind: string;
  actionId?: string;
  session?: string;
  principal?: string;
  connection?: string;
  effect?: string;
  prevHash: string;
  hash: string;
  body: string;
}

/**
 * An audit record encoded up to its sequence number (audit/record.ts prepareRecord builds it):
 * the body is `prefix + seq + suffix`, and `columns` are the indexed columns stored beside it.
 * Plain data, so it can be handed to another thread.
 */
export interface PreparedAuditRecord {
  columns: {
    time: string;
    kind: string;
    actionId?: string;
    session?: string;
    principal?: string;
    connection?: string;
    effect?: string;
  };
  prefix: string;
  suffix: string;
}

export interface AuditQuery {
  /** Only records with seq greater than this. */
  afterSeq?: number;
  /** Only records with seq less than this (pages newest-first lists backwards). */
  beforeSeq?: number;
  limit: number;
  /** Newest first instead of oldest first. */
  descending?: boolean;
  session?: string;
  principal?: string;
  connection?: string;
  effect?: string;
  actionId?: string;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  /** Applies pending versioned migrations; safe to call on every start. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  insertKey(key: ApiKeyRecord): Promise<void>;
  getKey(id: string): Promise<ApiKeyRecord | undefined>;
  listKeys(): Promise<ApiKeyRecord[]>;
  /** Marks a key revoked; false if no such key or already revoked. */
  revokeKey(id: string, at: string): Promise<boolean>;
  /**
   * The principal's keys that are usable now or stopped being usable (revoked, expired) after
   * `since` (ISO time): what a login may present, plus recent ones so a refusal can say why.
   */
  loginKeys(principal: string, since: string): Promise<ApiKeyRecord[]>;
  /** Whether any key in the store has a SCRAM verifier. */
  hasScramKeys(): Promise<boolean>;
  /** The 32-byte secret made by migration 2, from which SCRAM salts are derived. Never log it. */
  installationSecret(): Promise<Buffer>;

  insertReview(review: ReviewRecord): Promise<void>;
  getReview(id: string): Promise<ReviewRecord | undefined>;
  listReviews(filter?: { status?: ReviewStatus }): Promise<ReviewRecord[]>;
  /**
   * Moves a review from `from` (default `pending`) to a new state atomically; false when it
   * was no longer in `from` (someone else settled it first).
   */
  settleReview(
    id: string,
    update: { status: ReviewStatus; decidedAt: string; decidedBy?: string; note?: string },
    from?: ReviewStatus,
  ): Promise<boolean>;

  /**
   * Appends to the audit chain. The store serialises appenders (a transaction on SQLite, a
   * lock on PostgreSQL), reads the current head and seals `records` onto it in order (seq
   * head.seq+1, +2, ..., each hashed and linked; see sealPrepared in common.ts). All rows go
   * in one transaction: either every one is stored and returned, exactly as stored, or none
   * is and the promise rejects.
   */
  appendAudit(records: readonly PreparedAuditRecord[]): Promise<AuditRow[]>;
  auditHead(): Promise<ChainHead>;
  readAudit(query: AuditQuery): Promise<AuditRow[]>;
}
