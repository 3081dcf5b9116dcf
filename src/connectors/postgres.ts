// The PostgreSQL connector: runs SQL the gate has allowed on an upstream server, as the
// gateway's own database user. The password lives here only; callers never see it, and it
// is scrubbed from every message this module produces.
//
// Decisions worth knowing:
// - The text is sent as ONE simple-protocol query, exactly as analysed by the gate, so
//   several statements run in one implicit transaction, as in psql. The result reported is
//   that of the LAST statement that returned rows (had a row description); when none did,
//   that of the last statement. columns/rows/rowCount/commandTag always describe the same
//   statement.
// - Results are never buffered beyond `maxRows`: a custom pg "submittable" receives the
//   protocol messages one row at a time and keeps only the first `maxRows` rows of each
//   result; later rows are read off the socket and dropped (memory stays bounded; the
//   server still sends them, and rowCount reports the full count). A portal/cursor with a
//   row limit would stop the server early, but it needs the extended protocol, which runs
//   one statement only, and cancelling mid-way would roll back writes earlier in the text.
//   statement_timeout bounds how long such a query can run.
// - Values come back as the server's text except where conversion is lossless: booleans,
//   int2/int4/oid, finite floats, json/jsonb. int8, numeric, dates and times stay text,
//   so nothing is rounded or shifted into the gateway's time zone.
// - Every command starts from a clean session: after each command the connection is reset
//   with DISCARD ALL (off the caller's path, before it is reused), and a connection left
//   inside a transaction, cancelled, or broken is closed instead of reused. Otherwise one
//   caller's SET ROLE, search_path or open BEGIN would leak into another's command.
// - Abort (context.signal) sends a protocol CancelRequest. If the server has not stopped
//   the query within `cancelGraceMs`, the connection is closed. A client-side deadline of
//   statementTimeoutMs + 1 s backs up statement_timeout for servers that ignore it (PGlite)
//   or when the command itself changes it.

import net from 'node:net';
import pg from 'pg';
import type { Connection, PoolClient } from 'pg';
import type { ColumnInfo, Connector, ExecutionContext, ExecutionResult } from './connector.js';

export interface PostgresConnectorOptions {
  host: string;
  port: number;
  database: string;
  user: string;
  /** Injected on connect; never returned, logged or included in messages. */
  password?: string;
  /** TLS to the upstream. Default: no TLS. Certificates are verified unless rejectUnauthorized is false. */
  ssl?: false | { rejectUnauthorized?: boolean; ca?: string };
  /** Pool size. Default 5. Use 1 for the PGlite demo database. */
  maxConnections?: number;
  /** statement_timeout set on every connection; 0 disables. Default 30000. */
  statementTimeoutMs?: number;
  /** Rows kept per result; more are counted but dropped and `truncated` set. Default 1000. */
  maxRows?: number;
  /** application_name shown in pg_stat_activity. Default `sluice`. */
  applicationName?: string;
  /** Time allowed to open a connection. Default 10000. */
  connectTimeoutMs?: number;
  /** After a cancel request, how long to wait before closing the connection. Default 2000. */
  cancelGraceMs?: number;
}

const DEFAULTS = {
  maxConnections: 5,
  statementTimeoutMs: 30_000,
  maxRows: 1000,
  applicationName: 'sluice',
  connectTimeoutMs: 10_000,
  cancelGraceMs: 2000,
};
// Slack before the client-side deadline fires, so the server's own statement_timeout (with
// its precise SQLSTATE) normally wins.
const CLIENT_DEADLINE_SLACK_MS = 1000;
const CLOSE_GRACE_MS = 5000;

type StopReason = 'aborted' | 'timeout';

