// The ledger batches audit appends: every append made while a write is being prepared or is in
// flight goes to the store in the next single appendAudit call (one transaction), so the cost
// of a durable commit is shared by all concurrent callers (group commit). The ledger only
// validates and encodes records (prepareRecord); the store seals them onto the chain inside its
// transaction (the embedded store in its writer thread, so commits and fsyncs never hold up
// this one). A caller's promise settles only when its own row is committed, or rejects if that
// write failed: callers use this to refuse to run a command whose record could not be stored.
//
// With a journal (embedded store; see journal.ts) `record` is the fast path the gate uses: the
// record is written to the journal file at once and the promise settles when that write is as
// durable as `store.sync` asks; the batch reaches the SQLite chain shortly after. A failed
// SQLite write is retried with back-off (the lines are safe in the journal), and while it fails
// the queue grows until `maxPending`, from where new records are refused (fail closed).
import type { AuditRow, JournalBatch, Store } from '../store/store.js';
import type { AuditJournal } from './journal.js';
import { StoreError } from '../store/errors.js';
import { prepareRecord, type AuditDraft, type PreparedRecord } from './record.js';

export type {
  AuditBody,
  AuditDraft,
  AuditIntent,
  AuditKind,
  AuditOutcome,
} from './record.js';
export { AUDIT_KINDS, AUDIT_OUTCOMES, AuditDraftError } from './record.js';

export interface AuditLedgerOptions {
  /** Most records per transaction (default 2000). */
  maxBatch?: number;
  /**
   * How long the first append of a batch waits for company, in ms. 0 (default) flushes on the
   * next turn of the event loop, which already gathers everything appended in the same tick.
   */
  flushDelayMs?: number;
  /**
   * Most records waiting to be written (default 100000). Beyond it append rejects at once:
   * a store that cannot keep up must slow the gateway down, not exhaust its memory.
   */
  maxPending?: number;
  /** Clock for record times (tests). */
  now?: () => Date;
  /** The journal `record` writes to first (embedded store); without one `record` is `append`. */
  journal?: AuditJournal;
}

/** How long journaled records wait for company before they are copied into the store, in ms. */
const JOURNAL_BATCH_MS = 10;

/** Back-off between retries of a failed SQLite write of journaled records, in ms. */
const RETRY_MS = [50, 200, 1000, 5000] as const;

export class AuditLedgerError extends Error {
  constructor(
    readonly code: 'closed' | 'backlog' | 'write_failed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AuditLedgerError';
  }
}

interface Pending {
  record: PreparedRecord;
  /** Set for journaled records: their line in the journal (their caller was answered already). */
  jseq?: number;
  resolve?: (row: AuditRow) => void;
  reject?: (error: unknown) => void;
}

export class AuditLedger {
  private readonly maxBatch: number;
  private readonly flushDelayMs: number;
  private readonly maxPending: number;
  private readonly now: () => Date;
  private queue: Pending[] = [];
  /** The running write loop, if any: there is never more than one write in flight. */
  private writing: Promise<void> | undefined;
  private timer: NodeJS.Immediate | NodeJS.Timeout | undefined;
  /** Whether the pending timer is the short one (someone waits for a row). */
  private timerUrgent = false;
  /** Queued records whose caller waits for the commit (append, not record). */
  private callersWaiting = 0;
  /** flush() calls in progress: the write loop drains everything meanwhile. */
  private flushing = 0;
  /** Consecutive failed writes of journaled records, and the timer of the next try. */
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly journal: AuditJournal | undefined;
  /** Why journaled records are not reaching the store (cleared by the next good write). */
  private indexFailure: Error | undefined;
  /**
   * Called with every committed batch, in commit order (the checkpoint writer grows its Merkle
   * tree from it). Must not throw.
   */
  onCommitted: ((rows: readonly AuditRow[]) => void) | undefined;

  constructor(
    private readonly store: Store,
    options: AuditLedgerOptions = {},
  ) {
    this.maxBatch = Math.max(1, Math.floor(options.maxBatch ?? 2000));
    this.flushDelayMs = Math.max(0, options.flushDelayMs ?? 0);
    this.maxPending = Math.max(1, Math.floor(options.maxPending ?? 100_000));
    this.now = options.now ?? (() => new Date());
    this.journal = options.journal;
  }

  /** Why journaled records cannot currently be copied into the store, if they cannot. */
  get failure(): Error | undefined {
    return this.journal?.failure ?? this.indexFailure;
  }

