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
  ReviewRecord,
  ReviewStatus,
  Store,
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
  reviewFromRaw,
  sealPrepared,
} from './common.js';
import { latestVersion, loadMigrations, schemaTooNew } from './migrations.js';

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

  constructor(options: PostgresStoreOptions) {
    if (!options || typeof options.connectionString !== 'string' || options.connectionString.length === 0) {
      throw new StoreError('invalid', 'PostgresStore needs a connection string');
    }
    const schema = options.schema ?? 'sluice';
    if (!SCHEMA_NAME.test(schema)) {
      throw new StoreError('invalid', `schema name ${JSON.stringify(schema)} must be letters, digits and _ (at most 63)`);
    }
    this.schema = schema;
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
      `INSERT INTO ${this.t.reviews} (${REVIEW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12)`,
      [
        review.id,
        review.actionId,
        review.status,
        review.createdAt,
        review.expiresAt,
        review.commandHash,
        jsonColumn(review.action, 'insertReview: action'),
        review.rule,
        review.reason,
        review.decidedAt ?? null,
        review.decidedBy ?? null,
        review.note ?? null,
      ],
      `a review with id ${review.id} already exists`,
    );
  }

  async getReview(id: string): Promise<ReviewRecord | undefined> {
    const rows = await this.rows('getReview', `SELECT ${REVIEW_COLUMNS} FROM ${this.t.reviews} WHERE id = $1`, [id]);
    return rows[0] ? reviewFromRaw(rows[0]) : undefined;
  }

  async listReviews(filter?: { status?: ReviewStatus }): Promise<ReviewRecord[]> {
    if (filter?.status !== undefined) checkReviewStatus(filter.status, 'listReviews');
    const rows = filter?.status
      ? await this.rows(
          'listReviews',
          `SELECT ${REVIEW_COLUMNS} FROM ${this.t.reviews} WHERE status = $1 ORDER BY created_at, id`,
          [filter.status],
        )
      : await this.rows('listReviews', `SELECT ${REVIEW_COLUMNS} FROM ${this.t.reviews} ORDER BY created_at, id`, []);
    return rows.map(reviewFromRaw);
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
    const res = await this.query(
      'settleReview',
      `UPDATE ${this.t.reviews} SET status = $1, decided_at = $2, decided_by = COALESCE($3, decided_by), note = COALESCE($4, note) WHERE id = $5 AND status = $6`,
      [update.status, update.decidedAt, update.decidedBy ?? null, update.note ?? null, id, from],
    );
    return res.rowCount === 1;
  }

  // --- audit --------------------------------------------------------------------------------

  async appendAudit(records: readonly PreparedAuditRecord[]): Promise<AuditRow[]> {
    checkPreparedRecords(records);
    return this.tx('appendAudit', async (c) => {
      // One round trip: take the lock, then read the head. Under READ COMMITTED the SELECT
      // takes its snapshot after the lock is granted, so it sees the previous appender's rows.
      const results = (await c.query(
        `SELECT pg_advisory_xact_lock('${this.auditLockKey}'::bigint); SELECT seq, hash FROM ${this.t.audit} ORDER BY seq DESC LIMIT 1`,
      )) as unknown as pg.QueryResult<{ seq: string; hash: string }>[];
      const headRow = results[1]?.rows[0];
      const head: ChainHead = headRow ? { seq: Number(headRow.seq), hash: headRow.hash } : { ...GENESIS_HEAD };
      const rows = sealPrepared(head, records);
      if (rows.length === 0) return rows;
      // unnest inserts any number of rows with a fixed 11 parameters.
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
      await c.query(
        `INSERT INTO ${this.t.audit} (${AUDIT_COLUMNS}) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[])`,
        cols,
      );
      return rows;
    });
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

/** A signed 64-bit advisory lock key derived from a name, as a SQL literal. */
function lockKey(name: string): string {
  return createHash('sha256').update(name).digest().readBigInt64BE(0).toString();
}