export function createPostgresConnector(options: PostgresConnectorOptions): Connector {
  const o = {
    host: options.host,
    port: options.port,
    database: options.database,
    user: options.user,
    maxConnections: options.maxConnections ?? DEFAULTS.maxConnections,
    statementTimeoutMs: options.statementTimeoutMs ?? DEFAULTS.statementTimeoutMs,
    maxRows: options.maxRows ?? DEFAULTS.maxRows,
    applicationName: options.applicationName ?? DEFAULTS.applicationName,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULTS.connectTimeoutMs,
    cancelGraceMs: options.cancelGraceMs ?? DEFAULTS.cancelGraceMs,
  };
  validateOptions(o);
  const secrets = options.password ? [options.password] : [];
  const redact = (text: string) => redactSecrets(text, secrets);
  const endpoint = `${o.host}:${o.port}`;

  const pool = new pg.Pool({
    host: o.host,
    port: o.port,
    database: o.database,
    user: o.user,
    // A function keeps the password off pg's objects and stops pg from falling back to
    // PGPASSWORD or ~/.pgpass of the gateway process when none is configured.
    password: () => options.password ?? '',
    ssl: sslOptions(options.ssl),
    max: o.maxConnections,
    statement_timeout: o.statementTimeoutMs > 0 ? o.statementTimeoutMs : undefined,
    application_name: o.applicationName,
    connectionTimeoutMillis: o.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    // Idle pooled connections must not keep the gateway process alive on shutdown.
    allowExitOnIdle: true,
    keepAlive: true,
  });
  // An idle connection that dies (server restart) is reported here; without a listener the
  // error would crash the gateway. The pool drops the connection by itself.
  pool.on('error', () => {});

  const running = new Set<{ stop: (reason: StopReason) => void; finished: Promise<void> }>();
  const resets = new Set<Promise<void>>();
  const checkedOut = new Set<PoolClient>();
  let closed = false;

  async function execute(command: string, context: ExecutionContext): Promise<ExecutionResult> {
    if (closed) return failure('closed', 'the postgres connector has been closed');
    if (context.signal?.aborted) return failure('aborted', 'the query was aborted before it started');

    let client: PoolClient;
    try {
      client = await acquire(pool, context.signal);
    } catch (err) {
      if (err instanceof AbortedError) return failure('aborted', 'the query was aborted before it started');
      if (isPoolTimeout(err) && pool.totalCount >= o.maxConnections && pool.idleCount === 0) {
        // Not the server's fault: every pooled connection was running someone's command.
        return failure(
          'upstream_busy',
          `all ${o.maxConnections} connections to the upstream database stayed busy for ${o.connectTimeoutMs} ms; try again later`,
        );
      }
      return failure(
        'upstream_unavailable',
        redact(`cannot connect to the upstream database at ${endpoint}: ${describeConnectError(err, o.connectTimeoutMs)}`),
      );
    }

    checkedOut.add(client);
    let broken = false;
    const onClientError = () => {
      broken = true;
    };
    client.on('error', onClientError);

    const query = new CappedQuery(command, o.maxRows);
    let stopReason: StopReason | undefined;
    let forced = false;
    let forceTimer: NodeJS.Timeout | undefined;
    let settleForced: () => void = () => {};
    const forcedClose = new Promise<void>((resolve) => {
      settleForced = resolve;
    });

    const stop = (reason: StopReason) => {
      if (stopReason || query.settled) return;
      stopReason = reason;
      sendCancelRequest(o.host, o.port, client);
      forceTimer = setTimeout(() => {
        // The server did not stop the query; close the connection and report without waiting.
        forced = true;
        client.connection.stream.destroy();
        settleForced();
      }, o.cancelGraceMs);
    };
    const onAbort = () => stop('aborted');
    context.signal?.addEventListener('abort', onAbort, { once: true });
    const deadline =
      o.statementTimeoutMs > 0
        ? setTimeout(() => stop('timeout'), Math.min(o.statementTimeoutMs + CLIENT_DEADLINE_SLACK_MS, 2_147_483_647))
        : undefined;

    let finish: () => void = () => {};
    const entry = { stop, finished: new Promise<void>((resolve) => (finish = resolve)) };
    running.add(entry);
    let outcome: { result: QueryOutcome } | { error: unknown };
    try {
      client.query(query);
      outcome = await Promise.race([
        query.done.then((result) => ({ result }), (error: unknown) => ({ error })),
        forcedClose.then(() => ({ error: new AbortedError() })),
      ]);
    } finally {
      running.delete(entry);
      finish();
      clearTimeout(deadline);
      clearTimeout(forceTimer);
      context.signal?.removeEventListener('abort', onAbort);
    }

    // A cancel request can land on whatever the backend runs next, so a connection that
    // was sent one is never reused.
    const reusable = !broken && !forced && stopReason === undefined;
    releaseClient(client, reusable, onClientError);

    if ('result' in outcome) return toResult(outcome.result);
    return errorResult(outcome.error, stopReason, broken || forced, o, redact);
  }

  function releaseClient(client: PoolClient, reusable: boolean, onClientError: () => void): void {
    const release = (err?: Error) => {
      client.removeListener('error', onClientError);
      checkedOut.delete(client);
      client.release(err);
    };
    if (!reusable) {
      release(new Error('connection not reusable'));
      return;
    }
    // DISCARD ALL fails inside a transaction block, which is exactly when the connection
    // must not be reused either: the failure closes it and the server rolls back.
    const reset = client.query('DISCARD ALL').then(
      () => release(),
      (err: unknown) => release(err instanceof Error ? err : new Error('reset failed')),
    );
    resets.add(reset);
    void reset.finally(() => resets.delete(reset));
  }

  return {
    kind: 'postgres',
    execute,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const entry of running) entry.stop('aborted');
      await Promise.all([...running].map((entry) => entry.finished));
      // A reset only waits on a frozen server; do not let that hold shutdown forever.
      await Promise.race([Promise.allSettled([...resets]), delay(CLOSE_GRACE_MS)]);
      for (const client of checkedOut) client.connection.stream.destroy();
      await pool.end();
    },
  };
}

