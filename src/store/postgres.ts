// The shared store: PostgreSQL through a pg Pool, for several Sluice nodes on one database.
// Audit appends from every node are serialised by a transaction-scoped advisory lock, so the
// head each appender reads is the one the previous appender committed: one chain, no forks.
// (The PRIMARY KEY on seq would reject a fork anyway; the lock makes it never happen.)
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { PoolClient, QueryResultRow } from 'pg';
import type {
  ApiKeyRecord,
  AuditQuery,
  AuditRow,
  ChainHead,
  PreparedAuditRecord,
  GrantRecord,
  ReviewRecord,
  ReviewStatus,
  ReviewVote,
  Store,
  VoteResult,
} from './store.js';
import { GENESIS_HEAD } from './store.js';
import { StoreError, redactSecrets, redactUrl, urlSecrets } from './errors.js';
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
import { VAULT_COLUMNS, checkVaultEntries, checkVaultLookup, vaultEntryFromRaw } from './vault.js';
import type { VaultEntry } from './store.js';
import { GRANT_COLUMNS, REVIEW_EXTRA_COLUMNS, VOTE_COLUMNS, checkGrant, checkVote, fullReviewFromRaw, grantFromRaw, newGrantValues, reviewValues, voteFromRaw, voteValues } from './approvals-rows.js';

