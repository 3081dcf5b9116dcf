// The embedded store's audit writer thread, main-thread side. Audit appends on SQLite are
// sealed, inserted and committed (with its fsync) by a worker thread on its own connection
// (sqlite-audit-writer-worker.ts), so the event loop keeps serving other sessions while a
// commit is on its way to disk. The thread handles one request at a time, in order: each
// appendAudit call is one transaction, and callers that batch (the audit ledger) keep at most
// one in flight, so group commit works as before.
//
// Fail closed: if the thread dies, every pending and every later append rejects with
// `unavailable` and `failure` says why (readiness reports it); there is no silent restart.
import { Worker } from 'node:worker_threads';
import type { AuditRow, JournalBatch, PreparedAuditRecord } from './store.js';
import { StoreError, type StoreErrorCode } from './errors.js';
import { sealedRow } from './common.js';

/** What the thread needs to open its own connection to the store's file. */
export interface WriterConfig {
  path: string;
  /** Device and inode the store opened; the thread refuses to write to any other file. */
  fileIdentity: string;
  synchronous: 'full' | 'normal';
  busyTimeoutMs: number;
}

export type WriterRequest =
  | { op: 'append'; id: number; records: readonly PreparedAuditRecord[]; journal?: JournalBatch }
  | { op: 'close' }
  /** Tests only: the thread throws, as on a crash. */
  | { op: 'crash' };

/** An error as it crosses the thread boundary: a StoreError code or libsql's error code. */
export interface EncodedError {
  storeCode?: StoreErrorCode;
  sqliteCode?: string;
  message: string;
}

export type WriterReply =
  | { op: 'ready' }
  | { op: 'start_failed'; error: EncodedError }
  /** The rows were committed: seq firstSeq.. with these hashes, chained from prevHash. */
  | { op: 'appended'; id: number; firstSeq: number; prevHash: string; hashes: string[] }
  | { op: 'failed'; id: number; error: EncodedError }
  | { op: 'closed' };

interface Pending {
  records: readonly PreparedAuditRecord[];
  resolve: (rows: AuditRow[]) => void;
  reject: (error: unknown) => void;
}

/** How long close() waits for the thread to close its connection and exit. */
const CLOSE_TIMEOUT_MS = 10_000;

export class SqliteAuditWriter {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Called once nothing is pending (close waits here). */
  private idle: (() => void)[] = [];
  private stopped: StoreError | undefined;
  private closing: Promise<void> | undefined;
  private readonly exited: Promise<void>;
  /** Settles when the thread has opened its connection (rejects if it could not). */
  readonly ready: Promise<void>;

  constructor(config: WriterConfig) {
    this.worker = FROM_SOURCE
      ? new Worker(workerBootstrap(), { eval: true, workerData: config })
      : new Worker(WORKER_URL, { workerData: config });
    // Referenced while it starts and while writes are pending; once idle it must not keep the
    // process alive by itself (see onIdle).
    let started: () => void;
    let startFailed: (error: StoreError) => void;
    this.ready = new Promise<void>((resolve, reject) => {
      started = resolve;
      startFailed = reject;
    });
    this.ready.catch(() => undefined); // reported through appends and failure as well
    this.worker.on('message', (reply: WriterReply) => {
      switch (reply.op) {
        case 'ready':
          started();
          if (this.pending.size === 0 && !this.closing) this.worker.unref();
          return;
        case 'start_failed': {
          const e = decodeError(reply.error);
          const error = new StoreError(e instanceof StoreError ? e.code : 'unavailable', `cannot start the SQLite audit writer thread: ${e.message}`);
          startFailed(error);
          this.fail(error);
          return;
        }
        case 'appended':
        case 'failed':
          this.settle(reply);
          return;
        case 'closed':
          return;
      }
    });
    this.worker.on('error', (error: Error) => {
      const failure = new StoreError(
        'unavailable',
        `the SQLite audit writer thread stopped (${error.message}); audit records cannot be stored until Sluice restarts`,
        { cause: error },
      );
      startFailed(failure);
      this.fail(failure);
    });
    this.exited = new Promise<void>((resolve) => {
      this.worker.once('exit', (code) => {
        const failure = new StoreError(
          'unavailable',
          `the SQLite audit writer thread stopped (exit code ${code}); audit records cannot be stored until Sluice restarts`,
        );
        startFailed(failure);
        this.fail(failure);
        resolve();
      });
    });
  }

  /** Why the thread can no longer write, once it has stopped; undefined while it can. */
  get failure(): StoreError | undefined {
    return this.stopped;
  }

