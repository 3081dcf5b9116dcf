// The audit journal: the durable commit of the embedded store's hot path. A gate record is
// appended to a plain file with one write system call (about a microsecond) before the command
// runs, and the writer thread copies it into the SQLite ledger shortly after, in large batches.
// So a door waits for a write(2) (and, with `store.sync: full`, a shared fdatasync) instead of
// a round trip to the writer thread and a SQLite commit per statement.
//
// Durability: a written line survives the process being killed (it is in the kernel's page
// cache); `sync: full` also waits for fdatasync (group commit: one sync covers every line
// written before it started). Lines reach the hash chain when the writer thread commits them;
// the same transaction records how far the journal is indexed (meta `audit_journal:<id>`), so
// a line is never inserted twice and never lost: a journal left behind by a process that died
// is copied into the ledger by the next start (recoverJournals) before anything else runs.
//
// Format: one line per record, `<jseq>\t<prefix>\t<suffix>\n`, where prefix + seq + suffix is
// the record's canonical body (see record.ts); canonical JSON escapes tabs and newlines, so
// neither occurs inside. The search columns are read back from the body on recovery.
//
// Files: `<dir>/<pid>-<random>.<segment>.jsonl`, segments of at most SEGMENT_BYTES, deleted
// once indexed. The owner touches its current segment every TOUCH_MS; a journal untouched for
// STALE_MS is orphaned (found at start and by a periodic scan, see journal-open.ts).
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  ftruncateSync,
  futimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import type { JournalBatch } from '../store/store.js';
import type { AuditColumns, PreparedRecord } from './record.js';


const SEGMENT_BYTES = 32 * 1024 * 1024;
const TOUCH_MS = 10_000;
/** A journal whose file has not been touched for this long belongs to no running process. */
export const STALE_MS = 60_000;
/** How often lines nobody waits a sync for (sync: normal; outcome records) are pushed to disk anyway. */
const BACKGROUND_SYNC_MS = 1_000;
const NAME = /^(\d+)-([0-9a-f]{16})\.(\d+)\.jsonl$/;

export class JournalError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'JournalError';
  }
}

interface Segment {
  number: number;
  path: string;
  /** jseq of the last line written to it (0: none yet). */
  last: number;
}

