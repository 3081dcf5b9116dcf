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
import { availableParallelism } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import { Worker } from 'node:worker_threads';
import type { AuditRow, ChainHead, Store } from '../store/store.js';
import { GENESIS_HEAD } from '../store/store.js';
import { recordHash } from './chain.js';
import { AUDIT_FORMAT_VERSION } from './record.js';
import { canonicalJson } from './canonical.js';
import { CheckpointChecker, type CheckerBase, type CheckpointCheckerOptions, type CheckpointSummary } from './checkpoints.js';
import { parseJsonlLine } from './export.js';
import type { RangeJob, RangeReply } from './verify-worker.js';
import { checkBase, loadRetentionBase } from './retention-base.js';

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
  /** Records per read (default 2000: larger pages cost more in garbage collection than they save). */
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
   * Worker threads for an embedded store (default: one per CPU, at most 8, and only from
   * 100,000 records). 0 or 1: walk in this thread.
   */
  workers?: number;
}

export interface VerifyJsonlOptions extends Omit<VerifyOptions, 'pageSize' | 'workers'> {
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

type Body = Record<string, unknown>;

/**
 * The first search column that differs from the body field of the same name (absent and
 * null columns equal an absent field). Written out rather than looped: this runs per record.
 */
function mismatchedColumn(row: AuditRow, body: Body): keyof AuditRow | undefined {
  if (row.time !== body.time) return 'time';
  if (row.kind !== body.kind) return 'kind';
  if ((row.actionId ?? undefined) !== body.actionId) return 'actionId';
  if ((row.session ?? undefined) !== body.session) return 'session';
  if ((row.principal ?? undefined) !== body.principal) return 'principal';
  if ((row.connection ?? undefined) !== body.connection) return 'connection';
  if ((row.effect ?? undefined) !== body.effect) return 'effect';
  return undefined;
}

/** How many recent records a checker remembers (see `inserted`). */
export const RECENT = 1024;

/** Checks records one by one, in order. Shared by the store and the JSONL verifiers. */
export class ChainChecker {
  count = 0;
  head: ChainHead = { ...GENESIS_HEAD };
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
    const seq = row.seq;
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

    if (typeof row.prevHash !== 'string' || typeof row.hash !== 'string' || typeof row.body !== 'string') {
      return { seq, kind: 'malformed', message: `record ${seq}: prevHash, hash or body is missing` };
    }
    if (recordHash(row.prevHash, row.body) !== row.hash) {
      return {
        seq,
        kind: 'edited',
        message: `record ${seq} was changed: its hash does not match its body and prevHash`,
      };
    }
    let body = parsed;
    if (body === undefined) {
      try {
        body = JSON.parse(row.body) as Body;
      } catch {
        return { seq, kind: 'malformed', message: `record ${seq}: the body is not valid JSON` };
      }
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return { seq, kind: 'malformed', message: `record ${seq}: the body is not a JSON object` };
    }

