// Retention: records older than `audit.retention` are deleted, but only up to a signed
// checkpoint, so that what remains still verifies on its own (retention-base.ts: the base
// verify then starts from, and how it is checked).
//
// A prune picks the newest checkpoint C (at seq S, over records 1..P) whose records 1..P are
// all older than the cutoff and whose detail carries the Merkle frontier at P. It first walks
// and checks the records it is about to delete (the chain and their checkpoints: a prune never
// destroys evidence of tampering), appends a `system` record `audit-pruned` naming P and C,
// then stores the base and deletes records 1..P (store.pruneAudit). C itself (S > P) stays.
import type { KeyObject } from 'node:crypto';
import type { SluiceConfig } from '../config/schema.js';
import type { AuditRow, Store } from '../store/store.js';
import { log } from '../util/log.js';
import { CheckpointChecker, PRUNE_EVENT, parseKeyAnnouncement, parseSignedCheckpoint, type SigningKeyAnnouncement } from './checkpoints.js';
import type { AuditLedger } from './ledger.js';
import { MerkleFrontier } from './merkle.js';
import { pruneRecordings, type RecordingPruneResult } from './recording-retention.js';
import { BASE_FORMAT, loadRetentionBase, type RetentionBase } from './retention-base.js';
import type { SignedCheckpoint } from './signing.js';
import { ChainChecker } from './verify.js';

export class RetentionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RetentionError';
  }
}

export interface PruneOptions {
  /** Records older than this go (up to a signed checkpoint). */
  before: Date;
  /** Keys checkpoints must be signed with; default: the keys the ledger announces. */
  trusted?: readonly KeyObject[];
  /**
   * Most records one prune checks and deletes (default 1,000,000), so a first prune of a large
   * ledger is spread over several runs instead of one long walk.
   */
  maxRecords?: number;
  now?: () => Date;
}

export interface PruneResult {
  /** Records deleted. */
  deleted: number;
  /** Records 1..upto are gone (the new base), when something was pruned. */
  upto?: number;
  checkpointSeq?: number;
  /** Seq of the audit-pruned record. */
  recordSeq?: number;
  /** Why nothing was pruned. */
  reason?: string;
}

/** How far past the first record newer than the cutoff a prune looks for the checkpoint covering it. */
const LOOK_PAST = 70_000;
const PAGE = 2000;

interface Candidate {
  seq: number;
  checkpoint: SignedCheckpoint;
  frontier: (string | null)[];
}

/**
 * Prunes records older than `before` up to the newest signed checkpoint that covers only such
 * records. Checks what it deletes first and throws RetentionError, deleting nothing, when that
 * does not verify.
 */
export async function pruneAudit(store: Store, ledger: AuditLedger, options: PruneOptions): Promise<PruneResult> {
  const cutoff = options.before.toISOString();
  const loaded = await loadRetentionBase(store, options.trusted ?? true);
  if ('problem' in loaded) throw new RetentionError(`nothing pruned: ${loaded.problem.message}`);
  const start = loaded.head ?? { seq: 0, hash: '0'.repeat(64) };
  const checkpoints = new CheckpointChecker({ ...(options.trusted ? { trusted: options.trusted } : {}), ...(loaded.base ? { base: loaded.base } : {}) });
  const chain = new ChainChecker({ from: start, checkpoints });
  const maxRecords = Math.max(1, Math.floor(options.maxRecords ?? 1_000_000));
  const announcements: { seq: number; key: SigningKeyAnnouncement }[] = [];
  let candidate: Candidate | undefined;
  let firstNew: number | undefined;
  let after = start.seq;
  walk: for (;;) {
    const page = await store.readAudit({ afterSeq: after, limit: PAGE });
    for (const row of page) {
      if (firstNew !== undefined && row.seq > firstNew + LOOK_PAST) break walk;
      if (row.seq > start.seq + maxRecords) break walk;
      const problem = chain.check(row);
      if (problem) {
        throw new RetentionError(`nothing pruned: the records to prune do not verify: record ${problem.seq} (${problem.kind}): ${problem.message}`);
      }
      if (firstNew === undefined && row.time >= cutoff) firstNew = row.seq;
      if (row.kind === 'key' || row.kind === 'checkpoint') {
        const detail = (JSON.parse(row.body) as { detail?: Record<string, unknown> }).detail;
        if (row.kind === 'key') {
          const a = parseKeyAnnouncement(detail);
          if (a) announcements.push({ seq: row.seq, key: a });
        } else {
          const c = parseSignedCheckpoint(detail);
          // Checked above against the records; a usable base needs its frontier too.
          if (
            typeof c !== 'string' &&
            c.treeSize > start.seq &&
            (firstNew === undefined || c.treeSize < firstNew) &&
            (!candidate || c.treeSize > candidate.checkpoint.treeSize) &&
            frontierGives(c, detail?.frontier)
          ) {
            candidate = { seq: row.seq, checkpoint: c, frontier: detail!.frontier as (string | null)[] };
          }
        }
      }
    }
    if (page.length < PAGE) break;
    after = page[page.length - 1]!.seq;
  }
  if (!candidate) {
    return { deleted: 0, reason: `no signed checkpoint covers only records older than ${cutoff}` };
  }
  const upto = candidate.checkpoint.treeSize;
  const [last] = await store.readAudit({ afterSeq: upto - 1, limit: 1 });
  if (!last || last.seq !== upto) throw new RetentionError(`nothing pruned: record ${upto} is missing from the store`);
  const keys = new Map<string, SigningKeyAnnouncement>();
  for (const a of loaded.raw?.keys ?? []) keys.set(a.keyId, a);
  for (const a of announcements) if (a.seq <= upto) keys.set(a.key.keyId, { keyId: a.key.keyId, publicKey: a.key.publicKey });

  // Recorded before anything is deleted: a prune the ledger does not mention fails verify.
  const record: AuditRow = await ledger.append({
    kind: 'system',
    detail: {
      event: PRUNE_EVENT,
      upto,
      checkpointSeq: candidate.seq,
      treeSize: upto,
      rootHash: candidate.checkpoint.rootHash,
      keyId: candidate.checkpoint.keyId,
      before: cutoff,
      records: upto - start.seq,
    },
  });
  const base: RetentionBase = {
    v: BASE_FORMAT,
    seq: upto,
    hash: last.hash,
    checkpointSeq: candidate.seq,
    checkpoint: candidate.checkpoint,
    frontier: candidate.frontier,
    keys: [...keys.values()],
    before: cutoff,
    prunedAt: (options.now?.() ?? new Date()).toISOString(),
    recordSeq: record.seq,
  };
  const deleted = await store.pruneAudit(JSON.stringify(base));
  return { deleted, upto, checkpointSeq: candidate.seq, recordSeq: record.seq };
}

