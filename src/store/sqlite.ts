// The embedded store: one SQLite file through libsql's synchronous (better-sqlite3 style) API.
// Everything but audit appends runs on the calling thread, so a method's SQL can never
// interleave with another call's inside this process. Audit appends (sealing, inserts, the
// commit and its fsync) run in a writer thread on a second connection (sqlite-audit-writer.ts),
// so the event loop is not frozen while a commit reaches the disk; `:memory:` databases cannot
// be shared with a thread and append inline. The writer thread, other processes and this
// connection are kept apart by SQLite's locks (BEGIN IMMEDIATE takes the write lock up front,
// busy_timeout waits for it).
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import type LibsqlDatabase from 'libsql';
import type {
  ApiKeyRecord,
  AuditQuery,
  AuditRow,
  ChainHead,
  JournalBatch,
  PreparedAuditRecord,
  GrantRecord,
  ReviewRecord,
  ReviewStatus,
  ReviewVote,
  Store,
  VoteResult,
} from './store.js';
import { GENESIS_HEAD } from './store.js';
import { StoreError } from './errors.js';
import {
  AUDIT_COLUMNS,
  AUDIT_FILTERS,
  KEY_COLUMNS,
  REVIEW_COLUMNS,
  auditRowFromRaw,
  checkAuditQuery,
  checkKeyRecord,
  checkReviewRecord,
  checkPreparedRecords,
  checkReviewStatus,
  installationSecretFrom,
  jsonColumn,
  keyFromRaw,
  sealPrepared,
} from './common.js';
import { latestVersion, loadMigrations, schemaTooNew } from './migrations.js';
import { AUDIT_BASE, PRUNE_CHUNK, auditBaseSeq } from './audit-base.js';
import { SqliteAuditWriter } from './sqlite-audit-writer.js';
import { VAULT_COLUMNS, checkVaultEntries, checkVaultLookup, vaultEntryFromRaw } from './vault.js';
import type { VaultEntry } from './store.js';
import { GRANT_COLUMNS, REVIEW_EXTRA_COLUMNS, VOTE_COLUMNS, checkGrant, checkVote, fullReviewFromRaw, grantFromRaw, newGrantValues, reviewValues, voteFromRaw, voteValues } from './approvals-rows.js';

// libsql is CommonJS; loading it through require keeps its native binding lookup as shipped.
const require = createRequire(import.meta.url);
type Database = LibsqlDatabase.Database;
type Statement = LibsqlDatabase.Statement<unknown[]>;
const Libsql = require('libsql') as typeof LibsqlDatabase;

export interface SqliteStoreOptions {
  /** Database file, or `:memory:` (tests). Its directory is created with mode 0700. */
  path: string;
  /**
   * `full` (default): a commit is on disk before appendAudit resolves, even across a power
   * cut. `normal` in WAL mode survives process crashes but may lose the last commits on power
   * loss, which for an audit ledger means commands that ran without a surviving record.
   */
  synchronous?: 'full' | 'normal';
  /** How long to wait for another process's write lock, in ms (default 5000). */
  busyTimeoutMs?: number;
  /**
   * Where audit appends run: `thread` (default for files) in the store's writer thread,
   * `inline` on the calling thread (benchmarks comparing the two). `:memory:` is always inline.
   */
  auditWriter?: 'thread' | 'inline';
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly path: string;
  private db: Database | undefined;
  private readonly statements = new Map<string, Statement>();
  /** Device and inode of the file opened, to notice it being deleted or replaced under us. */
  private fileIdentity: string | undefined;
  private readonly synchronous: 'full' | 'normal';
  private readonly busyTimeoutMs: number;
  private readonly useWriterThread: boolean;
  /** The audit writer thread, started by migrate() or the first append. */
  private writer: SqliteAuditWriter | undefined;
  private closing: Promise<void> | undefined;
  /** Review watchers of this process (another process's settles are found by polling). */
  private readonly reviewWatchers = new Set<(reviewId: string) => void>();

