// Verification of the audit chain, from the store or from an exported JSONL stream. Records
// are checked in seq order, page by page, and the FIRST problem stops the walk:
//
//   malformed        a body that is not a JSON object of a known format version, a bad seq
//   deleted          a gap: the record with this seq is missing
//   edited           the stored hash does not match prevHash + body (body, hash or prevHash changed)
//   reordered        the body says another seq than the row (records moved or renumbered)
//   inserted         records were put in before this seq and the originals renumbered
//   broken-link      a record is self-consistent but the next one links to another hash:
//                    this record was rewritten and rehashed
//   column-mismatch  a search column (time, kind, session, principal...) differs from the body
//   truncated        the chain ends before a head the caller knew about (external checkpoint)
//   checkpoint-mismatch  the record at the checkpoint's seq has another hash than the checkpoint
//
// and for the signed checkpoints in the chain (checkpoints.ts):
//
//   checkpoint-invalid    a checkpoint or key announcement that is malformed or covers itself, or
//                         a retention base that does not hold together
//   checkpoint-signature  the signature does not verify with the key it names
//   checkpoint-root       the root recomputed from the records differs from the signed root
//   untrusted-key         signed by a key the chain never announced, or not among the trusted keys
//   anchor-mismatch       a checkpoint kept outside the store disagrees with the records
//   truncated             (also) the chain ends before an anchored checkpoint
//
// Without an external checkpoint (`expectHead`), records removed from the END of the chain
// cannot be detected: what is left is a valid, shorter chain. Compare the returned head with one
// kept elsewhere (the signed checkpoints of the ledger).
import { hash as oneShotHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { MessageChannel, receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads';
import type { AuditRow, ChainHead, Store } from '../store/store.js';
import { GENESIS_HEAD } from '../store/store.js';
import { CheckpointChecker, type CheckerBase, type CheckpointCheckerOptions, type CheckpointSummary } from './checkpoints.js';
import { RecordFault, SPECIAL_KINDS, recordChecks, type Body } from './verify-record.js';
import { startVerifyWorker } from './verify-threads.js';
import { canonicalBodyText, checkJsonl } from './verify-jsonl.js';
import { checkBase, loadRetentionBase } from './retention-base.js';

export { canonicalBodyText };

export type AuditProblemKind =
  | 'malformed'
  | 'deleted'
  | 'edited'
  | 'reordered'
  | 'inserted'
  | 'broken-link'
  | 'column-mismatch'
  | 'truncated'
  | 'checkpoint-mismatch'
  | 'checkpoint-invalid'
  | 'checkpoint-signature'
  | 'checkpoint-root'
  | 'untrusted-key'
  | 'anchor-mismatch';

export interface AuditProblem {
  /** The first record found bad (for `deleted` and `truncated`: the first missing seq). */
  seq: number;
  kind: AuditProblemKind;
  message: string;
}

/** What the order and link checks need of a record (its body was checked apart: recordChecks). */
export type PreparedRow = Pick<AuditRow, 'seq' | 'kind' | 'prevHash' | 'hash'>;

export interface VerifyResult {
  ok: boolean;
  /** Records checked and found good. */
  count: number;
  /** The last good record (the chain's head when ok). */
  head: ChainHead;
  problem?: AuditProblem;
  /** What was found about signed checkpoints (absent when they were not checked). */
  checkpoints?: CheckpointSummary;
}

export interface VerifyOptions {
  /**
   * Checks of the signed checkpoints (default: on, trusting the keys the chain announces).
   * `false` checks the hash chain only, which lets a large embedded store be walked by
   * several worker threads.
   */
  checkpoints?: CheckpointCheckerOptions | false;
  /** Records per read (default 2000, 1000 for the chunks of a parallel walk: larger pages cost more in garbage collection than they save). */
  pageSize?: number;
  /**
   * A head known from elsewhere (a checkpoint): the chain must reach its seq, and the record
   * there must have its hash. This is what detects records cut off the end.
   */
  expectHead?: ChainHead;
  signal?: AbortSignal;
  /** Called after each page with the number of records checked so far. */
  onProgress?: (count: number) => void;
  /**
   * Threads checking an embedded store's chain, this one included (default: one per CPU, at
   * most 8, and only from 100,000 records). 0 or 1: walk in this thread only.
   */
  workers?: number;
  /** Tests: this thread leaves every chunk to the worker threads (it still feeds them in order). */
  leaveChunksToWorkers?: boolean;
}

export interface VerifyJsonlOptions extends Omit<VerifyOptions, 'pageSize' | 'workers' | 'leaveChunksToWorkers'> {
  /**
   * Worker threads that parse and hash batches of lines of a large export while this thread
   * checks them in order and prepares batches too (default: one per CPU but one, at most 7).
   * 0: this thread only. Small exports (under 4 MiB) are always checked in this thread.
   */
  workers?: number;
  /** Tests: characters per batch of lines (default 512 KiB); exports under 8 batches stay in this thread. */
  batchChars?: number;
  /**
   * For filtered or partial exports: gaps in seq are allowed and links are checked only
   * between consecutive records; each record's own hash and columns are still checked.
   */
  partial?: boolean;
  /** Longest accepted line in bytes (default 16 MiB). */
  maxLineBytes?: number;
  /**
   * The retention base of a pruned ledger (parsed JSON, `sluice audit base`): the export starts
   * after it and is checked from it, as verifyAudit does from the store's base.
   */
  base?: unknown;
}

/** How many recent records a checker remembers (see `inserted`). */
export const RECENT = 1024;

/** Checks records one by one, in order. Shared by the store and the JSONL verifiers. */
export class ChainChecker {
  count = 0;
  head: ChainHead = { ...GENESIS_HEAD };
  /**
   * The parsed body of the record last checked: whole for the kinds the checkpoint checks look
   * into (SPECIAL_KINDS), otherwise possibly only the fields recordChecks reads.
   */
  body: Body | undefined;
  private expected = 1;
  /** False after a gap in partial mode: the next record's link cannot be checked. */
  private linked = true;
  /** Hashes of the last RECENT good records by seq, to tell a copied record from a displaced one. */
  private readonly recentSeq = new Float64Array(RECENT);
  private readonly recentHash: string[] = new Array<string>(RECENT).fill('');

  constructor(
    private readonly options: {
      partial?: boolean;
      expectHead?: ChainHead;
      /** Start mid-chain: `head` is the record before the first one this checker sees. */
      from?: ChainHead;
      /** Signed checkpoint checks (only for a walk from seq 1). */
      checkpoints?: CheckpointChecker;
    } = {},
  ) {
    if (options.from) {
      this.head = { ...options.from };
      this.expected = options.from.seq + 1;
    }
  }

  /** The seq the next record must have. */
  get next(): number {
    return this.expected;
  }

  /**
   * Checks the next record. `body` may be given already parsed (JSONL); otherwise the stored
   * body text is parsed here. Returns the problem, or undefined when the record is good.
   */
  check(row: AuditRow, parsed?: Body): AuditProblem | undefined {
    const early = this.checkOrder(row.seq);
    if (early) return early;
    if (typeof row.prevHash !== 'string' || typeof row.hash !== 'string' || typeof row.body !== 'string') {
      return { seq: row.seq, kind: 'malformed', message: `record ${row.seq}: prevHash, hash or body is missing` };
    }
    return this.checkRest(row, recordChecks(row, parsed));
  }

  /**
   * check() for a record whose record-only checks (recordChecks) were made elsewhere, with
   * their outcome; `leaf`: its Merkle leaf hash when already computed (verify-jsonl.ts).
   */
  checkPrepared(row: PreparedRow, checked: Body | RecordFault, leaf?: Buffer): AuditProblem | undefined {
    return this.checkOrder(row.seq) ?? this.checkRest(row, checked, leaf);
  }

  /** The seq against the records before (a gap in partial mode only unlinks). */
  private checkOrder(seq: number): AuditProblem | undefined {
    if (!Number.isSafeInteger(seq) || seq < 1) {
      return { seq: this.expected, kind: 'malformed', message: `record after seq ${this.head.seq} has an invalid seq ${String(seq)}` };
    }
    if (seq !== this.expected) {
      if (seq < this.expected) {
        return {
          seq,
          kind: 'reordered',
          message: `record ${seq} appears again or out of order after record ${this.head.seq}`,
        };
      }
      if (!this.options.partial) return this.gap(seq, true);
      this.linked = false;
    }
    return undefined;
  }

  /** After the order: the record-only outcome and the link, in a sequential walk's order, then the checkpoints. */
  private checkRest(row: PreparedRow, checked: Body | RecordFault, leaf?: Buffer): AuditProblem | undefined {
    const seq = row.seq;
    if (checked instanceof RecordFault && !checked.afterLink) {
      return checked.copyOf === undefined ? checked.problem : this.inserted(seq, checked.copyOf, row.hash);
    }
    if (this.linked && row.prevHash !== this.head.hash) {
      if (seq === 1) {
        return { seq, kind: 'broken-link', message: 'record 1 does not start from the genesis hash' };
      }
      return {
        seq: seq - 1,
        kind: 'broken-link',
        message: `record ${seq - 1} is not the record that ${seq} was chained to: it was rewritten and rehashed (or record ${seq}'s link was)`,
      };
    }
    if (checked instanceof RecordFault) return checked.problem;
    const body = checked;
    this.body = body;
    const cp = this.options.checkpoints;
    if (cp) {
      const problem = cp.check(row, body, leaf);
      if (problem) return problem;
    }
    const expect = this.options.expectHead;
    if (expect && seq === expect.seq) {
      const mismatch = expectMismatch(row, expect);
      if (mismatch) return mismatch;
    }
    this.accept(seq, row.hash);
    this.count += 1;
    return undefined;
  }

  /**
   * The record stored as `seq` is record `bodySeq` by its body: either a copy of that record
   * put in here (then it is the first bad one), or the original pushed back by records
   * inserted before it.
   */
  private inserted(seq: number, bodySeq: number, hash: string): AuditProblem {
    if (this.hashOf(bodySeq) === hash) {
      return {
        seq,
        kind: 'inserted',
        message: `the record stored as ${seq} is a copy of record ${bodySeq}: it was inserted and the rest renumbered`,
      };
    }
    return {
      seq: bodySeq,
      kind: 'inserted',
      message:
        `the record stored as ${seq} is record ${bodySeq} by its body: ` +
        (seq - bodySeq === 1
          ? `a record was inserted at seq ${bodySeq} and the rest renumbered`
          : `${seq - bodySeq} records were inserted from seq ${bodySeq} and the rest renumbered`),
    };
  }

  /**
   * Records a good record that precedes what this checker will see (a parallel range is
   * seeded with the records before it, so it judges copies exactly as a full walk does).
   */
  accept(seq: number, hash: string): void {
    this.head = { seq, hash };
    this.expected = seq + 1;
    this.linked = true;
    this.recentSeq[seq % RECENT] = seq;
    this.recentHash[seq % RECENT] = hash;
  }

  private hashOf(seq: number): string | undefined {
    return this.recentSeq[seq % RECENT] === seq ? this.recentHash[seq % RECENT] : undefined;
  }

  /** Checks that end with the walk (the expected head was reached). */
  finish(): AuditProblem | undefined {
    const expect = this.options.expectHead;
    if (expect && expect.seq > this.head.seq) {
      return {
        seq: this.head.seq + 1,
        kind: 'truncated',
        message: `the chain ends at ${this.head.seq} but the checkpoint is at ${expect.seq}: records were removed from the end`,
      };
    }
    return this.options.checkpoints?.finish(this.head.seq + 1);
  }

  /**
   * For a checker of the range up to `last`: records missing at the end of the range.
   * `nextSeq` is the first stored seq after the range, so the message matches a full walk's.
   */
  finishRange(last: number, nextSeq: number | undefined): AuditProblem | undefined {
    if (this.expected > last) return undefined;
    return this.gap(nextSeq ?? last + 1, nextSeq !== undefined);
  }

  private gap(seq: number, known: boolean): AuditProblem {
    const lastMissing = seq - 1;
    const next = known ? ` (the next stored record is ${seq})` : '';
    return {
      seq: this.expected,
      kind: 'deleted',
      message:
        lastMissing === this.expected
          ? `record ${this.expected} is missing${next}`
          : `records ${this.expected} to ${lastMissing} are missing${next}`,
    };
  }

  result(problem?: AuditProblem): VerifyResult {
    const result: VerifyResult = problem
      ? { ok: false, count: this.count, head: this.head, problem }
      : { ok: true, count: this.count, head: this.head };
    // Only for a good chain, and only when there is something to say, so a chain without
    // checkpoints reads as before.
    const summary = problem ? undefined : this.options.checkpoints?.summary();
    if (summary && (summary.count > 0 || summary.anchored !== undefined)) result.checkpoints = summary;
    return result;
  }
}

/**
 * Walks the whole chain in the store. On an embedded store with a large chain, the chain is cut
 * into chunks that this thread and worker threads check in parallel (`workers`), with exactly
 * the result a sequential walk gives: this thread feeds the chunks' good records, in seq order,
 * to the checkpoint checks, and the first problem by seq wins.
 */
export async function verifyAudit(store: Store, options: VerifyOptions = {}): Promise<VerifyResult> {
  const pageSize = Math.min(100_000, Math.max(1, Math.floor(options.pageSize ?? 2000)));
  // After retention the chain starts at a checked base instead of seq 1 (retention.ts).
  const retained = await loadRetentionBase(store, options.checkpoints === false ? false : (options.checkpoints?.trusted ?? true));
  if ('problem' in retained) return { ok: false, count: 0, head: { ...GENESIS_HEAD }, problem: retained.problem };
  const start: ChainHead = retained.head ?? { ...GENESIS_HEAD };
  const checkpoints =
    options.checkpoints === false ? undefined : new CheckpointChecker({ ...(options.checkpoints ?? {}), ...(retained.base ? { base: retained.base } : {}) });
  let from: ChainHead = start;
  let done = 0;
  const parallel = await verifyInChunks(store, options, options.pageSize === undefined ? CHUNK_PAGE : pageSize, start, checkpoints);
  if (parallel) {
    if (!parallel.ok) return parallel;
    from = parallel.head;
    done = parallel.count;
  }
  // Sequentially: the whole chain, or what was appended after the parallel walk's snapshot.
  const checker = new ChainChecker({
    ...(options.expectHead ? { expectHead: options.expectHead } : {}),
    ...(checkpoints ? { checkpoints } : {}),
    from,
  });
  checker.count = done;
  if (parallel && from.seq > start.seq) {
    // Remember the last records as a sequential walk would (see `inserted`).
    const recent = await storeChunkReader(store).hashes(Math.max(start.seq, from.seq - RECENT), from.seq, RECENT);
    for (const row of recent) checker.accept(row.seq, row.hash);
    checker.accept(from.seq, from.hash);
  }
  // The next page is asked for before this one is checked: a server store (PostgreSQL) reads
  // and sends it meanwhile.
  let next: Promise<AuditRow[]> | undefined = store.readAudit({ afterSeq: from.seq, limit: pageSize });
  try {
    while (next) {
      options.signal?.throwIfAborted();
      const page: AuditRow[] = await next;
      next = page.length < pageSize ? undefined : store.readAudit({ afterSeq: page[page.length - 1]!.seq, limit: pageSize });
      for (const row of page) {
        const problem = checker.check(row);
        if (problem) return checker.result(problem);
      }
      options.onProgress?.(checker.count);
    }
  } finally {
    next?.catch(() => {}); // not needed any more, and its failure is nobody's business
  }
  return checker.result(checker.finish());
}

const NO_BODY: Body = {};

/** Chunks checked by worker threads so far in this process (tests: the workers did take part). */
export const walkStats = { workerChunks: 0 };

/** Below this many records a sequential walk is as quick as starting workers. */
const PARALLEL_MIN_RECORDS = 100_000;
/**
 * Records per read of a chunk when no page size is given: smaller pages than the sequential
 * walk's, so that a thread's next page (asked for before it checks this one) arrives sooner;
 * on PostgreSQL with a worker connection 1,000 verified some 10% more records/s than 2,000.
 */
const CHUNK_PAGE = 1000;
/** Largest chunk: small enough that the threads finish close together. */
const CHUNK_MAX = 8192;
/** Bytes per good record in a chunk's output: 0x00, the record hash, its Merkle leaf hash. */
const STRIDE = 65;

/** One chunk of the parallel walk: records first..last, read `pageSize` at a time. */
export interface ChunkJob {
  first: number;
  last: number;
  pageSize: number;
  /** The retention base, for the chunk right after it. */
  from?: ChainHead;
  /** Records at or below this seq are not part of the chain (before a retention base). */
  floor: number;
  /** Whether to compute the Merkle leaves (for the checkpoint checks; the hashes are always there). */
  leaves: boolean;
}

export interface ChunkOutcome {
  first: number;
  /** Good records, from `first` on. */
  count: number;
  head: ChainHead;
  problem?: AuditProblem;
  /**
   * For good record i (seq first + i), at STRIDE * i: a zero byte, the 32 bytes of its hash,
   * the 32 bytes of its leaf hash (the zero byte and the hash are the leaf's input; the leaf
   * only with `leaves`).
   */
  hashes: Uint8Array;
  /** Parsed bodies of the good records the checkpoint checks look into (key, checkpoint, system). */
  special: { seq: number; kind: string; body: Body }[];
}

/** How a chunk reads the store: full rows, and seq + hash only for the records before it. */
export interface ChunkReader {
  rows(afterSeq: number, beforeSeq: number, limit: number): Promise<AuditRow[]>;
  hashes(afterSeq: number, beforeSeq: number, limit: number): Promise<{ seq: number; hash: string }[]>;
}

export function storeChunkReader(store: Store): ChunkReader {
  const light = (store as { readAuditHashes?: (a: number, b: number, n: number) => { seq: number; hash: string }[] }).readAuditHashes;
  return {
    rows: async (afterSeq, beforeSeq, limit) => {
      // Keyset paging with the lower bound only, the limit cut to the seqs left below
      // `beforeSeq`: a range on both sides lets PostgreSQL without table statistics (right
      // after the appends, or with autovacuum off) plan a bitmap scan of the whole rest of the
      // range and a sort, for every page. Rows past the range (after a gap) are dropped here;
      // a page short of `limit` then still means the range is read to its end.
      const n = Math.min(limit, beforeSeq - afterSeq - 1);
      if (n < 1) return [];
      const page = await store.readAudit({ afterSeq, limit: n });
      let end = page.length;
      while (end > 0 && page[end - 1]!.seq >= beforeSeq) end -= 1;
      return end === page.length ? page : page.slice(0, end);
    },
    hashes: light ? async (a, b, n) => light.call(store, a, b, n) : (afterSeq, beforeSeq, limit) => store.readAudit({ afterSeq, beforeSeq, limit }),
  };
}

/**
 * Checks the chain records of one chunk as a sequential walk would (the records before it seed
 * the link check and the memory of recent records; whether they are sound is the previous
 * chunk's business), and gives back what the checkpoint checks need of the good ones.
 */
export async function checkChunk(read: ChunkReader, job: ChunkJob, cancelled?: () => boolean): Promise<ChunkOutcome | undefined> {
  // Seeded with the one record before; only a chunk with a problem is checked again with the
  // memory of RECENT records before it, which only the `inserted` judgement can need.
  const outcome = await checkChunkSeeded(read, job, 1, cancelled);
  if (!outcome?.problem || job.from || job.first <= 1) return outcome;
  return checkChunkSeeded(read, job, RECENT, cancelled);
}

async function checkChunkSeeded(read: ChunkReader, job: ChunkJob, recent: number, cancelled?: () => boolean): Promise<ChunkOutcome | undefined> {
  const checker = new ChainChecker(job.from ? { from: job.from } : {});
  if (!job.from && job.first > 1) {
    const before = await read.hashes(Math.max(job.floor, job.first - 1 - recent), job.first, recent);
    for (const row of before) checker.accept(row.seq, row.hash);
    if (before[before.length - 1]?.seq !== job.first - 1) checker.accept(job.first - 1, '');
  }
  const first = checker.head;
  const out = Buffer.allocUnsafeSlow(STRIDE * (job.last - job.first + 1));
  const special: ChunkOutcome['special'] = [];
  let problem: AuditProblem | undefined;
  // The next page is asked for before this one is checked: a server store reads and sends it meanwhile.
  let next: Promise<AuditRow[]> | undefined = read.rows(job.first - 1, job.last + 1, job.pageSize);
  try {
    pages: while (next) {
      if (cancelled?.()) return undefined;
      const page: AuditRow[] = await next;
      next = page.length < job.pageSize ? undefined : read.rows(page[page.length - 1]!.seq, job.last + 1, job.pageSize);
      for (const row of page) {
        problem = checker.check(row);
        if (problem) break pages;
        if (SPECIAL_KINDS.has(row.kind)) special.push({ seq: row.seq, kind: row.kind, body: checker.body! });
        const at = STRIDE * (row.seq - job.first);
        out[at] = 0;
        out.write(row.hash, at + 1, 'hex');
        if (job.leaves) {
          // The leaf hash's input (0x00, then the raw record hash) is hashed where it lies; latin1
          // maps the digest's bytes to chars one to one, and costs no buffer of its own.
          out.write(oneShotHash('sha256', out.subarray(at, at + 33), 'binary'), at + 33, 32, 'latin1');
        }
      }
    }
  } finally {
    next?.catch(() => {}); // not needed any more
  }
  if (!problem && checker.next <= job.last) {
    const [after] = await read.hashes(job.last, Number.MAX_SAFE_INTEGER, 1);
    problem = checker.finishRange(job.last, after?.seq);
  }
  const count = checker.count;
  return {
    first: job.first,
    count,
    head: count > 0 ? checker.head : first,
    ...(problem ? { problem } : {}),
    hashes: out,
    special,
  };
}

/** The shared claim state of a parallel walk: [next chunk to claim, lowest chunk with a problem]. */
const NEXT = 0;
const STOP = 1;

/** Claims the next chunk, or -1 when none is left worth checking (all claimed, or after a problem). */
export function claimChunk(state: Int32Array, chunks: number): number {
  const i = Atomics.add(state, NEXT, 1);
  return i < chunks && chunkWanted(state, i) ? i : -1;
}

/** Whether chunk i is still worth checking (no problem before it, the walk not over). */
export function chunkWanted(state: Int32Array, i: number): boolean {
  return i <= Atomics.load(state, STOP);
}

/** Chunks after one with a problem need not be checked: the first problem wins. */
export function stopAfter(state: Int32Array, i: number): void {
  for (let cur = Atomics.load(state, STOP); i < cur; cur = Atomics.load(state, STOP)) {
    if (Atomics.compareExchange(state, STOP, cur, i) === cur) return;
  }
}

/** What a worker gets: the chunking of the walk and where to claim and report chunks. */
/** Where a verify worker reads the chain: the embedded store's file, or the same PostgreSQL schema. */
export type WalkSource = { kind: 'sqlite'; path: string } | { kind: 'postgres'; connectionString: string; schema: string };

export interface WalkJob {
  source: WalkSource;
  /** Chunk i covers seq start + 1 + i * size .. min(head, start + (i + 1) * size). */
  start: number;
  head: number;
  size: number;
  chunks: number;
  pageSize: number;
  /** The retention base (chunk 0 starts right after it). */
  base?: ChainHead;
  leaves: boolean;
  state: SharedArrayBuffer;
  port: MessagePort;
}

export type WalkReply = { index: number; outcome: ChunkOutcome } | { error: string };

export function chunkJob(job: Omit<WalkJob, 'source' | 'state' | 'port' | 'chunks'>, i: number): ChunkJob {
  const first = job.start + 1 + i * job.size;
  return {
    first,
    last: Math.min(job.head, first + job.size - 1),
    pageSize: job.pageSize,
    floor: job.start,
    leaves: job.leaves,
    ...(i === 0 && job.base ? { from: job.base } : {}),
  };
}

/**
 * The parallel walk of records start+1..head (as of now) on a file-backed embedded store or a
 * PostgreSQL store (each worker with its own connection).
 * Returns undefined when it does not apply (another store, a small chain, one thread), and
 * otherwise the result up to that head, with `checkpoints` fed with every good record in
 * order. Worker threads that cannot start or fail leave their chunks to this thread:
 * parallelism is only ever an optimisation.
 */
async function verifyInChunks(
  store: Store,
  options: VerifyOptions,
  pageSize: number,
  start: ChainHead,
  checkpoints: CheckpointChecker | undefined,
): Promise<VerifyResult | undefined> {
  // Worker threads open the file, or connect to the server, themselves.
  const source = walkSource(store);
  if (!source) return undefined;
  const threads = options.workers ?? Math.min(8, availableParallelism());
  if (threads < 2) return undefined;
  const head = await store.auditHead();
  const records = head.seq - start.seq;
  if (options.workers === undefined && records < PARALLEL_MIN_RECORDS) return undefined;
  if (records < 2) return undefined;
  const size = Math.max(1, Math.min(CHUNK_MAX, Math.ceil(records / (threads * 4))));
  const chunks = Math.ceil(records / size);
  const expect = options.expectHead;
  const leaves = checkpoints !== undefined;
  const layout = { start: start.seq, head: head.seq, size, pageSize, leaves, ...(start.seq > 0 ? { base: start } : {}) };
  const state = new Int32Array(new SharedArrayBuffer(8));
  state[STOP] = chunks;
  const outcomes = new Array<ChunkOutcome | undefined>(chunks);
  const ports: MessagePort[] = [];
  const workers: Worker[] = [];
  let running = 0;
  let wake: (() => void) | undefined;
  const onReply = (reply: WalkReply) => {
    if ('index' in reply) {
      const o = reply.outcome;
      o.hashes = Buffer.from(o.hashes.buffer, o.hashes.byteOffset, o.hashes.byteLength);
      outcomes[reply.index] = o;
      walkStats.workerChunks += 1;
    }
    wake?.();
  };
  const drain = () => {
    for (const port of ports) for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) onReply(m.message as WalkReply);
  };
  // Workers are asked to stop (at their next page) and waited for, not terminated: terminating
  // a thread inside the SQLite binding can abort the whole process.
  const stopAll = () => {
    stopAfter(state, -1);
    wake?.();
  };
  options.signal?.addEventListener('abort', stopAll, { once: true });
  try {
    // This thread takes chunks too, so `threads` counts it.
    for (let t = 1; t < Math.min(threads, chunks); t++) {
      const channel = new MessageChannel();
      const w = startWorker({ ...layout, source, chunks, state: state.buffer as SharedArrayBuffer, port: channel.port2 });
      if (!w) break;
      ports.push(channel.port1);
      workers.push(w);
      running += 1;
      w.once('exit', () => {
        running -= 1;
        wake?.();
      });
      w.on('error', () => {}); // an exit follows; its chunks are checked here
    }

    const read = storeChunkReader(store);
    let fed = 0; // chunks fed to the checkpoint checks, in order
    let count = 0;
    let last: ChainHead = start;
    const feed = (): VerifyResult | undefined => {
      for (let o = outcomes[fed]; o !== undefined; o = outcomes[++fed]) {
        const problem = feedChunk(o, last, checkpoints, expect);
        if (problem) return { ok: false, count: count + problem.count, head: problem.head, problem: problem.problem };
        count += o.count;
        if (o.count > 0) last = o.head;
        if (o.problem) return { ok: false, count, head: last, problem: o.problem };
        options.onProgress?.(count);
      }
      return fed === chunks ? { ok: true, count, head: last } : undefined;
    };

    for (let i = options.leaveChunksToWorkers ? -1 : claimChunk(state, chunks); i !== -1; i = claimChunk(state, chunks)) {
      options.signal?.throwIfAborted();
      const o = (await checkChunk(read, chunkJob(layout, i)))!;
      if (o.problem) stopAfter(state, i);
      outcomes[i] = o;
      drain();
      const result = feed();
      if (result) return result;
    }
    for (const port of ports) port.on('message', onReply);
    for (;;) {
      drain();
      const result = feed();
      if (result) return result;
      options.signal?.throwIfAborted();
      if (running === 0) {
        // A worker failed or could not start: this thread checks what it left.
        const i = outcomes.findIndex((o) => o === undefined);
        outcomes[i] = (await checkChunk(read, chunkJob(layout, i)))!;
        continue;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    options.signal?.removeEventListener('abort', stopAll);
    stopAll();
    const deadline = Date.now() + WORKER_STOP_MS;
    while (running > 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 100).unref();
      });
      wake = undefined;
    }
    // Stuck (a lock held elsewhere?): the last resort.
    if (running > 0) for (const w of workers) void w.terminate();
    for (const port of ports) port.close();
  }
}