    if (body.v !== AUDIT_FORMAT_VERSION) {
      return { seq, kind: 'malformed', message: `record ${seq}: unknown body format version ${JSON.stringify(body.v)}` };
    }
    const bodySeq = body.seq;
    if (bodySeq !== seq) {
      if (typeof bodySeq !== 'number' || !Number.isSafeInteger(bodySeq) || bodySeq < 1) {
        return { seq, kind: 'malformed', message: `record ${seq}: the body has no valid seq` };
      }
      if (bodySeq < seq) {
        // Either this record is a copy of record bodySeq put in here (then it is the first bad
        // one), or it is the original bodySeq pushed back by records inserted before it.
        if (this.hashOf(bodySeq) === row.hash) {
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
      return {
        seq,
        kind: 'reordered',
        message: `the record stored as ${seq} is record ${bodySeq} by its body: records were moved, or removed and the rest renumbered`,
      };
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
    const col = mismatchedColumn(row, body);
    if (col !== undefined) {
      const stored = (row as unknown as Record<string, unknown>)[col] ?? undefined;
      return {
        seq,
        kind: 'column-mismatch',
        message: `record ${seq}: the ${col} column (${describe(stored)}) differs from the body (${describe(body[col])})`,
      };
    }

    const cp = this.options.checkpoints;
    if (cp) {
      const problem = cp.check(row, body);
      if (problem) return problem;
    }
    const expect = this.options.expectHead;
    if (expect && seq === expect.seq && row.hash !== expect.hash) {
      return {
        seq,
        kind: 'checkpoint-mismatch',
        message: `record ${seq} has another hash than the checkpoint: the chain up to ${seq} was rewritten`,
      };
    }
    this.accept(seq, row.hash);
    this.count += 1;
    return undefined;
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
 * Walks the whole chain in the store. On an embedded store with a large chain, ranges of it are
 * checked in parallel worker threads (`workers`), with exactly the result a sequential walk
 * gives: the first problem of the lowest range is the first problem of the chain.
 */
export async function verifyAudit(store: Store, options: VerifyOptions = {}): Promise<VerifyResult> {
  const pageSize = Math.min(100_000, Math.max(1, Math.floor(options.pageSize ?? 2000)));
  // After retention the chain starts at a checked base instead of seq 1 (retention.ts).
  const retained = await loadRetentionBase(store, options.checkpoints === false ? false : (options.checkpoints?.trusted ?? true));
  if ('problem' in retained) return { ok: false, count: 0, head: { ...GENESIS_HEAD }, problem: retained.problem };
  const start: ChainHead = retained.head ?? { ...GENESIS_HEAD };
  let from: ChainHead = start;
  let done = 0;
  const newCheckpointChecker = () =>
    options.checkpoints === false ? undefined : new CheckpointChecker({ ...(options.checkpoints ?? {}), ...(retained.base ? { base: retained.base } : {}) });
  let checkpoints = newCheckpointChecker();
  // The Merkle tree grows leaf by leaf from seq 1: while worker threads check the chain in
  // ranges, this thread grows the tree over the same records (it reads hashes and parses only
  // key, checkpoint and system bodies). The first problem by seq wins, as in a sequential walk.
  const pass = checkpoints;
  const parallel = await verifyInParallel(store, options, pageSize, start, pass ? (last) => checkpointPass(store, pass, start, last, pageSize) : undefined);
  if (parallel) {
    const { result, alongside } = parallel;
    const cpProblem = alongside?.problem;
    if (!result.ok && (!cpProblem || result.problem!.seq <= cpProblem.seq)) return result;
    if (cpProblem) return { ok: false, count: cpProblem.seq - 1 - start.seq, head: alongside.prev, problem: cpProblem };
    from = result.head;
    done = result.count;
  } else if (pass && pass.frontier.size !== start.seq) {
    checkpoints = newCheckpointChecker(); // the workers could not run: start over in this thread
  }
  // Sequentially: the whole chain, or what was appended after the parallel walk's snapshot.
  const checker = new ChainChecker({
    ...(options.expectHead ? { expectHead: options.expectHead } : {}),
    ...(checkpoints ? { checkpoints } : {}),
    from,
  });
  checker.count = done;
  let after = from.seq;
  for (;;) {
    options.signal?.throwIfAborted();
    const page = await store.readAudit({ afterSeq: after, limit: pageSize });
    for (const row of page) {
      const problem = checker.check(row);
      if (problem) return checker.result(problem);
    }
    options.onProgress?.(checker.count);
    if (page.length < pageSize) break;
    after = page[page.length - 1]!.seq;
  }
  return checker.result(checker.finish());
}

/**
 * Grows the Merkle tree over records 1..last and checks the checkpoints among them, trusting
 * the hash chain (worker threads check that at the same time). Returns the first problem and
 * the record before it.
 */
async function checkpointPass(
  store: Store,
  checker: CheckpointChecker,
  start: ChainHead,
  last: number,
  pageSize: number,
): Promise<{ problem?: AuditProblem; prev: ChainHead }> {
  let prev: ChainHead = { ...start };
  let after = start.seq;
  // The embedded store can read just what the tree needs (seq, kind, hash; bodies of the kinds
  // looked into), which is most of this pass's cost otherwise.
  const leaves = (store as { readAuditLeaves?: (a: number, b: number, n: number) => { seq: number; kind: string; hash: string; body: string | null }[] }).readAuditLeaves;
  const read = leaves
    ? async (a: number) => leaves.call(store, a, last + 1, Math.max(pageSize, 10_000))
    : (a: number) => store.readAudit({ afterSeq: a, beforeSeq: last + 1, limit: pageSize });
  while (after < last) {
    const page = await read(after);
    if (page.length === 0) break;
    for (const row of page) {
      let problem: AuditProblem | undefined;
      try {
        const body = row.kind === 'checkpoint' || row.kind === 'key' || row.kind === 'system' ? (JSON.parse(row.body ?? '') as Body) : NO_BODY;
        problem = checker.check(row, body);
      } catch {
        // A broken record: the chain check reports it at this seq or earlier.
        problem = { seq: row.seq, kind: 'malformed', message: `record ${row.seq} cannot be read` };
      }
      if (problem) return { problem, prev };
      prev = { seq: row.seq, hash: row.hash };
    }
    after = page[page.length - 1]!.seq;
  }
  return { prev };
}
const NO_BODY: Body = {};

/** Below this many records a sequential walk is as quick as starting workers. */
const PARALLEL_MIN_RECORDS = 100_000;

/**
 * Checks records 1..head (as of now) in worker threads, one contiguous range each, each with
 * its own read connection. Returns undefined when that does not apply (not a file-backed
 * SQLite store, small chain, one CPU) or the workers cannot run, and the caller walks
 * sequentially instead: parallelism is only ever an optimisation.
 */
async function verifyInParallel<T>(
  store: Store,
  options: VerifyOptions,
  pageSize: number,
  start: ChainHead,
  alongside?: (last: number) => Promise<T>,
): Promise<{ result: VerifyResult; alongside?: T } | undefined> {
  const path = (store as { path?: unknown }).path;
  if (store.kind !== 'sqlite' || typeof path !== 'string' || path === ':memory:') return undefined;
  const wanted = options.workers ?? Math.min(8, availableParallelism());
  if (wanted < 2) return undefined;
  const head = await store.auditHead();
  const records = head.seq - start.seq;
  if (options.workers === undefined && records < PARALLEL_MIN_RECORDS) return undefined;
  const n = Math.min(wanted, Math.max(1, Math.floor(records / 2)));
  if (n < 2) return undefined;

  const size = Math.ceil(records / n);
  const jobs: RangeJob[] = [];
  for (let first = start.seq + 1; first <= head.seq; first += size) {
    jobs.push({
      path,
      first,
      last: Math.min(head.seq, first + size - 1),
      pageSize,
      ...(first === start.seq + 1 && start.seq > 0 ? { from: start } : {}),
      ...(options.expectHead ? { expectHead: options.expectHead } : {}),
    });
  }
  const workers: Worker[] = [];
  const abort = () => {
    for (const w of workers) void w.terminate();
  };
  options.signal?.addEventListener('abort', abort, { once: true });
  try {
    const running = Promise.all(jobs.map((job) => runWorker(job, workers)));
    const extra = alongside ? await alongside(head.seq) : undefined;
    const results = await running;
    options.signal?.throwIfAborted();
    if (results.some((r) => r === undefined)) return undefined;
    const also = extra === undefined ? {} : { alongside: extra };
    let count = 0;
    for (const r of results as VerifyResult[]) {
      count += r.count;
      if (!r.ok) return { result: { ...r, count }, ...also };
    }
    options.onProgress?.(count);
    return { result: { ok: true, count, head: (results[results.length - 1] as VerifyResult).head }, ...also };
  } finally {
    options.signal?.removeEventListener('abort', abort);
    abort();
  }
}

function runWorker(job: RangeJob, workers: Worker[]): Promise<VerifyResult | undefined> {
  return new Promise((resolve) => {
    let worker: Worker;
    try {
      worker = FROM_SOURCE
        ? new Worker(workerBootstrap(), { eval: true, workerData: job })
        : new Worker(WORKER_URL, { workerData: job });
    } catch {
      resolve(undefined);
      return;
    }
    workers.push(worker);
    worker.once('message', (reply: RangeReply) => resolve('result' in reply ? reply.result : undefined));
    worker.once('error', () => resolve(undefined));
    worker.once('exit', () => resolve(undefined)); // no-op if a message came first
  });
}

// Sources run through tsx. Node 20 does not apply `--import tsx` to a worker's own entry
// module, so from source the worker starts with a tiny script that registers tsx first.
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(`./verify-worker.${FROM_SOURCE ? 'ts' : 'js'}`, import.meta.url);
function workerBootstrap(): string {
  const api = import.meta.resolve('tsx/esm/api');
  return `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); });`;
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
  const maxLine = options.maxLineBytes ?? 16 * 1024 * 1024;
  const decoder = new StringDecoder('utf8');
  let buffered = '';
  let lineNo = 0;

  const checkLine = (line: string): AuditProblem | undefined => {
    lineNo += 1;
    if (line.trim().length === 0) return undefined;
    const next = checker.head.seq + 1;
    const parsed = parseJsonlLine(line);
    if ('error' in parsed) return { seq: next, kind: 'malformed', message: `line ${lineNo}: ${parsed.error}` };
    // Records an interrupted prune left below the base are not part of the retained chain.
    if (baseHead && parsed.row.seq <= baseHead.seq) return undefined;
    let body: string;
    try {
      body = canonicalJson(parsed.body);
    } catch (error) {
      return { seq: parsed.row.seq, kind: 'malformed', message: `line ${lineNo}: ${(error as Error).message}` };
    }
    return checker.check({ ...parsed.row, body }, parsed.body);
  };

  let sinceProgress = 0;
  for await (const chunk of source as AsyncIterable<string | Uint8Array>) {
    options.signal?.throwIfAborted();
    buffered += typeof chunk === 'string' ? chunk : decoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    let start = 0;
    for (;;) {
      const nl = buffered.indexOf('\n', start);
      if (nl === -1) break;
      const problem = checkLine(buffered.slice(start, nl));
      if (problem) return checker.result(problem);
      start = nl + 1;
    }
    buffered = buffered.slice(start);
    if (buffered.length > maxLine) {
      return checker.result({
        seq: checker.head.seq + 1,
        kind: 'malformed',
        message: `line ${lineNo + 1} is longer than ${maxLine} bytes`,
      });
    }
    if (options.onProgress && checker.count - sinceProgress >= 10_000) {
      sinceProgress = checker.count;
      options.onProgress(checker.count);
    }
  }
  buffered += decoder.end();
  if (buffered.length > 0) {
    const problem = checkLine(buffered);
    if (problem) return checker.result(problem);
  }
  return checker.result(checker.finish());
}

function describe(v: unknown): string {
  return v === undefined ? 'absent' : JSON.stringify(v);
}