export interface PostgresStoreOptions {
  /** postgres:// URL. Its password never appears in an error message. */
  connectionString: string;
  /** Schema holding Sluice's tables (default `sluice`); created on first migrate. */
  schema?: string;
  /** Pool size (default 10). */
  maxConnections?: number;
  /** Give up connecting after this many ms (default 10000). */
  connectTimeoutMs?: number;
  /** Server-side statement timeout in ms (default 30000; migrations run without one). */
  statementTimeoutMs?: number;
  /**
   * A node that dies inside a transaction would hold the audit lock; the server ends such a
   * session after this many idle ms (default 60000).
   */
  idleInTransactionTimeoutMs?: number;
  applicationName?: string;
  /** Errors of idle pooled connections (server restart...). Without it they are dropped. */
  onError?: (error: StoreError) => void;
}

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly schema: string;
  /** The connection URL with its password replaced by ***. */
  readonly where: string;
  private readonly pool: pg.Pool;
  private readonly secrets: string[];
  private readonly t: { audit: string; keys: string; reviews: string; migrations: string; schema: string };
  private readonly auditLockKey: string;
  private readonly migrateLockKey: string;
  private closed = false;
  /** The chain head after this store's last append: the next batch is sealed on it optimistically. */
  private lastHead: ChainHead | undefined;
  /** Batches left to append under the lock without trying the optimistic path (after a conflict). */
  private lockedBatches = 0;
  /** LISTEN/NOTIFY for settled reviews: one dedicated connection, opened on the first watcher. */
  private readonly reviewChannel: string;
  private readonly reviewWatchers = new Set<(reviewId: string) => void>();
  private listenClient: pg.Client | undefined;
  private listenStarting = false;
  private listenRetry: NodeJS.Timeout | undefined;
  private readonly listenOptions: pg.ClientConfig;

  /** Kept only to let a verify worker thread of this process connect to the same schema. */
  readonly #connectionString: string;

  constructor(options: PostgresStoreOptions) {
    if (!options || typeof options.connectionString !== 'string' || options.connectionString.length === 0) {
      throw new StoreError('invalid', 'PostgresStore needs a connection string');
    }
    const schema = options.schema ?? 'sluice';
    if (!SCHEMA_NAME.test(schema)) {
      throw new StoreError('invalid', `schema name ${JSON.stringify(schema)} must be letters, digits and _ (at most 63)`);
    }
    this.schema = schema;
    this.#connectionString = options.connectionString;
    this.secrets = urlSecrets(options.connectionString);
    this.where = redactUrl(options.connectionString);
    try {
      new URL(options.connectionString);
    } catch {
      // The URL error would echo the input, password included; say it without it.
      throw new StoreError('invalid', `the PostgreSQL URL ${this.where} is not a valid URL (percent-encode special characters in the password)`);
    }
    const q = `"${schema}"`;
    this.t = {
      schema: q,
      audit: `${q}.audit`,
      keys: `${q}.api_keys`,
      reviews: `${q}.reviews`,
      migrations: `${q}.schema_migrations`,
    };
    this.auditLockKey = lockKey(`sluice:audit:${schema}`);
    // Channel names are identifiers (at most 63 bytes); a hash keeps one per schema within that.
    this.reviewChannel = `sluice_reviews_${createHash('sha256').update(schema).digest('hex').slice(0, 16)}`;
    this.listenOptions = {
      connectionString: options.connectionString,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      keepAlive: true,
      application_name: `${options.applicationName ?? 'sluice'}:listen`,
    };
    this.migrateLockKey = lockKey(`sluice:migrate:${schema}`);
    try {
      this.pool = new pg.Pool({
        connectionString: options.connectionString,
        max: options.maxConnections ?? 10,
        connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
        idleTimeoutMillis: 30_000,
        keepAlive: true,
        statement_timeout: options.statementTimeoutMs ?? 30_000,
        idle_in_transaction_session_timeout: options.idleInTransactionTimeoutMs ?? 60_000,
        application_name: options.applicationName ?? 'sluice',
      });
    } catch (error) {
      // Parse errors of the URL can echo it whole; build a clean error instead.
      throw new StoreError('invalid', `cannot use the PostgreSQL URL ${this.where}: ${this.clean(error)}`);
    }
    // An idle pooled connection that breaks emits 'error' on the pool; unhandled, that would
    // crash the process. The next query gets a fresh connection anyway.
    this.pool.on('error', (error) => {
      options.onError?.(new StoreError('unavailable', `PostgreSQL connection lost (${this.where}): ${this.clean(error)}`));
    });
  }

  /** What a worker thread of this process needs to read the same audit chain (verify). */
  readerOptions(): { connectionString: string; schema: string } {
    return { connectionString: this.#connectionString, schema: this.schema };
  }

  async migrate(): Promise<void> {
    const migrations = loadMigrations('postgres');
    const known = latestVersion('postgres');
    // One transaction per migration, each under the migration advisory lock: nodes starting
    // together wait for each other and each sees the version the previous one reached.
    for (;;) {
      const done = await this.tx('migrate', async (c) => {
        await c.query(`SET LOCAL statement_timeout = 0`);
        await c.query(`SELECT pg_advisory_xact_lock('${this.migrateLockKey}'::bigint)`);
        // Check before CREATE: CREATE ... IF NOT EXISTS still needs the CREATE privilege, which
        // a locked-down Sluice role may not have once the schema exists.
        const ns = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [this.schema]);
        if (ns.rowCount === 0) await c.query(`CREATE SCHEMA ${this.t.schema}`);
        await c.query(`SET LOCAL search_path TO ${this.t.schema}`);
        const reg = await c.query<{ r: string | null }>('SELECT to_regclass($1) AS r', [`${this.t.schema}.schema_migrations`]);
        if (reg.rows[0]?.r == null) {
          await c.query(
            'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)',
          );
        }
        const current = await this.versionWith(c);
        if (current > known) throw schemaTooNew(current, known);
        const next = migrations[current];
        if (!next) return true;
        try {
          await c.query(next.sql);
        } catch (error) {
          throw new StoreError(
            'migration_failed',
            `PostgreSQL migration ${next.version} (${next.name}) failed: ${this.clean(error)}`,
            { cause: error },
          );
        }
        await c.query('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)', [
          next.version,
          next.name,
          next.checksum,
          new Date().toISOString(),
        ]);
        return false;
      });
      if (done) return;
    }
  }

  /** The schema version in the database (0 before the first migration). */
  async schemaVersion(): Promise<number> {
    const c = await this.connect('schemaVersion');
    try {
      const reg = await c.query<{ r: string | null }>('SELECT to_regclass($1) AS r', [`${this.t.schema}.schema_migrations`]);
      if (reg.rows[0]?.r == null) return 0;
      return await this.versionWith(c);
    } catch (error) {
      throw this.wrap(error, 'schemaVersion');
    } finally {
      c.release();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.listenRetry) clearTimeout(this.listenRetry);
    const listener = this.listenClient;
    this.listenClient = undefined;
    await listener?.end().catch(() => undefined);
    await this.pool.end();
  }

  // --- API keys -----------------------------------------------------------------------------

  async insertKey(key: ApiKeyRecord): Promise<void> {
    checkKeyRecord(key);
    await this.query(
      'insertKey',
      `INSERT INTO ${this.t.keys} (${KEY_COLUMNS}) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10, $11, $12)`,
      [
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
        key.token === true,
        key.parentId ?? null,
      ],
      `an API key with id ${key.id} (or the same hash) already exists`,
    );
  }

  async getKey(id: string): Promise<ApiKeyRecord | undefined> {
    const rows = await this.rows('getKey', `SELECT ${KEY_COLUMNS} FROM ${this.t.keys} WHERE id = $1`, [id]);
    return rows[0] ? keyFromRaw(rows[0]) : undefined;
  }

  async listKeys(): Promise<ApiKeyRecord[]> {
    const rows = await this.rows('listKeys', `SELECT ${KEY_COLUMNS} FROM ${this.t.keys} ORDER BY created_at, id`, []);
    return rows.map(keyFromRaw);
  }

  async revokeKey(id: string, at: string): Promise<boolean> {
    const res = await this.query(
      'revokeKey',
      `UPDATE ${this.t.keys} SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`,
      [at, id],
    );
    return res.rowCount === 1;
  }

  async loginKeys(principal: string, since: string): Promise<ApiKeyRecord[]> {
    if (typeof principal !== 'string' || typeof since !== 'string') throw new StoreError('invalid', 'loginKeys: principal and since must be strings');
    // ISO-8601 UTC strings compare correctly as text (COLLATE "C": byte order, whatever the database's collation).
    const rows = await this.rows(
      'loginKeys',
      `SELECT ${KEY_COLUMNS} FROM ${this.t.keys} WHERE principal = $1 AND (revoked_at IS NULL OR revoked_at COLLATE "C" > $2) AND (expires_at IS NULL OR expires_at COLLATE "C" > $2) ORDER BY created_at, id`,
      [principal, since],
    );
    return rows.map(keyFromRaw);
  }

  async hasScramKeys(): Promise<boolean> {
    const rows = await this.rows('hasScramKeys', `SELECT 1 FROM ${this.t.keys} WHERE scram IS NOT NULL LIMIT 1`, []);
    return rows.length > 0;
  }

  async installationSecret(): Promise<Buffer> {
    const rows = await this.rows('installationSecret', `SELECT value FROM ${this.t.schema}.meta WHERE name = 'installation_secret'`, []);
    return installationSecretFrom(rows[0]?.[0]);
  }

  // --- reviews ------------------------------------------------------------------------------

  async insertReview(review: ReviewRecord): Promise<void> {
    checkReviewRecord(review);
    await this.query(
      'insertReview',
      `INSERT INTO ${this.t.reviews} (${REVIEW_COLUMNS}, ${REVIEW_EXTRA_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12, $13::jsonb, $14, $15)`,
      reviewValues(review),
      `a review with id ${review.id} already exists`,
    );
  }

  async getReview(id: string): Promise<ReviewRecord | undefined> {
    const rows = await this.rows('getReview', `SELECT ${REVIEW_COLUMNS}, ${REVIEW_EXTRA_COLUMNS} FROM ${this.t.reviews} WHERE id = $1`, [id]);
    return rows[0] ? fullReviewFromRaw(rows[0]) : undefined;
  }

  async listReviews(filter?: { status?: ReviewStatus }): Promise<ReviewRecord[]> {
    if (filter?.status !== undefined) checkReviewStatus(filter.status, 'listReviews');
    const rows = filter?.status
      ? await this.rows(
          'listReviews',
          `SELECT ${REVIEW_COLUMNS}, ${REVIEW_EXTRA_COLUMNS} FROM ${this.t.reviews} WHERE status = $1 ORDER BY created_at, id`,
          [filter.status],
        )
      : await this.rows('listReviews', `SELECT ${REVIEW_COLUMNS}, ${REVIEW_EXTRA_COLUMNS} FROM ${this.t.reviews} ORDER BY created_at, id`, []);
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
    // A compare-and-set: under READ COMMITTED the second of two concurrent updates waits for
    // the first, re-checks `status = from` on the new row version, and updates nothing.
    // pg_notify in the same statement: held callers on every node wake when this commits.
    const res = await this.query(
      'settleReview',
      `WITH settled AS (UPDATE ${this.t.reviews} SET status = $1, decided_at = $2, decided_by = COALESCE($3, decided_by), note = COALESCE($4, note) WHERE id = $5 AND status = $6 RETURNING id) SELECT pg_notify($7, id) FROM settled`,
      [update.status, update.decidedAt, update.decidedBy ?? null, update.note ?? null, id, from, this.reviewChannel],
    );
    return res.rowCount === 1;
  }

  async findReviews(commandHash: string): Promise<ReviewRecord[]> {
    if (typeof commandHash !== 'string') throw new StoreError('invalid', 'findReviews: commandHash must be a string');
    const rows = await this.rows(
      'findReviews',
      `SELECT ${REVIEW_COLUMNS}, ${REVIEW_EXTRA_COLUMNS} FROM ${this.t.reviews} WHERE command_hash = $1 AND status IN ('pending', 'approved') ORDER BY created_at, id`,
      [commandHash],
    );
    return rows.map(fullReviewFromRaw);
  }

  async listVotes(reviewId: string): Promise<ReviewVote[]> {
    const rows = await this.rows('listVotes', `SELECT ${VOTE_COLUMNS} FROM ${this.t.schema}.review_votes WHERE review_id = $1 ORDER BY at, approver`, [
      reviewId,
    ]);
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
    const votes = `${this.t.schema}.review_votes`;
    const result = await this.tx('castVote', async (c): Promise<VoteResult> => {
      // FOR UPDATE serialises votes on one review across nodes: the next voter reads after this commits.
      const row = await c.query<{ status: string }>(`SELECT status FROM ${this.t.reviews} WHERE id = $1 FOR UPDATE`, [vote.reviewId]);
      if (row.rows[0]?.status !== 'pending') return 'not_pending';
      const count = await c.query<{ n: string; mine: string }>(
        `SELECT COUNT(*) AS n, COUNT(*) FILTER (WHERE approver = $2) AS mine FROM ${votes} WHERE review_id = $1`,
        [vote.reviewId, vote.approver],
      );
      if (Number(count.rows[0]?.n) !== expectVotes) return 'conflict';
      if (Number(count.rows[0]?.mine) > 0) return 'duplicate';
      await c.query(`INSERT INTO ${votes} (${VOTE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6::jsonb)`, voteValues(vote));
      if (settle) {
        await c.query(
          `UPDATE ${this.t.reviews} SET status = $1, decided_at = $2, decided_by = $3, note = COALESCE($4, note) WHERE id = $5 AND status = 'pending'`,
          [settle.status, settle.decidedAt, settle.decidedBy, settle.note ?? null, vote.reviewId],
        );
        await c.query('SELECT pg_notify($1, $2)', [this.reviewChannel, vote.reviewId]);
      }
      if (grant) {
        await c.query(
          `INSERT INTO ${this.t.schema}.grants (${GRANT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12::jsonb, $13, $14, $15, $16)`,
          newGrantValues(grant),
        );
      }
      return 'cast';
    });
    return result;
  }

  async heartbeatReviews(holder: string, at: string): Promise<void> {
    await this.query('heartbeatReviews', `UPDATE ${this.t.reviews} SET heartbeat_at = $1 WHERE holder = $2 AND status = 'pending'`, [at, holder]);
  }

  async cancelAbandonedReviews(staleBefore: string, at: string, note: string): Promise<ReviewRecord[]> {
    // Every node sweeps; the status check makes each cancellation happen once.
    const rows = await this.rows(
      'cancelAbandonedReviews',
      `WITH gone AS (UPDATE ${this.t.reviews} SET status = 'cancelled', decided_at = $2, note = $3 WHERE status = 'pending' AND holder IS NOT NULL AND heartbeat_at IS NOT NULL AND heartbeat_at COLLATE "C" < $1 RETURNING ${REVIEW_COLUMNS}, ${REVIEW_EXTRA_COLUMNS}), told AS (SELECT pg_notify($4, id) FROM gone) SELECT gone.*, (SELECT COUNT(*) FROM told) FROM gone`,
      [staleBefore, at, note, this.reviewChannel],
    );
    return rows.map(fullReviewFromRaw);
  }

  async getGrant(id: string): Promise<GrantRecord | undefined> {
    const rows = await this.rows('getGrant', `SELECT ${GRANT_COLUMNS} FROM ${this.t.schema}.grants WHERE id = $1`, [id]);
    return rows[0] ? grantFromRaw(rows[0]) : undefined;
  }

  async listGrants(filter: { activeAt?: string; principal?: string; connection?: string; rule?: string } = {}): Promise<GrantRecord[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.activeAt !== undefined) {
      params.push(filter.activeAt);
      where.push(`revoked_at IS NULL AND expires_at COLLATE "C" > $${params.length}`);
    }
    for (const key of ['principal', 'connection', 'rule'] as const) {
      if (filter[key] !== undefined) {
        params.push(filter[key]);
        where.push(`${key} = $${params.length}`);
      }
    }
    const rows = await this.rows(
      'listGrants',
      `SELECT ${GRANT_COLUMNS} FROM ${this.t.schema}.grants${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id`,
      params,
    );
    return rows.map(grantFromRaw);
  }

  async revokeGrant(id: string, at: string, by: string): Promise<boolean> {
    const res = await this.query('revokeGrant', `UPDATE ${this.t.schema}.grants SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL`, [
      at,
      by,
      id,
    ]);
    return res.rowCount === 1;
  }

  async useGrant(id: string, at: string): Promise<boolean> {
    const res = await this.query(
      'useGrant',
      `UPDATE ${this.t.schema}.grants SET uses = uses + 1, last_used_at = $1 WHERE id = $2 AND revoked_at IS NULL AND expires_at COLLATE "C" > $1`,
      [at, id],
    );
    return res.rowCount === 1;
  }

  watchReviews(listener: (reviewId: string) => void): () => void {
    this.reviewWatchers.add(listener);
    this.listen();
    return () => this.reviewWatchers.delete(listener);
  }

  /**
   * Opens the LISTEN connection; on failure or loss, tries again every second. Watchers are
   * told `*` after each (re)connect, because notifications sent while it was down are lost.
   */
  private listen(): void {
    if (this.closed || this.listenClient || this.listenStarting || this.listenRetry) return;
    this.listenStarting = true;
    const client = new pg.Client(this.listenOptions);
    const lost = () => {
      if (this.listenClient === client) this.listenClient = undefined;
      client.end().catch(() => undefined);
      if (!this.closed && !this.listenRetry) {
        this.listenRetry = setTimeout(() => {
          this.listenRetry = undefined;
          this.listen();
        }, 1000);
        this.listenRetry.unref();
      }
    };
    client.on('error', lost);
    client.on('end', () => {
      if (this.listenClient === client) lost();
    });
    client.on('notification', (message) => {
      if (message.channel === this.reviewChannel && message.payload) this.tellWatchers(message.payload);
    });
    client
      .connect()
      .then(() => client.query(`LISTEN "${this.reviewChannel}"`))
      .then(() => {
        this.listenStarting = false;
        if (this.closed) {
          void client.end().catch(() => undefined);
          return;
        }
        this.listenClient = client;
        this.tellWatchers('*');
      })
      .catch(() => {
        this.listenStarting = false;
        lost();
      });
  }

  private tellWatchers(reviewId: string): void {
    for (const watcher of this.reviewWatchers) {
      try {
        watcher(reviewId);
      } catch {
        // A watcher's failure is its own.
      }
    }
  }

  // --- audit --------------------------------------------------------------------------------

  async appendAudit(records: readonly PreparedAuditRecord[]): Promise<AuditRow[]> {
    checkPreparedRecords(records);
    if (this.closed) throw new StoreError('closed', 'the PostgreSQL store is closed');
    if (records.length === 0) return [];
    // Optimistic first: seal on the head this store last wrote and insert in one statement
    // (one round trip, one commit). It takes the advisory lock too, so it never interleaves
    // with a locked append. When another node appended meanwhile, the first seq already exists:
    // the primary key refuses the whole statement (nothing of it is stored), and the batch is
    // sealed again on the real head under the lock. After such a conflict (other nodes are
    // busy), the next batches go straight to the lock for a while.
    const guess = this.lastHead;
    if (guess && this.lockedBatches === 0) {
      const rows = sealPrepared(guess, records);
      try {
        await this.query('appendAudit', this.insertAuditSql(true), auditColumns(rows), AUDIT_SEQ_TAKEN);
        this.lastHead = headOf(rows);
        return rows;
      } catch (error) {
        this.lastHead = undefined;
        if (!(error instanceof StoreError && error.code === 'conflict')) throw error;
        this.lockedBatches = LOCKED_AFTER_CONFLICT;
      }
    } else if (this.lockedBatches > 0) {
      this.lockedBatches -= 1;
    }
    const rows = await this.lockedAppend(records);
    this.lastHead = headOf(rows);
    return rows;
  }

  /** Takes the audit lock, reads the head and inserts sealed on it: three round trips. */
  private async lockedAppend(records: readonly PreparedAuditRecord[]): Promise<AuditRow[]> {
    const c = await this.connect('appendAudit');
    let broken = false;
    try {
      // BEGIN, the lock and the head in one round trip. Under READ COMMITTED the SELECT takes
      // its snapshot after the lock is granted, so it sees the previous appender's rows.
      const results = (await c.query(
        `BEGIN; SELECT pg_advisory_xact_lock('${this.auditLockKey}'::bigint); SELECT seq, hash FROM ${this.t.audit} ORDER BY seq DESC LIMIT 1`,
      )) as unknown as pg.QueryResult<{ seq: string; hash: string }>[];
      const headRow = results[2]?.rows[0];
      const head: ChainHead = headRow ? { seq: Number(headRow.seq), hash: headRow.hash } : { ...GENESIS_HEAD };
      const rows = sealPrepared(head, records);
      await c.query(this.insertAuditSql(false), auditColumns(rows));
      await c.query('COMMIT');
      return rows;
    } catch (error) {
      try {
        await c.query('ROLLBACK');
      } catch {
        broken = true; // the connection is gone; do not return it to the pool
      }
      throw this.wrap(error, 'appendAudit');
    } finally {
      c.release(broken);
    }
  }

  /** unnest inserts any number of rows with a fixed 11 parameters; `lock`: take the audit lock in the statement. */
  private insertAuditSql(lock: boolean): string {
    const rows = `unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])`;
    return lock
      ? `WITH audit_lock AS MATERIALIZED (SELECT pg_advisory_xact_lock('${this.auditLockKey}'::bigint)) INSERT INTO ${this.t.audit} (${AUDIT_COLUMNS}) SELECT r.* FROM audit_lock, ${rows} AS r`
      : `INSERT INTO ${this.t.audit} (${AUDIT_COLUMNS}) SELECT * FROM ${rows}`;
  }

  async auditHead(): Promise<ChainHead> {
    const rows = await this.rows('auditHead', `SELECT seq, hash FROM ${this.t.audit} ORDER BY seq DESC LIMIT 1`, []);
    const r = rows[0];
    return r ? { seq: Number(r[0]), hash: r[1] as string } : { ...GENESIS_HEAD };
  }

  async readAudit(query: AuditQuery): Promise<AuditRow[]> {
    checkAuditQuery(query);
    const where: string[] = [];
    const params: unknown[] = [];
    if (query.afterSeq !== undefined) {
      params.push(query.afterSeq);
      where.push(`seq > $${params.length}`);
    }
    if (query.beforeSeq !== undefined) {
      params.push(query.beforeSeq);
      where.push(`seq < $${params.length}`);
    }
    for (const [key, column] of AUDIT_FILTERS) {
      const v = query[key];
      if (v !== undefined) {
        params.push(v);
        where.push(`${column} = $${params.length}`);
      }
    }
    params.push(query.limit);
    const sql =
      `SELECT ${AUDIT_COLUMNS} FROM ${this.t.audit}` +
      (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
      ` ORDER BY seq ${query.descending ? 'DESC' : 'ASC'} LIMIT $${params.length}`;
    const rows = await this.rows('readAudit', sql, params);
    const out = new Array<AuditRow>(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = auditRowFromRaw(rows[i]!);
    return out;
  }

  // --- placeholder vault (masking/vault.ts) -------------------------------------------------

  async putVaultEntries(entries: readonly VaultEntry[]): Promise<void> {
    checkVaultEntries(entries);
    if (entries.length === 0) return;
    // One statement for the whole batch: unnest takes a fixed 7 parameters.
    const cols: string[][] = Array.from({ length: 7 }, () => []);
    for (const e of entries) [e.scope, e.placeholder, e.type, e.keyId, e.sealed, e.createdAt, e.expiresAt].forEach((v, i) => cols[i]!.push(v));
    await this.query(
      'putVaultEntries',
      `INSERT INTO ${this.t.schema}.placeholder_vault (${VAULT_COLUMNS}) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) ` +
        'ON CONFLICT (scope, placeholder) DO UPDATE SET type = excluded.type, key_id = excluded.key_id, sealed = excluded.sealed, expires_at = excluded.expires_at',
      cols,
    );
  }

  async getVaultEntries(placeholders: readonly string[], scopes: readonly string[], now: string): Promise<VaultEntry[]> {
    checkVaultLookup(placeholders, scopes, now);
    if (placeholders.length === 0 || scopes.length === 0) return [];
    const rows = await this.rows(
      'getVaultEntries',
      `SELECT ${VAULT_COLUMNS} FROM ${this.t.schema}.placeholder_vault WHERE placeholder = ANY($1::text[]) AND scope = ANY($2::text[]) AND expires_at > $3`,
      [placeholders, scopes, now],
    );
    return rows.map(vaultEntryFromRaw);
  }

  async pruneVault(now: string): Promise<number> {
    if (typeof now !== 'string') throw new StoreError('invalid', 'pruneVault: now must be an ISO time string');
    const res = await this.query('pruneVault', `DELETE FROM ${this.t.schema}.placeholder_vault WHERE expires_at <= $1`, [now]);
    return res.rowCount ?? 0;
  }

  // --- audit retention (audit/retention.ts) -------------------------------------------------

  async readAuditBase(): Promise<string | undefined> {
    const rows = await this.rows('readAuditBase', `SELECT value FROM ${this.t.schema}.meta WHERE name = $1`, [AUDIT_BASE]);
    return rows[0]?.[0] as string | undefined;
  }

  async pruneAudit(base: string): Promise<number> {
    const upto = auditBaseSeq(base);
    const lock = lockKey(`sluice:prune:${this.schema}`);
    // The base first: once it is stored, verify starts from it and ignores what is left below.
    const target = await this.tx('pruneAudit', async (c) => {
      await c.query(`SELECT pg_advisory_xact_lock('${lock}'::bigint)`);
      const cur = await c.query<{ value: string }>(`SELECT value FROM ${this.t.schema}.meta WHERE name = $1 FOR UPDATE`, [AUDIT_BASE]);
      const current = cur.rows[0] ? auditBaseSeq(cur.rows[0].value) : 0;
      if (upto <= current) return current;
      // Deleting needs the table's owner (to lift the trigger): find out before the base is stored.
      await c.query(`ALTER TABLE ${this.t.audit} DISABLE TRIGGER audit_no_change; ALTER TABLE ${this.t.audit} ENABLE TRIGGER audit_no_change`);
      await c.query(
        `INSERT INTO ${this.t.schema}.meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`,
        [AUDIT_BASE, base],
      );
      return upto;
    });
    // The append-only trigger is lifted for one chunk at a time (this needs the table's owner).
    // DISABLE TRIGGER takes a SHARE ROW EXCLUSIVE lock: appends wait for the chunk, reads do not.
    let deleted = 0;
    for (;;) {
      const n = await this.tx('pruneAudit', async (c) => {
        await c.query(`ALTER TABLE ${this.t.audit} DISABLE TRIGGER audit_no_change`);
        const r = await c.query(
          `DELETE FROM ${this.t.audit} WHERE seq IN (SELECT seq FROM ${this.t.audit} WHERE seq <= $1 ORDER BY seq LIMIT ${PRUNE_CHUNK})`,
          [target],
        );
        await c.query(`ALTER TABLE ${this.t.audit} ENABLE TRIGGER audit_no_change`);
        return r.rowCount ?? 0;
      });
      deleted += n;
      if (n < PRUNE_CHUNK) return deleted;
    }
  }

  // --- internals ----------------------------------------------------------------------------

  private async versionWith(c: PoolClient): Promise<number> {
    const r = await c.query<{ v: number | null }>(`SELECT MAX(version) AS v FROM ${this.t.migrations}`);
    return Number(r.rows[0]?.v ?? 0);
  }

  private async connect(op: string): Promise<PoolClient> {
    if (this.closed) throw new StoreError('closed', 'the PostgreSQL store is closed');
    try {
      return await this.pool.connect();
    } catch (error) {
      throw this.wrap(error, op);
    }
  }

  private async query(op: string, text: string, values: unknown[], conflictMessage?: string): Promise<pg.QueryResult> {
    if (this.closed) throw new StoreError('closed', 'the PostgreSQL store is closed');
    try {
      return await this.pool.query(text, values);
    } catch (error) {
      throw this.wrap(error, op, conflictMessage);
    }
  }

  private async rows(op: string, text: string, values: unknown[]): Promise<unknown[][]> {
    if (this.closed) throw new StoreError('closed', 'the PostgreSQL store is closed');
    try {
      const res = await this.pool.query<QueryResultRow & unknown[]>({ text, values, rowMode: 'array' });
      return res.rows;
    } catch (error) {
      throw this.wrap(error, op);
    }
  }

  /** Runs `fn` in a transaction on one pooled connection; rolls back on any error. */
  private async tx<T>(op: string, fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const c = await this.connect(op);
    let broken = false;
    try {
      await c.query('BEGIN');
      const result = await fn(c);
      await c.query('COMMIT');
      return result;
    } catch (error) {
      try {
        await c.query('ROLLBACK');
      } catch {
        broken = true; // the connection is gone; do not return it to the pool
      }
      throw this.wrap(error, op);
    } finally {
      c.release(broken);
    }
  }

  private clean(error: unknown): string {
    const raw = error instanceof Error ? error.message || String((error as { code?: unknown }).code ?? error.name) : String(error);
    return redactSecrets(raw, this.secrets);
  }

  private wrap(error: unknown, op: string, conflictMessage?: string): StoreError {
    if (error instanceof StoreError) return error;
    const e = error as { code?: unknown; severity?: unknown };
    const code = typeof e?.code === 'string' ? e.code : undefined;
    // Server-reported errors (they have a severity) are safe to keep as the cause; client-side
    // connection errors may carry the connection parameters, so they are not attached.
    const cause = typeof e?.severity === 'string' ? { cause: error } : undefined;
    if (code === '23505' && conflictMessage) return new StoreError('conflict', conflictMessage, cause);
    if (code && (code.startsWith('28') || code === '3D000')) {
      return new StoreError('unavailable', `PostgreSQL at ${this.where} refused the connection: ${this.clean(error)}`, cause);
    }
    if (isConnectionFailure(error, code)) {
      return new StoreError('unavailable', `cannot reach PostgreSQL at ${this.where}: ${this.clean(error)}`, cause);
    }
    return new StoreError('failed', `${op}: ${this.clean(error)}`, cause);
  }
}

function isConnectionFailure(error: unknown, code: string | undefined): boolean {
  if (code) {
    if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE'].includes(code)) {
      return true;
    }
    // 08: connection exception; 57P01-03: server shutting down / cannot connect now.
    if (code.startsWith('08') || /^57P0[1-3]$/.test(code)) return true;
  }
  const message = error instanceof Error ? error.message : '';
  return /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED/i.test(message);
}