  constructor(options: SqliteStoreOptions) {
    if (!options || typeof options.path !== 'string' || options.path.length === 0) {
      throw new StoreError('invalid', 'SqliteStore needs a database path');
    }
    const memory = options.path === ':memory:';
    this.path = memory ? ':memory:' : resolve(options.path);
    this.busyTimeoutMs = Math.max(0, Math.floor(options.busyTimeoutMs ?? 5000));
    this.synchronous = options.synchronous === 'normal' ? 'normal' : 'full';
    this.useWriterThread = !memory && options.auditWriter !== 'inline';
    if (!memory) prepareFile(this.path);
    this.db = openSqliteConnection(this.path, { synchronous: this.synchronous, busyTimeoutMs: this.busyTimeoutMs });
    try {
      if (!memory) this.fileIdentity = identityOf(this.path);
    } catch (error) {
      this.db.close();
      this.db = undefined;
      throw new StoreError('unavailable', `cannot open the SQLite store at ${this.path}: ${msg(error)}`, { cause: error });
    }
  }

  /** Brings the schema up to date, then starts the audit writer thread (and waits for it). */
  async migrate(): Promise<void> {
    await this.migrateSchema();
    if (this.useWriterThread) await this.startWriter().ready;
  }

  private async migrateSchema(): Promise<void> {
    const db = this.open();
    const migrations = loadMigrations('sqlite');
    const known = latestVersion('sqlite');
    try {
      db.exec(
        'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)',
      );
    } catch (error) {
      throw wrap(error, 'migrate');
    }
    // One transaction per migration; BEGIN IMMEDIATE makes a second process starting at the
    // same time wait, then see the version the first one reached.
    for (;;) {
      try {
        db.exec('BEGIN IMMEDIATE');
        const current = this.versionIn(db);
        if (current > known) throw schemaTooNew(current, known);
        const next = migrations[current];
        if (!next) {
          db.exec('COMMIT');
          return;
        }
        try {
          db.exec(next.sql);
        } catch (error) {
          throw new StoreError('migration_failed', `SQLite migration ${next.version} (${next.name}) failed: ${msg(error)}`, {
            cause: error,
          });
        }
        db.prepare('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)').run(
          next.version,
          next.name,
          next.checksum,
          new Date().toISOString(),
        );
        db.exec('COMMIT');
      } catch (error) {
        rollback(db);
        throw wrap(error, 'migrate');
      }
    }
  }

  /** The schema version in the file (0 before the first migration). */
  async schemaVersion(): Promise<number> {
    const db = this.open();
    try {
      const t = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").raw().get();
      return t ? this.versionIn(db) : 0;
    } catch (error) {
      throw wrap(error, 'schemaVersion');
    }
  }

  /** Refuses new appends, lets the writer thread commit what is pending, then closes. */
  async close(): Promise<void> {
    this.closing ??= (async () => {
      await this.writer?.close();
      const db = this.db;
      this.db = undefined;
      this.statements.clear();
      if (db?.open) db.close();
    })();
    return this.closing;
  }

  // --- API keys -----------------------------------------------------------------------------