/** How long a walk that is over waits for its workers to finish the page they are on. */
const WORKER_STOP_MS = 10_000;

/**
 * Feeds a chunk's good records to the checkpoint checks and the expected head, in order.
 * Returns the first problem with the good records before it and the last of them.
 */
function feedChunk(
  o: ChunkOutcome,
  before: ChainHead,
  checkpoints: CheckpointChecker | undefined,
  expect: ChainHead | undefined,
): { problem: AuditProblem; count: number; head: ChainHead } | undefined {
  const h = o.hashes as Buffer;
  const hexAt = (i: number) => (i < 0 ? before : { seq: o.first + i, hash: h.toString('hex', STRIDE * i + 1, STRIDE * i + 33) });
  if (checkpoints) {
    let s = 0;
    const row = { seq: 0, kind: '', hash: '' };
    for (let i = 0; i < o.count; i++) {
      row.seq = o.first + i;
      const sp = o.special[s];
      let body = NO_BODY;
      if (sp !== undefined && sp.seq === row.seq) {
        row.kind = sp.kind;
        body = sp.body;
        s += 1;
      } else {
        row.kind = '';
      }
      const problem = checkpoints.check(row, body, h.subarray(STRIDE * i + 33, STRIDE * i + 65));
      if (problem) return { problem, count: i, head: hexAt(i - 1) };
      if (expect && row.seq === expect.seq) {
        const mismatch = expectMismatch(hexAt(i), expect);
        if (mismatch) return { problem: mismatch, count: i, head: hexAt(i - 1) };
      }
    }
  } else if (expect && expect.seq >= o.first && expect.seq < o.first + o.count) {
    const i = expect.seq - o.first;
    const mismatch = expectMismatch(hexAt(i), expect);
    if (mismatch) return { problem: mismatch, count: i, head: hexAt(i - 1) };
  }
  return undefined;
}