const AUDIT_SEQ_TAKEN = 'another node appended to the audit chain first';
const LOCKED_AFTER_CONFLICT = 32;

function headOf(rows: readonly AuditRow[]): ChainHead {
  const last = rows[rows.length - 1]!;
  return { seq: last.seq, hash: last.hash };
}

/** The rows as 11 column arrays, in AUDIT_COLUMNS order, for unnest. */
function auditColumns(rows: readonly AuditRow[]): unknown[][] {
  const cols: unknown[][] = Array.from({ length: 11 }, () => new Array<unknown>(rows.length));
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    cols[0]![i] = r.seq;
    cols[1]![i] = r.time;
    cols[2]![i] = r.kind;
    cols[3]![i] = r.actionId ?? null;
    cols[4]![i] = r.session ?? null;
    cols[5]![i] = r.principal ?? null;
    cols[6]![i] = r.connection ?? null;
    cols[7]![i] = r.effect ?? null;
    cols[8]![i] = r.prevHash;
    cols[9]![i] = r.hash;
    cols[10]![i] = r.body;
  }
  return cols;
}

/** A signed 64-bit advisory lock key derived from a name, as a SQL literal. */
function lockKey(name: string): string {
  return createHash('sha256').update(name).digest().readBigInt64BE(0).toString();
}
