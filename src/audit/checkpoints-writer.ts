// Writes signed checkpoints into the chain every `every` records or `intervalMs`, and appends
// each one to an anchor file outside the store. The Merkle frontier grows from the batches the
// ledger commits (ledger.onCommitted); when records from another process or node come in
// between, the writer reads what it missed from the store, by seq, before it signs. On start it
// resumes from the frontier stored in the last checkpoint, so a restart costs a short read, not
// a walk of the whole chain.
//
// Several nodes (docs/architecture.md, "Several nodes"): each node runs a writer with its own
// key (announced once in the chain, with the node's name) or a shared one. A writer that reads
// another node's checkpoint covering what it was about to sign leaves it at that; when two
// nodes sign at once, both checkpoints are valid statements about the same records, and verify
// checks each against the records.
import { appendFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditRow, Store } from '../store/store.js';
import { log } from '../util/log.js';
import { formatAnchorLine, parseKeyAnnouncement, parseSignedCheckpoint, type SigningKeyAnnouncement } from './checkpoints.js';
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
  /**
   * Names this node in its key announcement (default: the host name). A new key from the same
   * node (and key file) is announced as a rotation of its previous one.
   */
  node?: string;
  /** The key file, recorded beside the node name so two nodes on one host are told apart. */
  keyFile?: string;
  now?: () => Date;
}

const PAGE = 2000;
/** How far back (records) start looks for this key's announcement before announcing it again. */
const ANNOUNCE_LOOKBACK = 100_000;
/** Longest random pause before a count-triggered checkpoint while other nodes append. */
const SPREAD_MS = 40;

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
    if (last?.checkpoint.keyId !== this.signer.keyId) await this.announce();
    if (this.intervalMs > 0) {
      this.timer = setInterval(() => {
        if (this.uncovered(this.knownHead) > 0) this.kick(1);
      }, this.intervalMs);
      this.timer.unref();
    }
  }

  /**
   * Announces the signing key unless the recent chain already holds its announcement or a
   * checkpoint it signed (another node, or this one before a restart). A different key from
   * the same node and key file is a rotation and names the key it replaces.
   */
  private async announce(): Promise<void> {
    const node = this.options.node ?? hostname();
    const keyFile = this.options.keyFile;
    let previous: string | undefined;
    let beforeSeq: number | undefined;
    let read = 0;
    scan: for (;;) {
      const page = await this.store.readAudit({ descending: true, limit: PAGE, ...(beforeSeq !== undefined ? { beforeSeq } : {}) });
      for (const row of page) {
        if (row.kind !== 'key' && row.kind !== 'checkpoint') continue;
        const detail = (JSON.parse(row.body) as { detail?: Record<string, unknown> }).detail;
        if (row.kind === 'checkpoint') {
          const c = parseSignedCheckpoint(detail);
          if (typeof c !== 'string' && c.keyId === this.signer.keyId) return;
          continue;
        }
        const a = parseKeyAnnouncement(detail);
        if (!a) continue;
        if (a.keyId === this.signer.keyId) return;
        // Announcements made before node names existed count as this node's.
        const sameNode = detail?.node === undefined || (detail.node === node && detail.keyFile === keyFile);
        if (previous === undefined && sameNode) previous = a.keyId;
        if (previous !== undefined) break scan;
      }
      read += page.length;
      if (page.length < PAGE || read >= ANNOUNCE_LOOKBACK) break;
      beforeSeq = page[page.length - 1]!.seq;
    }
    const signingKey: SigningKeyAnnouncement = {
      keyId: this.signer.keyId,
      publicKey: rawPublicKey(this.signer.publicKey).toString('base64'),
      ...(previous ? { previous } : {}),
    };
    await this.ledger.append({
      kind: 'key',
      detail: { event: previous ? 'signing-key-rotated' : 'signing-key-created', signingKey, node, ...(keyFile ? { keyFile } : {}) },
    });
  }

  /** Writes a checkpoint now if anything was appended since the last one (tests, shutdown). */
  async checkpoint(): Promise<void> {
    while (this.running) await this.running;
    this.kick(1);
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
    if (this.uncovered(this.knownHead) >= this.every) this.kick(this.every);
  }

  /** Writes a checkpoint if at least `min` records are uncovered once caught up. */
  private kick(min: number): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.write(min)
      .catch((error: unknown) => {
        this.lastError = error instanceof Error ? error.message : String(error);
        log.error({ error: this.lastError }, 'could not write an audit checkpoint; will retry');
      })
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          if (this.uncovered(this.knownHead) >= this.every) this.kick(this.every);
        }
      });
  }

  private async write(min: number): Promise<void> {
    // Other nodes are appending (their records came in between) and will want to sign about
    // now too: a random pause lets the first one's checkpoint land, so the others read it back
    // below and leave it at that instead of signing the same records again.
    if (this.behind && min > 1) await sleep(Math.random() * SPREAD_MS);
    if (this.behind) await this.catchUp();
    // Signs what is contiguous now; with `behind` still set that is a little less than the head.
    // Another node's checkpoint read while catching up may already cover enough of it.
    const treeSize = this.frontier.size;
    if (this.uncovered(treeSize) < Math.max(1, min)) return;
    const signed = this.signer.sign({ treeSize, rootHash: this.frontier.root().toString('hex'), time: this.now().toISOString() });
    const row = await this.ledger.append({ kind: 'checkpoint', detail: { ...signed, frontier: this.frontier.toJSON() } }, { first: true });
    if (treeSize > this.lastTreeSize) {
      this.lastTreeSize = treeSize;
      this.lastCheckpointSeq = row.seq;
    }
    this.lastError = undefined;
    if (this.options.anchorFile) await this.anchor(row.seq, signed);
  }

  private async anchor(seq: number, signed: SignedCheckpoint): Promise<void> {
    await appendFile(this.options.anchorFile!, `${formatAnchorLine(seq, signed)}\n`, { mode: 0o600 });
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
        if (row.kind === 'checkpoint') this.noteCheckpoint(row);
      }
      if (page.length < PAGE) break;
    }
    // Batches committed after the last read are read next time.
    this.behind = this.knownHead > this.frontier.size;
  }

  /**
   * A checkpoint read back (another node's, or our own): what it covers needs no checkpoint
   * from us. Only for deciding when to sign; verify checks every checkpoint against the records.
   */
  private noteCheckpoint(row: AuditRow): void {
    let c: SignedCheckpoint | string;
    try {
      c = parseSignedCheckpoint((JSON.parse(row.body) as { detail?: unknown }).detail);
    } catch {
      return;
    }
    if (typeof c === 'string' || c.treeSize >= row.seq || c.treeSize <= this.lastTreeSize) return;
    this.lastTreeSize = c.treeSize;
    this.lastCheckpointSeq = row.seq;
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
