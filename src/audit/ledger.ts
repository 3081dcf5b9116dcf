// The ledger batches audit appends: every append made while a write is being prepared or is in
// flight goes to the store in the next single appendAudit call (one transaction), so the cost
// of a durable commit is shared by all concurrent callers (group commit). The ledger only
// validates and encodes records (prepareRecord); the store seals them onto the chain inside its
// transaction (the embedded store in its writer thread, so commits and fsyncs never hold up
// this one). A caller's promise settles only when its own row is committed, or rejects if that
// write failed: callers use this to refuse to run a command whose record could not be stored.
import type { AuditRow, Store } from '../store/store.js';
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
}

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
  resolve: (row: AuditRow) => void;
  reject: (error: unknown) => void;
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
  private closed = false;
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
      if (options.first) this.queue.unshift({ record, resolve, reject });
      else this.queue.push({ record, resolve, reject });
      this.schedule();
    });
  }

  /**
   * Writes everything appended so far. Resolves when those records are settled; failures are
   * reported to the append callers, not here.
   */
  async flush(): Promise<void> {
    this.cancelTimer();
    while (this.queue.length > 0 || this.writing) {
      if (!this.writing) this.startWriting();
      await this.writing;
    }
  }

  /** Refuses new appends, then writes what is queued. Does not close the store. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private schedule(): void {
    if (this.writing || this.timer) return; // the running loop picks the record up
    if (this.flushDelayMs > 0) {
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
    while (this.queue.length > 0) {
      const batch = this.queue.length <= this.maxBatch ? this.queue : this.queue.slice(0, this.maxBatch);
      this.queue = this.queue.length <= this.maxBatch ? [] : this.queue.slice(this.maxBatch);
      let rows: AuditRow[];
      try {
        rows = await this.store.appendAudit(batch.map((p) => p.record));
        if (rows.length !== batch.length) {
          throw new Error(`the store returned ${rows.length} rows for ${batch.length} records`);
        }
      } catch (error) {
        const failure = new AuditLedgerError(
          'write_failed',
          `audit records could not be stored: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
        for (const p of batch) p.reject(failure);
        continue;
      }
      for (let i = 0; i < batch.length; i++) batch[i]!.resolve(rows[i]!);
      try {
        this.onCommitted?.(rows);
      } catch {
        // An observer's failure must not stop the ledger; the checkpoint writer reads back instead.
      }
    }
  }
}
