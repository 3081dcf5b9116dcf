// Writes signed checkpoints into the chain every `every` records or `intervalMs`, and appends
// each one to an anchor file outside the store. The Merkle frontier grows from the batches the
// ledger commits (ledger.onCommitted); when records from another process or node come in
// between, the writer reads what it missed from the store before it signs. On start it resumes
// from the frontier stored in the last checkpoint, so a restart costs a short read, not a
// walk of the whole chain.
import { appendFile } from 'node:fs/promises';
import type { AuditRow, Store } from '../store/store.js';
import { log } from '../util/log.js';
import { parseSignedCheckpoint, type SigningKeyAnnouncement } from './checkpoints.js';
import type { AuditLedger } from './ledger.js';
import { MerkleFrontier } from './merkle.js';
import { rawPublicKey, type CheckpointSigner, type SignedCheckpoint } from './signing.js';

export interface CheckpointWriterOptions {
  /** A checkpoint after this many records (default 1000). */
  every?: number;
  /** ...or after this long when anything was appended (default 60 s; 0: never on a timer). */
  intervalMs?: number;
  /** A file outside the store to which each checkpoint is appended as a JSON line. */
  anchorFile?: string;
  now?: () => Date;
}

const PAGE = 2000;

export class CheckpointWriter {
  private frontier = new MerkleFrontier();
  /** Highest seq seen committed (by this process or read back). */
  private knownHead = 0;
  /** Rows committed by others came in between: read the gap from the store before signing. */
  private behind = false;
  private lastTreeSize = 0;
  private lastCheckpointSeq = 0;
  private running: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly every: number;
  private readonly intervalMs: number;
  private readonly now: () => Date;
  /** Last failure to write a checkpoint or its anchor (for health reporting). */
  lastError: string | undefined;