  /** Records waiting for the next write (not counting the one in flight). */
  get pending(): number {
    return this.queue.length;
  }

  /**
   * Appends one record. Resolves with the stored row once it is committed; rejects with
   * AuditDraftError for an invalid draft, AuditLedgerError otherwise.
   */
  append(draft: AuditDraft, options: { first?: boolean } = {}): Promise<AuditRow> {
    if (this.closed) return Promise.reject(new AuditLedgerError('closed', 'the audit ledger is closed'));
    if (this.queue.length >= this.maxPending) {
      return Promise.reject(
        new AuditLedgerError('backlog', `the audit store is not keeping up (${this.queue.length} records waiting)`),
      );
    }
    let record: PreparedRecord;
    try {
      record = prepareRecord(draft, this.now().toISOString());
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<AuditRow>((resolve, reject) => {
      // `first` (checkpoints) goes into the next batch, ahead of any backlog, so a checkpoint
      // lands close to the records it covers.
      const settle = <T,>(f: (value: T) => void) => (value: T) => {
        this.callersWaiting--;
        f(value);
      };
      const pending: Pending = { record, resolve: settle(resolve), reject: settle(reject) };
      this.callersWaiting++;
      if (options.first) this.queue.unshift(pending);
      else this.queue.push(pending);
      this.schedule();
    });
  }

  /**
   * Records one draft durably, without waiting for its row: with a journal, once its line is
   * written (and synced, with `store.sync: full`, unless `options.synced` is false: then once
   * written); without one, once committed like append.
   * Rejects with AuditDraftError for an invalid draft, AuditLedgerError otherwise, and then
   * the record is not stored.
   */
  record(draft: AuditDraft, options: { synced?: boolean } = {}): Promise<void> {
    const journal = this.journal;
    if (!journal) return this.append(draft).then(NOTHING);
    if (this.closed) return Promise.reject(new AuditLedgerError('closed', 'the audit ledger is closed'));
    if (this.queue.length >= this.maxPending) {
      return Promise.reject(
        new AuditLedgerError('backlog', `the audit store is not keeping up (${this.queue.length} records waiting)${this.indexFailure ? `: ${this.indexFailure.message}` : ''}`),
      );
    }
    let record: PreparedRecord;
    try {
      record = prepareRecord(draft, this.now().toISOString());
    } catch (error) {
      return Promise.reject(error);
    }
    // Queued for the store only once written, so the queue holds journal lines in order.
    return journal
      .append(record, (jseq) => {
        this.queue.push({ record, jseq });
        this.schedule();
      }, options.synced !== false)
      .catch((error: unknown) => {
        throw new AuditLedgerError('write_failed', (error as Error).message, { cause: error });
      });
  }

  /**
   * Writes everything appended so far. Resolves when those records are settled; failures are
   * reported to the append callers, not here.
   */
  async flush(): Promise<void> {
    this.cancelTimer();
    this.flushing++;
    try {
      // While the store fails, journaled records wait for their retry: they are durable in the
      // journal, and a flush (a reader, a shutdown) must not hang on an outage.
      let tried = false;
      while (this.writing || (this.queue.length > 0 && !(tried && this.retryTimer && this.queue.every((p) => p.jseq !== undefined)))) {
        if (!this.writing) {
          // A flush tries at once, even during back-off; a failure then leaves the rest to the retry.
          clearTimeout(this.retryTimer);
          this.retryTimer = undefined;
          this.startWriting();
          tried = true;
        }
        await this.writing;
      }
    } finally {
      this.flushing--;
    }
  }

  /** Refuses new appends, then writes what is queued. Does not close the store. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    // Lines that could not be indexed stay in the journal for the next start.
    this.journal?.close();
  }

  /**
   * Starts the next write soon: at once (next turn) when a caller waits for its row or the
   * queue is full, else, when only journaled records wait (they are durable already), after
   * JOURNAL_BATCH_MS, so that the store gets few large batches instead of one per statement.
   */
  private schedule(): void {
    if (this.writing || this.retryTimer) return; // the running loop, or the retry, picks the record up
    const urgent = this.callersWaiting > 0 || this.queue.length >= this.maxBatch;
    if (this.timer) {
      if (this.timerUrgent || !urgent) return;
      this.cancelTimer();
    }
    this.timerUrgent = urgent;
    if (!urgent) {
      this.timer = setTimeout(() => this.onTimer(), JOURNAL_BATCH_MS);
    } else if (this.flushDelayMs > 0) {
      this.timer = setTimeout(() => this.onTimer(), this.flushDelayMs);
    } else {
      this.timer = setImmediate(() => this.onTimer());
    }
  }

  private onTimer(): void {
    this.timer = undefined;
    if (!this.writing && this.queue.length > 0) this.startWriting();
  }

  private cancelTimer(): void {
    if (this.timer === undefined) return;
    clearTimeout(this.timer as NodeJS.Timeout);
    clearImmediate(this.timer as NodeJS.Immediate);
    this.timer = undefined;
  }

  private startWriting(): void {
    this.cancelTimer();
    this.writing = this.writeLoop().finally(() => {
      this.writing = undefined;
      // Anything appended after the loop's last look gets its own turn.
      if (this.queue.length > 0) this.schedule();
    });
  }

  private async writeLoop(): Promise<void> {
    let first = true;
    // After the first batch, journaled records alone wait for the next timer (see schedule).
    while (this.queue.length > 0 && (first || this.flushing || this.callersWaiting > 0 || this.queue.length >= this.maxBatch)) {
      first = false;
      const batch = this.queue.length <= this.maxBatch ? this.queue : this.queue.slice(0, this.maxBatch);
      this.queue = this.queue.length <= this.maxBatch ? [] : this.queue.slice(this.maxBatch);
      const lines = journalLines(batch, this.journal);
      let rows: AuditRow[];
      try {
        rows = await this.store.appendAudit(
          batch.map((p) => p.record),
          lines,
        );
        if (rows.length !== batch.length) {
          throw new Error(`the store returned ${rows.length} rows for ${batch.length} records`);
        }
      } catch (error) {
        const failure = new AuditLedgerError(
          'write_failed',
          `audit records could not be stored: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
        // Callers still waiting learn that their record is not stored; journaled records are
        // safe in the journal and go back to the front of the queue for another try.
        const journaled: Pending[] = [];
        for (const p of batch) {
          if (p.jseq === undefined) p.reject!(failure);
          else journaled.push(p);
        }
        if (journaled.length === 0) continue;
        if (lines && error instanceof StoreError && error.code === 'conflict') {
          // Another process copied (part of) this journal onto the chain while this one was
          // stopped: the lines it has are done; the rest are stored as usual.
          const indexed = await this.journalIndexedInStore(lines.journal);
          if (indexed !== undefined && indexed >= lines.first) {
            this.journal!.indexed(indexed);
            this.queue = journaled.filter((p) => p.jseq! > indexed).concat(this.queue.filter((p) => p.jseq === undefined || p.jseq > indexed));
            continue;
          }
        }
        this.indexFailure = failure;
        if (this.closed) {
          // Nothing journaled may reach the chain past these lines (it would leave a gap that
          // recovery could not see): they all stay in the journal for the next start.
          this.queue = this.queue.filter((p) => p.jseq === undefined);
          continue;
        }
        this.queue = journaled.concat(this.queue);
        // Retried from a timer, so that flush() and close() are not held up by an outage.
        const delay = RETRY_MS[Math.min(this.failures++, RETRY_MS.length - 1)]!;
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          if (!this.writing && this.queue.length > 0) this.startWriting();
        }, delay);
        return;
      }
      this.failures = 0;
      this.indexFailure = undefined;
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve?.(rows[i]!);
      if (lines) this.journal!.indexed(lines.last);
      try {
        this.onCommitted?.(rows);
      } catch {
        // An observer's failure must not stop the ledger; the checkpoint writer reads back instead.
      }
    }
  }

  /** How far the store has a journal indexed, when the store keeps journals. */
  private async journalIndexedInStore(journal: string): Promise<number | undefined> {
    const store = this.store as Partial<{ journalIndexed(journal: string): Promise<number> }>;
    try {
      return store.journalIndexed ? await store.journalIndexed(journal) : undefined;
    } catch {
      return undefined;
    }
  }
}

const NOTHING = (): void => undefined;

/** The journal lines in a batch (journaled records keep their order in the queue). */
function journalLines(batch: readonly Pending[], journal: AuditJournal | undefined): JournalBatch | undefined {
  if (!journal) return undefined;
  let first: number | undefined;
  let last: number | undefined;
  for (const p of batch) {
    if (p.jseq === undefined) continue;
    first ??= p.jseq;
    last = p.jseq;
  }
  return first === undefined ? undefined : { journal: journal.id, first, last: last! };
}