// ---------------------------------------------------------------------------------------
// Running one query

interface QueryOutcome {
  columns?: ColumnInfo[];
  rows?: unknown[][];
  rowCount?: number;
  commandTag?: string;
  truncated: boolean;
}

interface FieldDescription {
  name: string;
  dataTypeID: number;
}

interface ResultInProgress {
  columns: ColumnInfo[];
  convert: ((text: string) => unknown)[];
  rows: unknown[][];
  seen: number;
  truncated: boolean;
}

/**
 * A pg "submittable": pg hands it the protocol messages of one simple query. It keeps at
 * most `maxRows` rows per result and settles `done` at ReadyForQuery (or on error).
 */
class CappedQuery {
  readonly done: Promise<QueryOutcome>;
  settled = false;
  private resolveDone!: (outcome: QueryOutcome) => void;
  private rejectDone!: (err: unknown) => void;
  private current: ResultInProgress | undefined;
  private reported: QueryOutcome = { truncated: false };

  constructor(
    private readonly text: string,
    private readonly maxRows: number,
  ) {
    this.done = new Promise((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // Rejections are consumed by the caller; this only stops an unhandled-rejection report
    // when the caller has already given up (forced close).
    void this.done.catch(() => {});
  }

  submit(connection: Connection): void {
    connection.query(this.text);
  }

  handleRowDescription(msg: { fields: FieldDescription[] }): void {
    this.current = {
      columns: msg.fields.map((f) => ({ name: f.name, type: typeName(f.dataTypeID) })),
      convert: msg.fields.map((f) => converterFor(f.dataTypeID)),
      rows: [],
      seen: 0,
      truncated: false,
    };
  }

  handleDataRow(msg: { fields: (string | null)[] }): void {
    const current = this.current;
    if (!current) return;
    current.seen++;
    if (current.rows.length >= this.maxRows) {
      current.truncated = true;
      return;
    }
    current.rows.push(msg.fields.map((value, i) => (value === null ? null : current.convert[i]!(value))));
  }

  handleCommandComplete(msg: { text: string }): void {
    const { tag, count } = parseCommandTag(msg.text);
    const current = this.current;
    this.current = undefined;
    if (current) {
      this.reported = {
        columns: current.columns,
        rows: current.rows,
        rowCount: count ?? current.seen,
        commandTag: tag,
        truncated: current.truncated,
      };
    } else if (this.reported.columns === undefined) {
      // No statement has returned rows yet: report the latest one.
      this.reported = { rowCount: count, commandTag: tag, truncated: false };
    }
  }

  handleEmptyQuery(): void {}

  handlePortalSuspended(): void {}

  handleCopyInResponse(connection: Connection & { sendCopyFail(message: string): void }): void {
    // There is no input stream to copy from; end the COPY so the connection stays usable.
    connection.sendCopyFail('COPY FROM STDIN is not supported through this connection');
  }

  handleCopyData(): void {}

  handleError(err: unknown): void {
    this.settled = true;
    this.rejectDone(err);
  }

  handleReadyForQuery(): void {
    this.settled = true;
    this.resolveDone(this.reported);
  }
}

function toResult(outcome: QueryOutcome): ExecutionResult {
  const result: ExecutionResult = { ok: true, truncated: outcome.truncated };
  if (outcome.columns) {
    result.columns = outcome.columns;
    result.rows = outcome.rows ?? [];
  }
  if (outcome.rowCount !== undefined) result.rowCount = outcome.rowCount;
  if (outcome.commandTag !== undefined) result.commandTag = outcome.commandTag;
  return result;
}

function errorResult(
  err: unknown,
  stopReason: StopReason | undefined,
  connectionLost: boolean,
  o: { statementTimeoutMs: number },
  redact: (text: string) => string,
): ExecutionResult {
  const code: unknown = (err as { code?: unknown }).code;
  const sqlstate = err instanceof pg.DatabaseError && typeof code === 'string' ? code : undefined;
  const isServerError = sqlstate !== undefined;
  // 57014 is query_canceled: our own cancel, whatever the server says.
  if (stopReason && (!isServerError || sqlstate === '57014' || connectionLost)) {
    if (stopReason === 'timeout') {
      return {
        ok: false,
        timedOut: true,
        error: { code: 'timeout', message: `the query did not finish within ${o.statementTimeoutMs} ms and was cancelled` },
      };
    }
    return failure('aborted', 'the query was cancelled');
  }
  if (sqlstate !== undefined) {
    const e = err as pg.DatabaseError;
    let message = e.message;
    if (e.position) message += ` (at character ${e.position})`;
    if (e.hint) message += `; hint: ${e.hint}`;
    // The server's DETAIL is left out on purpose: it can quote row values (e.g. the key of a
    // unique violation) that the masking layer never sees here.
    return failure(sqlstate, redact(message));
  }
  return failure(
    'connection_lost',
    redact(
      `the connection to the upstream database failed while the command ran; it may or may not have taken effect (${errorText(err)})`,
    ),
  );
}

// ---------------------------------------------------------------------------------------
// Connections

class AbortedError extends Error {
  constructor() {
    super('aborted');
  }
}

/** pool.connect() that gives up when `signal` aborts; a connection that arrives later goes back to the pool. */
function acquire(pool: pg.Pool, signal: AbortSignal | undefined): Promise<PoolClient> {
  const pending = pool.connect();
  if (!signal) return pending;
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      reject(new AbortedError());
      pending.then(
        (client) => client.release(),
        () => {},
      );
    };
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (client) => {
        signal.removeEventListener('abort', onAbort);
        if (!signal.aborted) resolve(client);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

const CANCEL_REQUEST_CODE = 80877102;

/**
 * Sends a protocol CancelRequest for the backend serving `client` on a fresh connection,
 * as psql does. Best effort: the caller falls back to closing the connection.
 */
function sendCancelRequest(host: string, port: number, client: PoolClient): void {
  const { processID, secretKey } = client as unknown as { processID?: unknown; secretKey?: unknown };
  if (typeof processID !== 'number' || typeof secretKey !== 'number') return;
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  packet.writeInt32BE(processID, 8);
  packet.writeInt32BE(secretKey, 12);
  const socket = net.connect({ host, port });
  // The server closes the connection after reading the request; some (PGlite) never do.
  const giveUp = setTimeout(() => socket.destroy(), 2000);
  giveUp.unref();
  socket.on('error', () => {});
  socket.on('close', () => clearTimeout(giveUp));
  socket.on('connect', () => socket.end(packet));
}

function isPoolTimeout(err: unknown): boolean {
  return err instanceof Error && /timeout exceeded when trying to connect/i.test(err.message);
}

function describeConnectError(err: unknown, connectTimeoutMs: number): string {
  const code = (err as { code?: unknown }).code;
  const message = err instanceof Error ? err.message : String(err);
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused (is the server running and listening on that port?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found';
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'the server closed the connection';
    case '28P01':
    case '28000':
      // The server's text names the upstream user; the caller need not learn it.
      return `the server rejected the gateway's credentials (SQLSTATE ${code}); check the connection's configured user and password`;
  }
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return `${message} (SQLSTATE ${code})`;
  if (/client password must be/.test(message)) {
    return 'the server asks for a password, but none is configured for this connection';
  }
  if (/timeout/i.test(message)) return `no connection within ${connectTimeoutMs} ms`;
  return message;
}

function sslOptions(ssl: PostgresConnectorOptions['ssl']): false | { rejectUnauthorized: boolean; ca?: string } {
  if (!ssl) return false;
  return ssl.ca === undefined
    ? { rejectUnauthorized: ssl.rejectUnauthorized ?? true }
    : { rejectUnauthorized: ssl.rejectUnauthorized ?? true, ca: ssl.ca };
}

// ---------------------------------------------------------------------------------------
// Helpers

/** Splits `INSERT 0 3` into tag `INSERT` and count 3; `CREATE TABLE` has no count. */
export function parseCommandTag(text: string): { tag: string; count?: number } {
  const match = /^(.*?)((?: \d+)+)?$/.exec(text);
  const tag = match?.[1] ?? text;
  const numbers = match?.[2]?.trim().split(' ');
  const last = numbers?.[numbers.length - 1];
  return last === undefined ? { tag } : { tag, count: Number(last) };
}

// Built-in type OIDs (pg_type.oid is stable for built-ins). Anything else is reported as
// its OID in text.
const TYPE_NAMES: Record<number, string> = {
  16: 'bool', 17: 'bytea', 18: 'char', 19: 'name', 20: 'int8', 21: 'int2', 23: 'int4', 24: 'regproc',
  25: 'text', 26: 'oid', 114: 'json', 142: 'xml', 650: 'cidr', 700: 'float4', 701: 'float8',
  705: 'unknown', 790: 'money', 829: 'macaddr', 869: 'inet', 1042: 'bpchar', 1043: 'varchar',
  1082: 'date', 1083: 'time', 1114: 'timestamp', 1184: 'timestamptz', 1186: 'interval', 1266: 'timetz',
  1560: 'bit', 1562: 'varbit', 1700: 'numeric', 2249: 'record', 2278: 'void', 2950: 'uuid',
  3614: 'tsvector', 3802: 'jsonb', 199: '_json', 1000: '_bool', 1001: '_bytea', 1005: '_int2',
  1007: '_int4', 1009: '_text', 1014: '_bpchar', 1015: '_varchar', 1016: '_int8', 1021: '_float4',
  1022: '_float8', 1115: '_timestamp', 1182: '_date', 1185: '_timestamptz', 1231: '_numeric',
  2951: '_uuid', 3807: '_jsonb',
};

function typeName(oid: number): string {
  return TYPE_NAMES[oid] ?? String(oid);
}

const asText = (text: string): unknown => text;

function converterFor(oid: number): (text: string) => unknown {
  switch (oid) {
    case 16:
      return (text) => text === 't';
    case 21:
    case 23:
    case 26:
      return (text) => Number(text);
    case 700:
    case 701:
      // NaN and ±Infinity have no JSON form; keep the server's spelling.
      return (text) => {
        const n = Number(text);
        return Number.isFinite(n) ? n : text;
      };
    case 114:
    case 3802:
      return (text) => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          return text;
        }
      };
    default:
      return asText;
  }
}

/** Replaces every occurrence of the given secrets, and passwords in URLs, with `[redacted]`. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length > 0) out = out.split(secret).join('[redacted]');
  }
  return out.replace(/([a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:)[^\s/@]*@/gi, '$1[redacted]@');
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function failure(code: string, message: string): ExecutionResult {
  return { ok: false, error: { code, message } };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function validateOptions(o: Required<Omit<PostgresConnectorOptions, 'password' | 'ssl'>>): void {
  for (const key of ['host', 'database', 'user'] as const) {
    if (typeof o[key] !== 'string' || o[key].length === 0) {
      throw new TypeError(`postgres connector: ${key} must be a non-empty string`);
    }
  }
  if (!Number.isInteger(o.port) || o.port <= 0 || o.port > 65535) {
    throw new TypeError('postgres connector: port must be an integer between 1 and 65535');
  }
  const positive = ['maxConnections', 'maxRows', 'connectTimeoutMs', 'cancelGraceMs'] as const;
  for (const key of positive) {
    if (!Number.isInteger(o[key]) || o[key] <= 0) throw new TypeError(`postgres connector: ${key} must be a positive integer`);
  }
  if (!Number.isInteger(o.statementTimeoutMs) || o.statementTimeoutMs < 0 || o.statementTimeoutMs > 2_147_483_647) {
    throw new TypeError('postgres connector: statementTimeoutMs must be an integer >= 0');
  }
}