  async insertKey(key: ApiKeyRecord): Promise<void> {
    checkKeyRecord(key);
    try {
      this.stmt(`INSERT INTO api_keys (${KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
        key.id,
        key.principal,
        key.kind,
        jsonColumn(key.groups, 'insertKey: groups'),
        key.onBehalfOf ?? null,
        key.hash,
        key.createdAt,
        key.expiresAt ?? null,
        key.revokedAt ?? null,
        key.scram ?? null,
        key.token ? 1 : 0,
        key.parentId ?? null,
      );
    } catch (error) {
      throw wrap(error, 'insertKey', `an API key with id ${key.id} (or the same hash) already exists`);
    }
  }

  async getKey(id: string): Promise<ApiKeyRecord | undefined> {
    const r = this.stmt(`SELECT ${KEY_COLUMNS} FROM api_keys WHERE id = ?`).get(id) as unknown[] | undefined;
    return r ? keyFromRaw(r) : undefined;
  }

  async listKeys(): Promise<ApiKeyRecord[]> {
    const rows = this.stmt(`SELECT ${KEY_COLUMNS} FROM api_keys ORDER BY created_at, id`).all() as unknown[][];
    return rows.map(keyFromRaw);
  }

  async revokeKey(id: string, at: string): Promise<boolean> {
    const res = this.stmt('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL').run(at, id);
    return res.changes === 1;
  }

  async loginKeys(principal: string, since: string): Promise<ApiKeyRecord[]> {
    if (typeof principal !== 'string' || typeof since !== 'string') throw new StoreError('invalid', 'loginKeys: principal and since must be strings');
    try {
      // ISO-8601 UTC strings compare correctly as text.
      const rows = this.stmt(
        `SELECT ${KEY_COLUMNS} FROM api_keys WHERE principal = ? AND (revoked_at IS NULL OR revoked_at > ?) AND (expires_at IS NULL OR expires_at > ?) ORDER BY created_at, id`,
      ).all(principal, since, since) as unknown[][];
      return rows.map(keyFromRaw);
    } catch (error) {
      throw wrap(error, 'loginKeys');
    }
  }

  async hasScramKeys(): Promise<boolean> {
    try {
      return this.stmt('SELECT 1 FROM api_keys WHERE scram IS NOT NULL LIMIT 1').get() !== undefined;
    } catch (error) {
      throw wrap(error, 'hasScramKeys');
    }
  }

  async installationSecret(): Promise<Buffer> {
    let r: unknown[] | undefined;
    try {
      r = this.stmt("SELECT value FROM meta WHERE name = 'installation_secret'").get() as unknown[] | undefined;
    } catch (error) {
      throw wrap(error, 'installationSecret');
    }
    return installationSecretFrom(r?.[0]);
  }

  // --- reviews ------------------------------------------------------------------------------

  async insertReview(review: ReviewRecord): Promise<void> {
    checkReviewRecord(review);
    try {
      this.stmt(
        `INSERT INTO reviews (${REVIEW_COLUMNS}, ${REVIEW_EXTRA_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(...reviewValues(review));
    } catch (error) {
      throw wrap(error, 'insertReview', `a review with id ${review.id} already exists`);
    }
  }

  async getReview(id: string): Promise<ReviewRecord | undefined> {
    const r = this.stmt(`SELECT ${REVIEW_COLUMNS}, ${REVIEW_EXTRA_COLUMNS} FROM reviews WHERE id = ?`).get(id) as unknown[] | undefined;
    return r ? fullReviewFromRaw(r) : undefined;
  }

  async listReviews(filter?: { status?: ReviewStatus }): Promise<ReviewRecord[]> {
    if (filter?.status !== undefined) checkReviewStatus(filter.status, 'listReviews');
    const rows = (
      filter?.status
        ? this.stmt(`SELECT ${REVIEW_COLUMNS}, ${REVIEW_EXTRA_COLUMNS} FROM reviews WHERE status = ? ORDER BY created_at, id`).all(filter.status)
        : this.stmt(`SELECT ${REVIEW_COLUMNS}, ${REVIEW_EXTRA_COLUMNS} FROM reviews ORDER BY created_at, id`).all()
    ) as unknown[][];
    return rows.map(fullReviewFromRaw);
  }

  async settleReview(
    id: string,
    update: { status: ReviewStatus; decidedAt: string; decidedBy?: string; note?: string },
    from: ReviewStatus = 'pending',
  ): Promise<boolean> {
    checkReviewStatus(update?.status, 'settleReview');
    checkReviewStatus(from, 'settleReview');
    if (typeof update.decidedAt !== 'string') throw new StoreError('invalid', 'settleReview: decidedAt must be a string');
    try {
      // The status check in WHERE makes this a compare-and-set: of two settles, one wins.
      const res = this.stmt(
        'UPDATE reviews SET status = ?, decided_at = ?, decided_by = COALESCE(?, decided_by), note = COALESCE(?, note) WHERE id = ? AND status = ?',
      ).run(update.status, update.decidedAt, update.decidedBy ?? null, update.note ?? null, id, from);
      if (res.changes === 1) this.reviewSettled(id);
      return res.changes === 1;
    } catch (error) {
      throw wrap(error, 'settleReview');
    }
  }

  async findReviews(commandHash: string): Promise<ReviewRecord[]> {
    if (typeof commandHash !== 'string') throw new StoreError('invalid', 'findReviews: commandHash must be a string');
    const rows = this.stmt(
      `SELECT ${REVIEW_COLUMNS}, ${REVIEW_EXTRA_COLUMNS} FROM reviews WHERE command_hash = ? AND status IN ('pending', 'approved') ORDER BY created_at, id`,
    ).all(commandHash) as unknown[][];
    return rows.map(fullReviewFromRaw);
  }

  async listVotes(reviewId: string): Promise<ReviewVote[]> {
    const rows = this.stmt(`SELECT ${VOTE_COLUMNS} FROM review_votes WHERE review_id = ? ORDER BY at, approver`).all(reviewId) as unknown[][];
    return rows.map(voteFromRaw);
  }

  async castVote(
    vote: ReviewVote,
    expectVotes: number,
    settle?: { status: 'approved' | 'rejected'; decidedAt: string; decidedBy: string; note?: string },
    grant?: GrantRecord,
  ): Promise<VoteResult> {
    checkVote(vote);
    if (grant) checkGrant(grant);
    const db = this.open();
    // BEGIN IMMEDIATE takes the write lock first: votes from other processes wait, then see this one.
    try {
      db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      throw wrap(error, 'castVote');
    }
    let result: VoteResult = 'cast';
    try {
      const row = this.stmt("SELECT status, (SELECT COUNT(*) FROM review_votes WHERE review_id = reviews.id) FROM reviews WHERE id = ?").get(
        vote.reviewId,
      ) as unknown[] | undefined;
      if (!row || row[0] !== 'pending') result = 'not_pending';
      else if (Number(row[1]) !== expectVotes) result = 'conflict';
      else if (this.stmt('SELECT 1 FROM review_votes WHERE review_id = ? AND approver = ?').get(vote.reviewId, vote.approver)) result = 'duplicate';
      else {
        this.stmt(`INSERT INTO review_votes (${VOTE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)`).run(...voteValues(vote));
        if (settle) {
          this.stmt("UPDATE reviews SET status = ?, decided_at = ?, decided_by = ?, note = COALESCE(?, note) WHERE id = ? AND status = 'pending'").run(
            settle.status,
            settle.decidedAt,
            settle.decidedBy,
            settle.note ?? null,
            vote.reviewId,
          );
        }
        if (grant) {
          this.stmt(`INSERT INTO grants (${GRANT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(...newGrantValues(grant));
        }
      }
      db.exec(result === 'cast' ? 'COMMIT' : 'ROLLBACK');
    } catch (error) {
      rollback(db);
      throw wrap(error, 'castVote');
    }
    if (result === 'cast' && settle) this.reviewSettled(vote.reviewId);
    return result;
  }

  async heartbeatReviews(holder: string, at: string): Promise<void> {
    try {
      this.stmt("UPDATE reviews SET heartbeat_at = ? WHERE holder = ? AND status = 'pending'").run(at, holder);
    } catch (error) {
      throw wrap(error, 'heartbeatReviews');
    }
  }

  async cancelAbandonedReviews(staleBefore: string, at: string, note: string): Promise<ReviewRecord[]> {
    try {
      // Read first: most sweeps find nothing, and a read needs no write lock.
      const stale = this.stmt(
        "SELECT id FROM reviews WHERE status = 'pending' AND holder IS NOT NULL AND heartbeat_at IS NOT NULL AND heartbeat_at < ?",
      ).all(staleBefore) as unknown[][];
      const cancelled: ReviewRecord[] = [];
      for (const [id] of stale) {
        const res = this.stmt(
          "UPDATE reviews SET status = 'cancelled', decided_at = ?, note = ? WHERE id = ? AND status = 'pending' AND heartbeat_at < ?",
        ).run(at, note, id, staleBefore);
        if (res.changes === 1) {
          const review = await this.getReview(id as string);
          if (review) cancelled.push(review);
          this.reviewSettled(id as string);
        }
      }
      return cancelled;
    } catch (error) {
      throw wrap(error, 'cancelAbandonedReviews');
    }
  }

  async getGrant(id: string): Promise<GrantRecord | undefined> {
    const r = this.stmt(`SELECT ${GRANT_COLUMNS} FROM grants WHERE id = ?`).get(id) as unknown[] | undefined;
    return r ? grantFromRaw(r) : undefined;
  }

  async listGrants(filter: { activeAt?: string; principal?: string; connection?: string; rule?: string } = {}): Promise<GrantRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.activeAt !== undefined) {
      where.push('revoked_at IS NULL AND expires_at > ?');
      params.push(filter.activeAt);
    }
    for (const key of ['principal', 'connection', 'rule'] as const) {
      if (filter[key] !== undefined) {
        where.push(`${key} = ?`);
        params.push(filter[key]);
      }
    }
    try {
      const rows = this.stmt(
        `SELECT ${GRANT_COLUMNS} FROM grants${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id`,
      ).all(...params) as unknown[][];
      return rows.map(grantFromRaw);
    } catch (error) {
      throw wrap(error, 'listGrants');
    }
  }

  async revokeGrant(id: string, at: string, by: string): Promise<boolean> {
    try {
      return this.stmt('UPDATE grants SET revoked_at = ?, revoked_by = ? WHERE id = ? AND revoked_at IS NULL').run(at, by, id).changes === 1;
    } catch (error) {
      throw wrap(error, 'revokeGrant');
    }
  }

  async useGrant(id: string, at: string): Promise<boolean> {
    try {
      return (
        this.stmt('UPDATE grants SET uses = uses + 1, last_used_at = ? WHERE id = ? AND revoked_at IS NULL AND expires_at > ?').run(at, id, at)
          .changes === 1
      );
    } catch (error) {
      throw wrap(error, 'useGrant');
    }
  }

  watchReviews(listener: (reviewId: string) => void): () => void {
    this.reviewWatchers.add(listener);
    return () => this.reviewWatchers.delete(listener);
  }

  private reviewSettled(id: string): void {
    for (const listener of this.reviewWatchers) {
      try {
        listener(id);
      } catch {
        // A watcher's failure is its own; the settle stands.
      }
    }
  }

  // --- audit --------------------------------------------------------------------------------

  async appendAudit(records: readonly PreparedAuditRecord[], journal?: JournalBatch): Promise<AuditRow[]> {
    if (this.closing) throw new StoreError('closed', 'the SQLite store is closed');
    const db = this.open();
    if (this.useWriterThread) {
      // The thread checks the records, and the file right before its transaction.
      const writer = this.startWriter();
      try {
        return await writer.append(records, journal);
      } catch (error) {
        throw wrap(error, 'appendAudit');
      }
    }
    checkPreparedRecords(records);
    this.checkFile();
    const insert = this.stmt(`INSERT INTO audit (${AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    try {
      db.exec('BEGIN IMMEDIATE');
    } catch (error) {
      throw wrap(error, 'appendAudit');
    }
    try {
      if (journal) recordJournalBatch(db, journal);
      const rows = sealPrepared(this.readHead(), records);
      for (const r of rows) {
        insert.run(
          r.seq,
          r.time,
          r.kind,
          r.actionId ?? null,
          r.session ?? null,
          r.principal ?? null,
          r.connection ?? null,
          r.effect ?? null,
          r.prevHash,
          r.hash,
          r.body,
        );
      }
      db.exec('COMMIT');
      return rows;
    } catch (error) {
      rollback(db);
      throw wrap(error, 'appendAudit');
    }
  }

  /** The chain head; also the readiness check, so it fails once audit records cannot be written. */
  async auditHead(): Promise<ChainHead> {
    if (this.closing) throw new StoreError('closed', 'the SQLite store is closed');
    this.checkFile();
    const failure = this.writer?.failure;
    if (failure) throw failure;
    return this.readHead();
  }

  async readAudit(query: AuditQuery): Promise<AuditRow[]> {
    checkAuditQuery(query);
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.afterSeq !== undefined) {
      where.push('seq > ?');
      params.push(query.afterSeq);
    }
    if (query.beforeSeq !== undefined) {
      where.push('seq < ?');
      params.push(query.beforeSeq);
    }
    for (const [key, column] of AUDIT_FILTERS) {
      const v = query[key];
      if (v !== undefined) {
        where.push(`${column} = ?`);
        params.push(v);
      }
    }
    params.push(query.limit);
    const sql =
      `SELECT ${AUDIT_COLUMNS} FROM audit` +
      (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
      ` ORDER BY seq ${query.descending ? 'DESC' : 'ASC'} LIMIT ?`;
    const out: AuditRow[] = [];
    try {
      // iterate() rather than all(): no intermediate array of raw rows.
      for (const r of this.stmt(sql).iterate(...params) as Iterable<unknown[]>) out.push(auditRowFromRaw(r));
    } catch (error) {
      throw wrap(error, 'readAudit');
    }
    return out;
  }

  // --- placeholder vault (masking/vault.ts) -------------------------------------------------

  async putVaultEntries(entries: readonly VaultEntry[]): Promise<void> {
    checkVaultEntries(entries);
    if (entries.length === 0) return;
    const db = this.open();
    const upsert = this.stmt(
      `INSERT INTO placeholder_vault (${VAULT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (scope, placeholder) DO UPDATE SET type = excluded.type, key_id = excluded.key_id, sealed = excluded.sealed, expires_at = excluded.expires_at`,
    );
    try {
      db.exec('BEGIN IMMEDIATE');
      for (const e of entries) upsert.run(e.scope, e.placeholder, e.type, e.keyId, e.sealed, e.createdAt, e.expiresAt);
      db.exec('COMMIT');
    } catch (error) {
      rollback(db);
      throw wrap(error, 'putVaultEntries');
    }
  }

  async getVaultEntries(placeholders: readonly string[], scopes: readonly string[], now: string): Promise<VaultEntry[]> {
    checkVaultLookup(placeholders, scopes, now);
    if (placeholders.length === 0 || scopes.length === 0) return [];
    const sql = `SELECT ${VAULT_COLUMNS} FROM placeholder_vault WHERE placeholder IN (${placeholders.map(() => '?').join(', ')}) AND scope IN (${scopes.map(() => '?').join(', ')}) AND expires_at > ?`;
    try {
      const rows = this.open().prepare(sql).raw().all(...placeholders, ...scopes, now) as unknown[][];
      return rows.map(vaultEntryFromRaw);
    } catch (error) {
      throw wrap(error, 'getVaultEntries');
    }
  }

  async pruneVault(now: string): Promise<number> {
    if (typeof now !== 'string') throw new StoreError('invalid', 'pruneVault: now must be an ISO time string');
    try {
      return this.stmt('DELETE FROM placeholder_vault WHERE expires_at <= ?').run(now).changes;
    } catch (error) {
      throw wrap(error, 'pruneVault');
    }
  }

  // --- audit retention (audit/retention.ts) -------------------------------------------------

  /**
   * For verify's parallel walk (audit/verify.ts): seq and hash of the records in
   * (afterSeq, beforeSeq), which seed a chunk's link check; a fraction of what whole rows cost.
   */
  readAuditHashes(afterSeq: number, beforeSeq: number, limit: number): { seq: number; hash: string }[] {
    const out: { seq: number; hash: string }[] = [];
    try {
      for (const r of this.stmt('SELECT seq, hash FROM audit WHERE seq > ? AND seq < ? ORDER BY seq LIMIT ?').iterate(afterSeq, beforeSeq, limit) as Iterable<unknown[]>) {
        out.push({ seq: Number(r[0]), hash: r[1] as string });
      }
    } catch (error) {
      throw wrap(error, 'readAuditHashes');
    }
    return out;
  }

  async readAuditBase(): Promise<string | undefined> {
    try {
      const r = this.stmt('SELECT value FROM meta WHERE name = ?').get(AUDIT_BASE) as unknown[] | undefined;
      return r?.[0] as string | undefined;
    } catch (error) {
      throw wrap(error, 'readAuditBase');
    }
  }

  async pruneAudit(base: string): Promise<number> {
    const upto = auditBaseSeq(base);
    const db = this.open();
    this.checkFile();
    // The base first: once it is stored, verify starts from it and ignores what is left below.
    let target: number;
    try {
      db.exec('BEGIN IMMEDIATE');
      const r = db.prepare('SELECT value FROM meta WHERE name = ?').raw().get(AUDIT_BASE) as unknown[] | undefined;
      const current = r ? auditBaseSeq(r[0] as string) : 0;
      target = Math.max(upto, current);
      if (upto > current) db.prepare('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)').run(AUDIT_BASE, base);
      db.exec('COMMIT');
    } catch (error) {
      rollback(db);
      throw wrap(error, 'pruneAudit');
    }
    // The append-only trigger is dropped and made again around each chunk, inside its transaction.
    let deleted = 0;
    for (;;) {
      let n: number;
      try {
        db.exec('BEGIN IMMEDIATE');
        db.exec('DROP TRIGGER audit_no_delete');
        n = db
          .prepare(`DELETE FROM audit WHERE seq IN (SELECT seq FROM audit WHERE seq <= ? ORDER BY seq LIMIT ${PRUNE_CHUNK})`)
          .run(target).changes;
        db.exec("CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END");
        db.exec('COMMIT');
      } catch (error) {
        rollback(db);
        throw wrap(error, 'pruneAudit');
      }
      deleted += n;
      if (n < PRUNE_CHUNK) return deleted;
    }
  }

  // --- audit journal (audit/journal.ts) -------------------------------------------------------

  /** The configured synchronous mode (the audit journal syncs the same way). */
  get sync(): 'full' | 'normal' {
    return this.synchronous;
  }

  /** Where this store's audit journals live: beside the file; none for `:memory:`. */
  get journalDir(): string | undefined {
    return this.path === ':memory:' ? undefined : `${this.path}.journal`;
  }

  /** The last journal line of `journal` already in the ledger (0: none). */
  async journalIndexed(journal: string): Promise<number> {
    const r = this.stmt('SELECT value FROM meta WHERE name = ?').get(JOURNAL_META + journal) as unknown[] | undefined;
    return r ? Number(r[0]) : 0;
  }

  // --- internals ----------------------------------------------------------------------------

  /**
   * An open SQLite handle keeps writing to a file that was deleted or replaced, so records
   * would vanish with it. Before each audit write the path must still be the file we opened.
   */
  private checkFile(): void {
    if (this.fileIdentity !== undefined) checkSqliteFile(this.path, this.fileIdentity);
  }

  /**
   * The writer thread, started on first need. Writes on this (main) connection, such as keys
   * and reviews, may wait for the write lock while the thread commits (libsql's busy wait
   * blocks this thread, up to the busy timeout); commits take milliseconds, and these writes
   * are rare next to audit appends.
   */
  private startWriter(): SqliteAuditWriter {
    if (!this.writer) {
      this.open();
      this.writer = new SqliteAuditWriter({
        path: this.path,
        fileIdentity: this.fileIdentity!,
        synchronous: this.synchronous,
        busyTimeoutMs: this.busyTimeoutMs,
      });
    }
    return this.writer;
  }

  private open(): Database {
    if (!this.db) throw new StoreError('closed', 'the SQLite store is closed');
    return this.db;
  }

  /** Prepared statements are cached by SQL text; all use raw (array) rows. */
  private stmt(sql: string): Statement {
    const db = this.open();
    let s = this.statements.get(sql);
    if (!s) {
      try {
        s = db.prepare(sql) as Statement;
        if (s.reader) s.raw();
      } catch (error) {
        throw wrap(error, 'prepare');
      }
      this.statements.set(sql, s);
    }
    return s;
  }

  private readHead(): ChainHead {
    const r = this.stmt('SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1').get() as unknown[] | undefined;
    return r ? { seq: Number(r[0]), hash: r[1] as string } : { ...GENESIS_HEAD };
  }

  private versionIn(db: Database): number {
    const r = db.prepare('SELECT MAX(version) FROM schema_migrations').raw().get() as unknown[] | undefined;
    return Number(r?.[0] ?? 0);
  }
}

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * Creates the directory (0700) and an empty database file (0600) when they do not exist, and
 * refuses an existing file that is not a SQLite database: SQLite would silently turn a file
 * shorter than its header into a new database, destroying whatever it held.
 */
function prepareFile(path: string): void {
  const dir = dirname(path);
  let fd: number | undefined;
  try {
    const created = mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (created !== undefined) {
      // umask may have widened the mode; tighten every directory we created.
      for (let d = dir; d.length >= created.length; d = dirname(d)) {
        chmodSync(d, 0o700);
        if (d === created) break;
      }
    }
    if (!existsSync(path)) {
      closeSync(openSync(path, 'a', 0o600));
      return;
    }
    fd = openSync(path, 'r');
    const head = Buffer.alloc(SQLITE_HEADER.length);
    const n = readSync(fd, head, 0, head.length, 0);
    if (n > 0 && !(n === head.length && head.equals(SQLITE_HEADER))) {
      throw new StoreError('invalid', `${path} exists and is not a SQLite database; refusing to overwrite it`);
    }
  } catch (error) {
    if (error instanceof StoreError) throw error;
    throw new StoreError('unavailable', `cannot create the SQLite store at ${path}: ${msg(error)}`, { cause: error });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function rollback(db: Database): void {
  try {
    if (db.inTransaction) db.exec('ROLLBACK');
  } catch {
    // The transaction is already gone (SQLite rolls back by itself on some errors).
  }
}

function msg(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function wrap(error: unknown, op: string, conflictMessage?: string): StoreError {
  if (error instanceof StoreError) return error;
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string') {
    if (conflictMessage && (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE')) {
      return new StoreError('conflict', conflictMessage, { cause: error });
    }
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
      return new StoreError('unavailable', `${op}: the SQLite store is locked by another process: ${msg(error)}`, { cause: error });
    }
  }
  return new StoreError('failed', `${op}: ${msg(error)}`, { cause: error });
}

/**
 * Opens a connection to a store file (or `:memory:`) with the settings every connection of the
 * embedded store uses, the writer thread's included.
 */
export function openSqliteConnection(path: string, options: { synchronous: 'full' | 'normal'; busyTimeoutMs: number }): Database {
  const memory = path === ':memory:';
  const busy = options.busyTimeoutMs;
  let db: Database;
  try {
    db = new Libsql(path, { timeout: busy });
  } catch (error) {
    throw new StoreError('unavailable', `cannot open the SQLite store at ${path}: ${msg(error)}`, { cause: error });
  }
  try {
    db.exec(`PRAGMA busy_timeout = ${busy}`);
    // WAL: readers never block the writer, and commits need one fsync of the log only.
    if (!memory) {
      const mode = db.prepare('PRAGMA journal_mode = WAL').raw().get() as unknown[] | undefined;
      if (String(mode?.[0]).toLowerCase() !== 'wal') {
        throw new StoreError('failed', `cannot switch ${path} to WAL mode (got ${String(mode?.[0])})`);
      }
    }
    db.exec(`PRAGMA synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
    db.exec('PRAGMA foreign_keys = ON');
    // The audit indexes (session, action...) take inserts all over their b-trees; a larger
    // page cache and rarer checkpoints (each page copied back once per ~40 MB of log rather
    // than per 4 MB) roughly double append throughput. The log is cut back after a checkpoint.
    db.exec('PRAGMA cache_size = -32768');
    if (!memory) {
      db.exec('PRAGMA wal_autocheckpoint = 10000');
      db.exec('PRAGMA journal_size_limit = 67108864');
    }
    // Stops a crafted file from smuggling behaviour in through triggers or views on load.
    db.exec('PRAGMA trusted_schema = OFF');
    return db;
  } catch (error) {
    db.close();
    if (error instanceof StoreError) throw error;
    throw new StoreError('unavailable', `cannot open the SQLite store at ${path}: ${msg(error)}`, { cause: error });
  }
}

/**
 * An open SQLite handle keeps writing to a file that was deleted or replaced, so records
 * would vanish with it. Before each audit write the path must still be the file opened.
 */
export function checkSqliteFile(path: string, identity: string): void {
  let now: string | undefined;
  try {
    now = identityOf(path);
  } catch {
    now = undefined;
  }
  if (now !== identity) {
    throw new StoreError('unavailable', `the SQLite store ${path} was deleted or replaced while open; restart Sluice after restoring it`);
  }
}

function identityOf(path: string): string {
  const stat = statSync(path, { bigint: true });
  return `${stat.dev}:${stat.ino}`;
}

const JOURNAL_META = 'audit_journal:';

/**
 * Inside an audit append's transaction: refuses journal lines already indexed (a journal
 * copied twice would duplicate records), then records the batch's last line as indexed.
 */
export function recordJournalBatch(db: Database, batch: JournalBatch): void {
  if (typeof batch !== 'object' || batch === null || typeof batch.journal !== 'string' || !Number.isSafeInteger(batch.first) || !Number.isSafeInteger(batch.last) || batch.first < 1 || batch.last < batch.first) {
    throw new StoreError('invalid', 'appendAudit: journal must name a journal and its lines first..last');
  }
  const name = JOURNAL_META + batch.journal;
  const r = db.prepare('SELECT value FROM meta WHERE name = ?').raw().get(name) as unknown[] | undefined;
  const indexed = r ? Number(r[0]) : 0;
  if (indexed >= batch.first) {
    throw new StoreError('conflict', `audit journal ${batch.journal} is already indexed up to line ${indexed}; lines ${batch.first}..${batch.last} would be stored twice`);
  }
  if (batch.first !== indexed + 1) {
    // A journal's lines reach the chain in order; a gap would hide the lines before it from recovery.
    throw new StoreError('invalid', `audit journal ${batch.journal} is indexed up to line ${indexed}; lines ${batch.first}..${batch.last} would leave a gap`);
  }
  db.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value').run(name, String(batch.last));
}
