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
  /** What the deciding rule asks of approvers (store version 4; absent on older reviews). */
  requirements?: ReviewRequirements;
  /** The node whose caller waits for this review; absent when nobody is held (return-pending). */
  holder?: string;
  /** When the holder last said its caller still waits; a stale heartbeat means the caller is gone. */
  heartbeatAt?: string;
}

/** How far an approval may reach: this command only, the rest of its session, or its shape. */
export type GrantScope = 'once' | 'session' | 'pattern';

/** What a review's rule asked for, fixed when the review is opened (a reload does not change it). */
export interface ReviewRequirements {
  /** Groups whose human members may vote. */
  approvers: string[];
  /** Distinct approvals needed; one rejection rejects. */
  quorum: number;
  /** Votes must carry a reason. */
  justification: boolean;
  /** Grant scopes approvers may give; `['once']` for destructive commands. */
  grants: GrantScope[];
  /** The longest grant, in ms. */
  maxGrantMs: number;
}

/** One approver's vote on a review. */
export interface ReviewVote {
  reviewId: string;
  approver: string;
  verdict: 'approved' | 'rejected';
  at: string;
  note?: string;
  /** With an approval: the grant this approver agrees to (the narrowest among the quorum is made). */
  grant?: { scope: GrantScope; durationMs: number };
}

/**
 * A just-in-time grant: later commands of the same principal on the same connection, held by
 * the same rule, in the same session (`session`) or of the same shape (`pattern`), pass
 * without a new review until `expiresAt` or until revoked.
 */
export interface GrantRecord {
  id: string;
  reviewId: string;
  scope: 'session' | 'pattern';
  rule: string;
  principal: string;
  connection: string;
  /** For `session` grants. */
  session?: string;
  /** For `pattern` grants: the pattern key (approvals/grants.ts). */
  pattern?: string;
  /** What was approved, for people and for matching: command, class, flags, pattern text. */
  summary: Record<string, unknown>;
  createdAt: string;
  expiresAt: string;
  grantedBy: string[];
  revokedAt?: string;
  revokedBy?: string;
  uses: number;
  lastUsedAt?: string;
}

/** The result of `Store.castVote`. */
export type VoteResult = 'cast' | 'not_pending' | 'conflict' | 'duplicate';

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
/** Journal lines in an appendAudit batch (audit/journal.ts JournalProgress). */
export interface JournalBatch {
  journal: string;
  first: number;
  last: number;
}

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

  /** Pending or approved reviews of one command text (resuming a return-pending call after a restart). */
  findReviews(commandHash: string): Promise<ReviewRecord[]>;
  listVotes(reviewId: string): Promise<ReviewVote[]>;
  /**
   * Records a vote atomically: only while the review is pending and still has exactly
   * `expectVotes` votes (a compare-and-set, so of two concurrent votes one is `conflict` and
   * must be re-decided), one vote per approver (`duplicate`). With `settle` the review moves to
   * that verdict in the same transaction, and with `grant` the grant is stored with it.
   */
  castVote(
    vote: ReviewVote,
    expectVotes: number,
    settle?: { status: 'approved' | 'rejected'; decidedAt: string; decidedBy: string; note?: string },
    grant?: GrantRecord,
  ): Promise<VoteResult>;
  /** Marks the pending reviews held by `holder` as still waited for. */
  heartbeatReviews(holder: string, at: string): Promise<void>;
  /**
   * Cancels pending reviews whose holder's last heartbeat is older than `staleBefore`: their
   * callers are gone. Returns the reviews it cancelled.
   */
  cancelAbandonedReviews(staleBefore: string, at: string, note: string): Promise<ReviewRecord[]>;
  getGrant(id: string): Promise<GrantRecord | undefined>;
  /** Grants, newest first; `activeAt` keeps those neither expired nor revoked at that time. */
  listGrants(filter?: { activeAt?: string; principal?: string; connection?: string; rule?: string }): Promise<GrantRecord[]>;
  /** Revokes a grant; false if there is none or it was already revoked. */
  revokeGrant(id: string, at: string, by: string): Promise<boolean>;
  /** Counts one use of a grant, only while it is active at `at`; false otherwise. */
  useGrant(id: string, at: string): Promise<boolean>;
  /**
   * Calls `listener` with the id of every review settled by any node sharing the store (on
   * PostgreSQL through LISTEN/NOTIFY; on SQLite by this process only). Returns an unsubscribe.
   */
  watchReviews(listener: (reviewId: string) => void): () => void;

  /**
   * Appends to the audit chain. The store serialises appenders (a transaction on SQLite, a
   * lock on PostgreSQL), reads the current head and seals `records` onto it in order (seq
   * head.seq+1, +2, ..., each hashed and linked; see sealPrepared in common.ts). All rows go
   * in one transaction: either every one is stored and returned, exactly as stored, or none
   * is and the promise rejects.
   *
   * `journal` (embedded store only; see audit/journal.ts): the batch holds lines first..last of
   * that audit journal; the same transaction records that they are indexed, and refuses lines
   * that were indexed already (so a journal is never copied twice).
   */
  appendAudit(records: readonly PreparedAuditRecord[], journal?: JournalBatch): Promise<AuditRow[]>;
  auditHead(): Promise<ChainHead>;
  readAudit(query: AuditQuery): Promise<AuditRow[]>;
  /**
   * Retention (audit/retention.ts): the JSON text of the base the retained chain starts from
   * (kept in the store's meta table), or undefined when nothing was ever pruned.
   */
  readAuditBase(): Promise<string | undefined>;
  /**
   * Retention: stores `base` (JSON whose `seq` is the last record to remove) unless a base at
   * or beyond that seq is already there, then deletes every audit record up to the stored
   * base's seq, in short transactions so appends are held up only briefly. Returns how many
   * records were deleted.
   */
  pruneAudit(base: string): Promise<number>;

  // Placeholder vault (masking/vault.ts; store version 5). Values are sealed before they get here.
  /** Inserts or replaces (same scope and placeholder) entries, all in one transaction. */
  putVaultEntries(entries: readonly VaultEntry[]): Promise<void>;
  /** Unexpired entries (expiresAt > now) for these placeholders in these scopes. */
  getVaultEntries(placeholders: readonly string[], scopes: readonly string[], now: string): Promise<VaultEntry[]>;
  /** Deletes entries with expiresAt <= now; returns how many. */
  pruneVault(now: string): Promise<number>;
}

/** A sealed placeholder mapping (masking/vault.ts): never the value in clear. */
export interface VaultEntry {
  /** `session:ID`, `agent:NAME` or `global`. */
  scope: string;
  placeholder: string;
  type: string;
  /** Fingerprint of the key that sealed it. */
  keyId: string;
  /** base64 of IV | ciphertext | GCM tag. */
  sealed: string;
  createdAt: string;
  /** ISO time; usable while now < expiresAt. */
  expiresAt: string;
}