  /**
   * Seals and commits `records` in one transaction in the thread. Resolves with the rows as
   * stored, once committed with the configured synchronous mode.
   */
  append(records: readonly PreparedAuditRecord[], journal?: JournalBatch): Promise<AuditRow[]> {
    if (this.stopped) return Promise.reject(this.stopped);
    if (this.closing) return Promise.reject(new StoreError('closed', 'the SQLite store is closed'));
    if (!Array.isArray(records)) return Promise.reject(new StoreError('invalid', 'appendAudit: records must be an array'));
    const id = this.nextId++;
    // The thread gets a copy (postMessage clones); the rows are rebuilt from the same records
    // and the hashes it computed, which saves cloning every body back. The array is copied so
    // that a caller reusing it cannot change what the rows are built from.
    const batch = records.slice();
    return new Promise<AuditRow[]>((resolve, reject) => {
      try {
        this.worker.postMessage({ op: 'append', id, records: batch, ...(journal ? { journal } : {}) } satisfies WriterRequest);
      } catch (error) {
        reject(new StoreError('invalid', `appendAudit: records cannot be sent to the writer thread: ${msgOf(error)}`, { cause: error }));
        return;
      }
      this.worker.ref();
      this.pending.set(id, { records: batch, resolve, reject });
    });
  }

  /** Waits for every pending append to settle, then stops the thread. Safe to call twice. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.pending.size > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
      if (!this.stopped) {
        this.worker.ref(); // or the process could exit with close() still waiting
        this.worker.postMessage({ op: 'close' } satisfies WriterRequest);
        // Nothing is pending, so a thread that does not exit in time is stuck in SQLite (a
        // hung disk): stop waiting rather than terminate it, which libsql does not survive
        // when the call it is in returns (the whole process aborts).
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([this.exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS)))]);
        clearTimeout(timer);
        this.worker.unref();
      }
      this.stopped ??= new StoreError('closed', 'the SQLite store is closed');
    })();
    return this.closing;
  }

  /**
   * Tests only: makes the thread throw, as a crash would. Appends made after this call are
   * queued behind the crash and never written.
   */
  crashForTests(): Promise<void> {
    this.worker.ref();
    this.worker.postMessage({ op: 'crash' } satisfies WriterRequest);
    return this.exited;
  }

  private settle(reply: Extract<WriterReply, { op: 'appended' | 'failed' }>): void {
    const p = this.pending.get(reply.id);
    if (!p) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.onIdle();
    if (reply.op === 'failed') {
      p.reject(decodeError(reply.error));
      return;
    }
    if (reply.hashes.length !== p.records.length) {
      p.reject(new StoreError('failed', `appendAudit: the writer thread returned ${reply.hashes.length} hashes for ${p.records.length} records`));
      return;
    }
    const rows = new Array<AuditRow>(p.records.length);
    let prevHash = reply.prevHash;
    for (let i = 0; i < rows.length; i++) {
      const hash = reply.hashes[i]!;
      rows[i] = sealedRow(p.records[i]!, reply.firstSeq + i, prevHash, hash);
      prevHash = hash;
    }
    p.resolve(rows);
  }

  private fail(error: StoreError): void {
    if (this.stopped) return;
    // After a clean close the thread exits on purpose: that is not a failure.
    this.stopped = this.closing && this.pending.size === 0 ? new StoreError('closed', 'the SQLite store is closed') : error;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(error);
    // Still referenced if it was busy: the thread is on its way out, and its exit must be seen.
    this.onIdle(false);
  }

  private onIdle(unref = true): void {
    if (unref) this.worker.unref();
    const waiters = this.idle;
    this.idle = [];
    for (const w of waiters) w();
  }
}

/**
 * Rebuilds an error the thread reported: StoreErrors keep their code; libsql errors become
 * an Error carrying libsql's code, for the store to map like any other SQLite error.
 */
function decodeError(e: EncodedError): Error {
  if (e.storeCode) return new StoreError(e.storeCode, e.message);
  const error = new Error(e.message) as Error & { code?: string };
  if (e.sqliteCode) error.code = e.sqliteCode;
  return error;
}

export function encodeError(error: unknown): EncodedError {
  const out: EncodedError = { message: msgOf(error) };
  if (error instanceof StoreError) out.storeCode = error.code;
  else {
    const code = (error as { code?: unknown })?.code;
    if (typeof code === 'string') out.sqliteCode = code;
  }
  return out;
}

function msgOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// Sources run through tsx. Node 20 does not apply `--import tsx` to a worker's own entry
// module, so from source the worker starts with a tiny script that registers tsx first
// (the same approach as audit/verify.ts).
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(`./sqlite-audit-writer-worker.${FROM_SOURCE ? 'ts' : 'js'}`, import.meta.url);
function workerBootstrap(): string {
  const api = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
}