function expectMismatch(at: ChainHead, expect: ChainHead): AuditProblem | undefined {
  if (at.hash === expect.hash) return undefined;
  return {
    seq: at.seq,
    kind: 'checkpoint-mismatch',
    message: `record ${at.seq} has another hash than the checkpoint: the chain up to ${at.seq} was rewritten`,
  };
}

/** How a worker thread reaches the same chain, or undefined (an in-memory store). */
function walkSource(store: Store): WalkSource | undefined {
  if (store.kind === 'sqlite') {
    const path = (store as { path?: unknown }).path;
    return typeof path === 'string' && path !== ':memory:' ? { kind: 'sqlite', path } : undefined;
  }
  const reader = (store as { readerOptions?: () => { connectionString: string; schema: string } }).readerOptions?.();
  return reader ? { kind: 'postgres', ...reader } : undefined;
}

function startWorker(job: WalkJob): Worker | undefined {
  return startVerifyWorker(job.source.kind === 'sqlite' ? 'verify-worker-sqlite' : 'verify-worker-postgres', { workerData: job, transferList: [job.port] });
}

/**
 * Verifies an exported JSONL stream (see export.ts) with the same checks, without a store.
 * Accepts a readable stream or any (async) iterable of text or byte chunks.
 */
export async function verifyAuditJsonl(
  source: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
  options: VerifyJsonlOptions = {},
): Promise<VerifyResult> {
  let baseHead: ChainHead | undefined;
  let base: CheckerBase | undefined;
  if (options.base !== undefined) {
    const checked = checkBase(options.base, options.checkpoints === false || options.partial ? false : (options.checkpoints?.trusted ?? true));
    if (typeof checked === 'string') {
      return { ok: false, count: 0, head: { ...GENESIS_HEAD }, problem: { seq: 1, kind: 'checkpoint-invalid', message: `the retention base ${checked}` } };
    }
    baseHead = checked.head;
    base = checked.base;
  }
  // A partial export has gaps, so there is no tree to rebuild.
  const checkpoints =
    options.checkpoints === false || options.partial ? undefined : new CheckpointChecker({ ...(options.checkpoints ?? {}), ...(base ? { base } : {}) });
  const checker = new ChainChecker({
    ...(options.partial ? { partial: true } : {}),
    ...(options.expectHead ? { expectHead: options.expectHead } : {}),
    ...(checkpoints ? { checkpoints } : {}),
    ...(baseHead ? { from: baseHead } : {}),
  });
  return checkJsonl(source, checker, {
    maxLineBytes: options.maxLineBytes ?? 16 * 1024 * 1024,
    baseSeq: baseHead?.seq,
    signal: options.signal,
    onProgress: options.onProgress,
    workers: options.workers,
    batchChars: options.batchChars,
  });
}