  constructor(
    private readonly store: Store,
    private readonly ledger: AuditLedger,
    private readonly signer: CheckpointSigner,
    private readonly options: CheckpointWriterOptions = {},
  ) {
    this.every = Math.max(1, Math.floor(options.every ?? 1000));
    this.intervalMs = Math.max(0, options.intervalMs ?? 60_000);
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Resumes from the last checkpoint, records the signing key in the chain if it is new (a
   * rotation when another key signed before), then hooks into the ledger.
   */
  async start(): Promise<void> {
    const last = await this.findLastCheckpoint();
    if (last) {
      this.frontier = last.frontier;
      this.lastTreeSize = last.checkpoint.treeSize;
      this.lastCheckpointSeq = last.seq;
    }
    this.knownHead = (await this.store.auditHead()).seq;
    this.behind = this.knownHead > this.frontier.size;
    this.ledger.onCommitted = (rows) => this.observe(rows);
    if (last?.checkpoint.keyId !== this.signer.keyId) {
      const signingKey: SigningKeyAnnouncement = {
        keyId: this.signer.keyId,
        publicKey: rawPublicKey(this.signer.publicKey).toString('base64'),
        ...(last ? { previous: last.checkpoint.keyId } : {}),
      };
      await this.ledger.append({ kind: 'key', detail: { event: last ? 'signing-key-rotated' : 'signing-key-created', signingKey } });
    }
    if (this.intervalMs > 0) {
      this.timer = setInterval(() => {
        if (this.uncovered(this.knownHead) > 0) this.kick();
      }, this.intervalMs);
      this.timer.unref();
    }
  }

  /** Writes a checkpoint now if anything was appended since the last one (tests, shutdown). */
  async checkpoint(): Promise<void> {
    while (this.running) await this.running;
    this.kick();
    while (this.running) await this.running;
  }

  /** Stops the timer and writes a last checkpoint over what is there. Call before ledger.close(). */
  async close(): Promise<void> {
    if (this.closed) return;
    clearInterval(this.timer);
    await this.ledger.flush();
    if (this.uncovered(this.knownHead) > 0) await this.checkpoint();
    this.closed = true;
    this.ledger.onCommitted = undefined;
  }

  /** Records up to `head` that no checkpoint covers, not counting the last checkpoint itself. */
  private uncovered(head: number): number {
    const own = this.lastCheckpointSeq > this.lastTreeSize && this.lastCheckpointSeq <= head ? 1 : 0;
    return head - this.lastTreeSize - own;
  }

  private observe(rows: readonly AuditRow[]): void {
    if (this.closed) return;
    for (const row of rows) {
      if (row.seq > this.knownHead) this.knownHead = row.seq;
      if (this.behind) continue;
      if (row.seq === this.frontier.size + 1) this.frontier.pushRecord(row.hash);
      else if (row.seq > this.frontier.size + 1) this.behind = true; // someone else appended in between
    }
    if (this.uncovered(this.knownHead) >= this.every) this.kick();
  }

  private kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.write()
      .catch((error: unknown) => {
        this.lastError = error instanceof Error ? error.message : String(error);
        log.error({ error: this.lastError }, 'could not write an audit checkpoint; will retry');
      })
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          if (this.uncovered(this.knownHead) >= this.every) this.kick();
        }
      });
  }

  private async write(): Promise<void> {
    if (this.behind) await this.catchUp();
    // Signs what is contiguous now; with `behind` still set that is a little less than the head.
    const treeSize = this.frontier.size;
    if (this.uncovered(treeSize) <= 0) return;
    const signed = this.signer.sign({ treeSize, rootHash: this.frontier.root().toString('hex'), time: this.now().toISOString() });
    const row = await this.ledger.append({ kind: 'checkpoint', detail: { ...signed, frontier: this.frontier.toJSON() } }, { first: true });
    this.lastTreeSize = treeSize;
    this.lastCheckpointSeq = row.seq;
    this.lastError = undefined;
    if (this.options.anchorFile) await this.anchor(row.seq, signed);
  }

  private async anchor(seq: number, signed: SignedCheckpoint): Promise<void> {
    await appendFile(this.options.anchorFile!, `${JSON.stringify({ seq, ...signed })}\n`, { mode: 0o600 });
  }

  /** Reads records the frontier lacks from the store. */
  private async catchUp(): Promise<void> {
    // `behind` stays set meanwhile, so committed batches are left to these reads.
    for (;;) {
      const page = await this.store.readAudit({ afterSeq: this.frontier.size, limit: PAGE });
      for (const row of page) {
        if (row.seq !== this.frontier.size + 1) throw new Error(`audit record ${this.frontier.size + 1} is missing from the store`);
        this.frontier.pushRecord(row.hash);
        if (row.seq > this.knownHead) this.knownHead = row.seq;
      }
      if (page.length < PAGE) break;
    }
    // Batches committed after the last read are read next time.
    this.behind = this.knownHead > this.frontier.size;
  }

  /** The newest checkpoint record with a usable frontier, newest first. */
  private async findLastCheckpoint(): Promise<{ seq: number; checkpoint: SignedCheckpoint; frontier: MerkleFrontier } | undefined> {
    let beforeSeq: number | undefined;
    for (;;) {
      const page = await this.store.readAudit({ descending: true, limit: PAGE, ...(beforeSeq !== undefined ? { beforeSeq } : {}) });
      for (const row of page) {
        if (row.kind !== 'checkpoint') continue;
        const detail = (JSON.parse(row.body) as { detail?: { frontier?: unknown } }).detail;
        const checkpoint = parseSignedCheckpoint(detail);
        if (typeof checkpoint === 'string' || !Array.isArray(detail?.frontier)) continue;
        try {
          const frontier = MerkleFrontier.from(checkpoint.treeSize, detail.frontier as (string | null)[]);
          // A stored frontier that does not give the signed root is not resumed from.
          if (frontier.root().toString('hex') !== checkpoint.rootHash) continue;
          return { seq: row.seq, checkpoint, frontier };
        } catch {
          continue;
        }
      }
      if (page.length < PAGE) return undefined;
      beforeSeq = page[page.length - 1]!.seq;
    }
  }
}