export class AuditJournal {
  /** `<pid>-<random>`: the meta key's suffix and the files' prefix. */
  readonly id: string;
  private fd: number;
  private size = 0;
  private jseq = 0;
  private current: Segment;
  /** Earlier segments, not yet known to be indexed. */
  private readonly closedSegments: Segment[] = [];
  private indexedUpTo = 0;
  private broken: Error | undefined;
  private closed = false;
  // fdatasync group commit (sync: full).
  private syncing: Promise<void> | undefined;
  private syncedUpTo = 0;
  private waiters: { upTo: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  private dirty = false;
  private readonly timers: NodeJS.Timeout[] = [];
  /** Lines waiting for the end of this turn's write (see append). */
  private batch: { record: PreparedRecord; onWritten: (jseq: number) => void; resolve: () => void; reject: (e: Error) => void; synced: boolean }[] = [];

  private constructor(
    private readonly dir: string,
    private readonly sync: 'full' | 'normal',
  ) {
    this.id = `${process.pid}-${randomBytes(8).toString('hex')}`;
    this.current = { number: 1, path: this.segmentPath(1), last: 0 };
    this.fd = openSync(this.current.path, 'wx', 0o600);
    const touch = setInterval(() => this.touch(), TOUCH_MS);
    touch.unref();
    this.timers.push(touch);
    // With sync: full too: lines appended with `synced: false` are otherwise synced only by
    // the next line that waits for one.
    const flush = setInterval(() => this.backgroundSync(), BACKGROUND_SYNC_MS);
    flush.unref();
    this.timers.push(flush);
  }

  /** Creates a new journal in `dir` (made with mode 0700 when missing). */
  static open(dir: string, options: { sync: 'full' | 'normal' }): AuditJournal {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return new AuditJournal(dir, options.sync);
  }

  /** Why the journal can no longer be written, once it cannot. */
  get failure(): Error | undefined {
    return this.broken;
  }

  /**
   * Appends one record. Lines appended in the same turn of the event loop (all the sockets
   * that had data) go to the file in one write right after it (setImmediate), in order;
   * `onWritten` then gets each record's
   * journal sequence number. The promise resolves once the line is as durable as `sync` asks,
   * and rejects with JournalError when it could not be written (the file is cut back to its
   * last whole line; if even that fails the journal refuses every later write: fail closed).
   * `synced: false` settles once the line is written, even with `sync: full` (a record that
   * nothing waits on, such as the outcome of a command that already ran: the next synced
   * line, or the background sync within a second, covers it).
   */
  append(record: PreparedRecord, onWritten: (jseq: number) => void, synced = true): Promise<void> {
    if (this.broken) return Promise.reject(new JournalError(`the audit journal cannot be written: ${this.broken.message}`, { cause: this.broken }));
    if (this.closed) return Promise.reject(new JournalError('the audit journal is closed'));
    return new Promise<void>((resolve, reject) => {
      this.batch.push({ record, onWritten, resolve, reject, synced });
      if (this.batch.length === 1) setImmediate(this.writeBatch);
    });
  }

  private readonly writeBatch = (): void => {
    const batch = this.batch;
    this.batch = [];
    const fail = (error: unknown): void => {
      const failure = new JournalError(`the audit journal cannot be written: ${(error as Error).message}`, { cause: error });
      for (const b of batch) b.reject(failure);
    };
    if (this.broken || this.closed) return fail(this.broken ?? new Error('closed'));
    try {
      if (this.size >= SEGMENT_BYTES) this.rotate();
    } catch (error) {
      this.broken = error as Error;
      return fail(error);
    }
    const first = this.jseq + 1;
    let text = '';
    for (let i = 0; i < batch.length; i++) text += `${first + i}\t${batch[i]!.record.prefix}\t${batch[i]!.record.suffix}\n`;
    try {
      // At the known end: after a cut-back the file position would leave a hole.
      const bytes = writeSync(this.fd, text, this.size);
      // writeSync writes everything or throws for regular files; check anyway.
      if (bytes !== Buffer.byteLength(text)) throw new Error(`short write (${bytes} bytes)`);
      this.size += bytes;
    } catch (error) {
      this.cutBack(error);
      return fail(error);
    }
    this.jseq = first + batch.length - 1;
    this.current.last = this.jseq;
    this.dirty = true;
    for (let i = 0; i < batch.length; i++) batch[i]!.onWritten(first + i);
    if (this.sync === 'normal') {
      for (const b of batch) b.resolve();
      return;
    }
    let waiting = false;
    for (const b of batch) {
      if (b.synced) {
        this.waiters.push({ upTo: this.jseq, resolve: b.resolve, reject: b.reject });
        waiting = true;
      } else b.resolve();
    }
    // A sync nobody waits for is left to the next waiter or the background timer: started
    // now, it would make the next command's line wait for it and then for its own.
    if (waiting) this.startSync();
  };

  /** Lines written so far. */
  get written(): number {
    return this.jseq;
  }

  /** Lines known to be on disk (fdatasync done). */
  get synced(): number {
    return this.syncedUpTo;
  }

  /** The writer committed every line up to `upTo`: segments wholly below it are deleted. */
  indexed(upTo: number): void {
    if (upTo <= this.indexedUpTo) return;
    this.indexedUpTo = upTo;
    while (this.closedSegments.length > 0 && this.closedSegments[0]!.last <= upTo) {
      const segment = this.closedSegments.shift()!;
      try {
        unlinkSync(segment.path);
      } catch {
        // Recovery skips lines that are already indexed, so a leftover file is harmless.
      }
    }
  }

  /** Lines written but not yet indexed. */
  get unindexed(): number {
    return this.jseq - this.indexedUpTo;
  }

  /**
   * Stops the journal. When every line is indexed the files are deleted; otherwise they stay
   * for the next start to recover.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    let synced = true;
    try {
      if (this.dirty || this.syncing || this.waiters.length > 0) fdatasyncSync(this.fd);
    } catch {
      synced = false; // the lines are in the page cache; callers still waiting are told
    }
    closeSync(this.fd);
    for (const w of this.waiters.splice(0)) {
      if (synced) w.resolve();
      else w.reject(new JournalError('the audit journal could not be synced before it closed'));
    }
    if (this.jseq === this.indexedUpTo) {
      for (const segment of [...this.closedSegments, this.current]) {
        try {
          unlinkSync(segment.path);
        } catch {
          // Already gone.
        }
      }
      try {
        rmdirSync(this.dir); // only when empty: another process's journal keeps it
      } catch {
        // Not empty, or gone.
      }
    }
  }

  private segmentPath(n: number): string {
    return join(this.dir, `${this.id}.${n}.jsonl`);
  }

  private rotate(): void {
    const next = this.current.number + 1;
    // Every line of the old segment is synced before the new one takes writes; a failed sync
    // means those lines cannot be trusted (fail closed).
    fdatasyncSync(this.fd);
    this.syncedUpTo = this.jseq;
    this.resolveSynced();
    const fd = openSync(this.segmentPath(next), 'wx', 0o600);
    // An fdatasync of the old file may still be queued: close it only after that.
    const old = this.fd;
    const closeOld = () => closeSync(old);
    if (this.syncing) void this.syncing.then(closeOld);
    else closeOld();
    this.closedSegments.push(this.current);
    this.fd = fd;
    this.size = 0;
    this.current = { number: next, path: this.segmentPath(next), last: this.jseq };
    this.indexed(this.indexedUpTo); // the old segment may already be indexed
  }

  private cutBack(cause: unknown): void {
    try {
      ftruncateSync(this.fd, this.size);
    } catch (error) {
      this.broken = new Error(`${(cause as Error).message}; cutting back the partial line failed too: ${(error as Error).message}`);
    }
  }

  private startSync(): void {
    if (this.syncing) return;
    const upTo = this.jseq;
    this.dirty = false;
    this.syncing = new Promise<void>((done) => {
      fdatasync(this.fd, (error) => {
        this.syncing = undefined;
        if (error) {
          // A failed fsync may have dropped the dirty pages: nothing written can be trusted.
          this.broken ??= error;
          for (const w of this.waiters.splice(0)) w.reject(new JournalError(`the audit journal cannot be synced: ${error.message}`, { cause: error }));
        } else {
          this.syncedUpTo = Math.max(this.syncedUpTo, upTo);
          this.resolveSynced();
          if (this.waiters.length > 0) this.startSync();
        }
        done();
      });
    });
  }

  /** Resolves the waiters whose lines are synced. */
  private resolveSynced(): void {
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (w.upTo <= this.syncedUpTo) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }

  /** Whether close() was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  private backgroundSync(): void {
    if (this.dirty && !this.syncing && !this.closed) this.startSync();
  }

  private touch(): void {
    if (this.closed) return;
    try {
      const now = new Date();
      futimesSync(this.fd, now, now);
    } catch {
      // A failing touch only makes the journal look orphaned sooner; writes report real errors.
    }
  }
}

// ---------------------------------------------------------------------------------------
// Recovery

/** One orphaned journal: its id and its segments in order. */
export interface OrphanJournal {
  id: string;
  files: string[];
}

/** A journaled record read back for recovery. */
export interface JournalEntry {
  jseq: number;
  record: PreparedRecord;
}

/**
 * Journals in `dir` that no running process owns: their process is gone, or they were not
 * touched for STALE_MS. `ownId` (this process's own journal) is never returned.
 */
export function findOrphanJournals(dir: string, ownId?: string, now = Date.now()): OrphanJournal[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const groups = new Map<string, { files: { n: number; path: string }[] }>();
  for (const name of names) {
    const m = NAME.exec(name);
    if (!m) continue;
    const id = `${m[1]}-${m[2]}`;
    if (id === ownId) continue;
    const group = groups.get(id) ?? { files: [] };
    group.files.push({ n: Number(m[3]), path: join(dir, name) });
    groups.set(id, group);
  }
  const out: OrphanJournal[] = [];
  for (const [id, group] of groups) {
    group.files.sort((a, b) => a.n - b.n);
    // Only a journal nobody has touched for STALE_MS is orphaned: its owner touches it every
    // TOUCH_MS, and a pid says little across containers (pid 1 everywhere) or after reuse. A
    // journal of a process that died a moment ago is picked up by the next periodic scan.
    const newest = Math.max(...group.files.map((f) => mtimeOf(f.path)));
    if (now - newest < STALE_MS) continue;
    out.push({ id, files: group.files.map((f) => f.path) });
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * The records of an orphaned journal with jseq above `after`, in order. A last line without
 * its newline was cut short by the crash and was never acknowledged, so it is skipped; any
 * other unreadable line is an error naming the file and line.
 */
export function readJournal(journal: OrphanJournal, after: number): JournalEntry[] {
  const out: JournalEntry[] = [];
  let expected: number | undefined;
  for (const file of journal.files) {
    const text = readFileSync(file, 'utf8');
    const lines = text.split('\n');
    // The last piece is '' after a final newline, or a line the crash cut short.
    const complete = lines.length - 1;
    for (let i = 0; i < complete; i++) {
      const line = lines[i]!;
      const entry = parseLine(line);
      if (!entry) throw new JournalError(`audit journal ${file} line ${i + 1} is not a journal record`);
      if (expected !== undefined && entry.jseq !== expected) {
        throw new JournalError(`audit journal ${file} line ${i + 1} has sequence ${entry.jseq}, expected ${expected}`);
      }
      expected = entry.jseq + 1;
      if (entry.jseq <= after) continue;
      if (out.length === 0 && entry.jseq !== after + 1) {
        throw new JournalError(
          `audit journal ${journal.id} lacks lines ${after + 1}..${entry.jseq - 1} (its first unindexed line is ${entry.jseq}): a power cut with store.sync: normal, or files removed by hand; ` +
            `the records of those lines are lost. Move the journal's files (${journal.files.join(', ')}) out of the way to start, and keep them as evidence`,
        );
      }
      out.push(entry);
    }
  }
  return out;
}

/** Deletes an orphaned journal's files once its records are in the ledger. */
export function removeJournal(journal: OrphanJournal): void {
  for (const file of journal.files) {
    try {
      unlinkSync(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

function parseLine(line: string): JournalEntry | undefined {
  const a = line.indexOf('\t');
  const b = a < 0 ? -1 : line.indexOf('\t', a + 1);
  if (b < 0) return undefined;
  const jseq = Number(line.slice(0, a));
  const prefix = line.slice(a + 1, b);
  const suffix = line.slice(b + 1);
  if (!Number.isSafeInteger(jseq) || jseq < 1 || !prefix.startsWith('{') || !prefix.endsWith('"seq":') || !suffix.endsWith('}')) return undefined;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(`${prefix}0${suffix}`) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof body.time !== 'string' || typeof body.kind !== 'string') return undefined;
  const columns: AuditColumns = { time: body.time, kind: body.kind };
  for (const key of ['actionId', 'session', 'principal', 'connection', 'effect'] as const) {
    const v = body[key];
    if (typeof v === 'string') columns[key] = v;
  }
  return { jseq, record: { columns, prefix, suffix } };
}

function mtimeOf(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/** What recovery needs from the store (the embedded store implements it). */
export interface JournalStore {
  journalIndexed(journal: string): Promise<number>;
  appendAudit(records: readonly PreparedRecord[], journal?: JournalBatch): Promise<unknown[]>;
}

const RECOVERY_BATCH = 2000;

/**
 * Copies the records of every orphaned journal in `dir` that are not in the ledger yet onto the
 * chain, then deletes those journals. Runs at start, before the gate takes commands, so the
 * chain holds every record a crashed process acknowledged. Returns how many records it copied.
 * Throws when a journal cannot be read or stored: the caller must not start without them.
 */
export async function recoverJournals(dir: string, store: JournalStore, ownId?: string): Promise<{ journals: number; records: number }> {
  let records = 0;
  const orphans = findOrphanJournals(dir, ownId);
  for (const orphan of orphans) {
    const indexed = await store.journalIndexed(orphan.id);
    const entries = readJournal(orphan, indexed);
    for (let i = 0; i < entries.length; i += RECOVERY_BATCH) {
      const slice = entries.slice(i, i + RECOVERY_BATCH);
      await store.appendAudit(
        slice.map((e) => e.record),
        { journal: orphan.id, first: slice[0]!.jseq, last: slice[slice.length - 1]!.jseq },
      );
      records += slice.length;
    }
    // The meta row stays as a tombstone: should the owner only have been frozen, its own copies
    // of these lines are then refused as already indexed instead of being stored twice.
    removeJournal(orphan);
  }
  return { journals: orphans.length, records };
}

/**
 * How many journaled records of stopped processes are not in the ledger yet (the next start
 * copies them in): `audit verify` says so, since the chain alone cannot show them.
 */
export async function unrecoveredJournalRecords(dir: string, store: Pick<JournalStore, 'journalIndexed'>): Promise<number> {
  let count = 0;
  for (const orphan of findOrphanJournals(dir)) count += readJournal(orphan, await store.journalIndexed(orphan.id)).length;
  return count;
}