function frontierGives(c: SignedCheckpoint, levels: unknown): boolean {
  if (!Array.isArray(levels)) return false;
  try {
    return MerkleFrontier.from(c.treeSize, levels as (string | null)[]).root().toString('hex') === c.rootHash;
  } catch {
    return false;
  }
}

/**
 * Prunes every `intervalMs` (and once soon after start) what is older than `maxAgeMs`.
 * Failures are logged and kept in `lastError`; the next run tries again.
 */
export class RetentionPruner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  lastError: string | undefined;
  lastResult: PruneResult | undefined;
  lastRecordings: RecordingPruneResult | undefined;

  constructor(
    private readonly store: Store,
    private readonly ledger: AuditLedger,
    private readonly maxAgeMs: number,
    private readonly options: { intervalMs?: number; firstDelayMs?: number; now?: () => Date; recordings?: string } = {},
  ) {}

  start(): void {
    const interval = this.options.intervalMs ?? 3_600_000;
    const first = setTimeout(() => {
      void this.prune();
      this.timer = setInterval(() => void this.prune(), interval);
      this.timer.unref();
    }, this.options.firstDelayMs ?? 60_000);
    first.unref();
    this.timer = first;
  }

  /** One prune now (waits for a running one first). */
  async prune(): Promise<PruneResult | undefined> {
    while (this.running) await this.running;
    let result: PruneResult | undefined;
    this.running = (async () => {
      const now = this.options.now?.() ?? new Date();
      const before = new Date(now.getTime() - this.maxAgeMs);
      try {
        result = await pruneAudit(this.store, this.ledger, { before, now: () => now });
        this.lastResult = result;
        if (result.deleted > 0) log.info({ deleted: result.deleted, upto: result.upto }, 'pruned audit records older than the retention age');
        this.lastError = undefined;
      } catch (error) {
        this.lastError = error instanceof Error ? error.message : String(error);
        log.error({ error: this.lastError }, 'could not prune the audit ledger; will retry');
      }
      // After the records (also when they could not be pruned this time: older recordings may
      // still be due): a recording goes only once no retained record can name it.
      if (this.options.recordings) {
        try {
          const recordings = await pruneRecordings(this.options.recordings, this.store, before, now);
          this.lastRecordings = recordings;
          if (recordings.files > 0) log.info({ files: recordings.files, folders: recordings.folders }, 'deleted shell recordings older than the retention age');
          if (recordings.kept.length > 0) log.warn({ kept: recordings.kept.slice(0, 10) }, 'old recording folders hold files Sluice did not write; left in place');
          if (recordings.errors.length > 0) throw new Error(recordings.errors.slice(0, 3).join('; '));
        } catch (error) {
          const message = `could not delete old shell recordings: ${error instanceof Error ? error.message : String(error)}`;
          this.lastError = this.lastError ? `${this.lastError}; ${message}` : message;
          log.error({ error: message }, 'could not delete old shell recordings; will retry');
        }
      }
    })().finally(() => {
      this.running = undefined;
    });
    await this.running;
    return result;
  }

  async close(): Promise<void> {
    clearTimeout(this.timer);
    clearInterval(this.timer);
    while (this.running) await this.running;
  }
}

/**
 * The periodic prune for a runtime when `audit.retention` is set (started; close it on
 * shutdown); `recordings`, the shell recordings directory, is pruned with the records.
 */
export function startRetention(config: SluiceConfig, store: Store, ledger: AuditLedger, recordings?: string): RetentionPruner | undefined {
  const age = config.audit.retention;
  if (age === undefined) return undefined;
  const pruner = new RetentionPruner(store, ledger, age, recordings ? { recordings } : {});
  pruner.start();
  return pruner;
}
