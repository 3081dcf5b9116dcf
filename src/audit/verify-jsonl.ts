// Reading an exported JSONL stream for verifyAuditJsonl (verify.ts), line by line into a
// ChainChecker, and for a large export the parallel split: worker threads
// (verify-jsonl-worker.ts) parse batches of lines, check each body's canonical text and make
// the record-only checks and hashes (prepareBatch); this thread hands the prepared records to
// the ChainChecker strictly in line order (order, links, checkpoints, the expected head), so
// the first problem, its seq and its message are exactly those of the walk in one thread.
import { hash as oneShotHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { StringDecoder } from 'node:string_decoder';
import type { Worker } from 'node:worker_threads';
import type { AuditRow } from '../store/store.js';
import { MAX_CANONICAL_DEPTH, canonicalJson } from './canonical.js';
import { parseJsonlLine } from './export.js';
import { quickLine } from './verify-scan.js';
import { RecordFault, SPECIAL_KINDS, recordChecks, type Body } from './verify-record.js';
import { startVerifyWorker } from './verify-threads.js';
import type { AuditProblem, ChainChecker, PreparedRow, VerifyResult } from './verify.js';

export interface JsonlReadOptions {
  maxLineBytes: number;
  /** Lines with a seq up to this are skipped (before a retention base). */
  baseSeq: number | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((count: number) => void) | undefined;
  /** Worker threads besides this one (default: one per CPU but one, at most 7); 0: this thread only. */
  workers?: number | undefined;
  /** Characters per batch of lines (default 512 KiB); exports under PARALLEL_MIN_BATCHES batches stay in this thread. */
  batchChars?: number | undefined;
}

/** Below this many batches of text an export is checked in this thread (starting threads costs more). */
const PARALLEL_MIN_BATCHES = 8;
const BATCH_CHARS = 512 * 1024;
/** Batches read and not yet checked, per thread (this one included): bounds the memory held. */
const IN_FLIGHT_PER_THREAD = 4;

/** Batches prepared by worker threads in this process, and how threads start (tests: both). */
export const jsonlThreads = {
  batches: 0,
  start: (options: { workerData: JsonlWorkerData }): Worker | undefined => startVerifyWorker('verify-jsonl-worker', options),
};

export interface JsonlWorkerData {
  baseSeq: number | undefined;
}

/** Reads `source` into `checker` to the first problem; the result as verifyAuditJsonl returns it. */
export async function checkJsonl(
  source: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>,
  checker: ChainChecker,
  options: JsonlReadOptions,
): Promise<VerifyResult> {
  const it = chunksOf(source);
  const decoder = new StringDecoder('utf8');
  const decode = (chunk: string | Uint8Array) => (typeof chunk === 'string' ? chunk : decoder.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
  const first: string[] = [];
  const text: TextStream = { first, rest: it, decode, end: () => decoder.end() };
  // Worker threads besides this one, which shares the preparing when it has nothing else to do.
  const threads = options.workers ?? Math.min(7, availableParallelism() - 1);
  const batchChars = Math.max(1, options.batchChars ?? BATCH_CHARS);
  // The first part of the stream decides: a small export is not worth the threads.
  let size = 0;
  let small = threads < 1;
  try {
    while (!small && size < PARALLEL_MIN_BATCHES * batchChars) {
      const next = await it.next();
      if (next.done) small = true;
      else {
        options.signal?.throwIfAborted();
        const chunk = decode(next.value);
        first.push(chunk);
        size += chunk.length;
      }
    }
    if (small) return await sequential(text, checker, options);
    return await parallel(text, checker, options, threads, batchChars);
  } finally {
    await it.return?.(undefined);
  }
}

async function* chunksOf(source: AsyncIterable<string | Uint8Array> | Iterable<string | Uint8Array>): AsyncGenerator<string | Uint8Array> {
  yield* source;
}

/** The export as text: `first` (decoded already), then `rest` to decode, then `end()`. */
interface TextStream {
  first: string[];
  rest: AsyncGenerator<string | Uint8Array>;
  decode: (chunk: string | Uint8Array) => string;
  /** What the decoder still holds (an incomplete character at the very end). */
  end: () => string;
}

/** The walk in this thread. */
async function sequential(stream: TextStream, checker: ChainChecker, options: JsonlReadOptions): Promise<VerifyResult> {
  const maxLine = options.maxLineBytes;
  const baseSeq = options.baseSeq;
  let buffered = '';
  let lineNo = 0;

  const checkLine = (line: string): AuditProblem | undefined => {
    lineNo += 1;
    // Export lines start with '{'; only other lines need the (allocating) blank test.
    if (line.charCodeAt(0) !== 0x7b && line.trim().length === 0) return undefined;
    const next = checker.head.seq + 1;
    const parsed = parseJsonlLine(line);
    if ('error' in parsed) return { seq: next, kind: 'malformed', message: `line ${lineNo}: ${parsed.error}` };
    // Records an interrupted prune left below the base are not part of the retained chain.
    if (baseSeq !== undefined && parsed.row.seq <= baseSeq) return undefined;
    let body: string;
    try {
      body = canonicalBodyText(parsed.body);
    } catch (error) {
      return { seq: parsed.row.seq, kind: 'malformed', message: `line ${lineNo}: ${(error as Error).message}` };
    }
    const row = parsed.row as AuditRow;
    row.body = body;
    return checker.check(row, parsed.body);
  };

  let sinceProgress = 0;
  const take = (text: string): AuditProblem | undefined => {
    buffered += text;
    let start = 0;
    for (;;) {
      const nl = buffered.indexOf('\n', start);
      if (nl === -1) break;
      const problem = checkLine(buffered.slice(start, nl));
      if (problem) return problem;
      start = nl + 1;
    }
    buffered = buffered.slice(start);
    if (buffered.length > maxLine) {
      return { seq: checker.head.seq + 1, kind: 'malformed', message: `line ${lineNo + 1} is longer than ${maxLine} bytes` };
    }
    if (options.onProgress && checker.count - sinceProgress >= 10_000) {
      sinceProgress = checker.count;
      options.onProgress(checker.count);
    }
    return undefined;
  };

  for (const text of stream.first) {
    const problem = take(text);
    if (problem) return checker.result(problem);
  }
  for await (const chunk of { [Symbol.asyncIterator]: () => stream.rest }) {
    options.signal?.throwIfAborted();
    const problem = take(stream.decode(chunk));
    if (problem) return checker.result(problem);
  }
  buffered += stream.end();
  if (buffered.length > 0) {
    const problem = checkLine(buffered);
    if (problem) return checker.result(problem);
  }
  return checker.result(checker.finish());
}

/** One entry of the in-order queue: a batch being prepared, or the over-long line that ends the stream. */
type Queued = { promise: Promise<PreparedBatch>; job: Job } | 'overlong';

/**
 * The walk with worker threads: the text is cut into batches of whole lines, prepared by the
 * threads, and checked here in order. A worker that cannot start or fails leaves its batches
 * to this thread: the threads are only ever an optimisation.
 */
async function parallel(stream: TextStream, checker: ChainChecker, options: JsonlReadOptions, threads: number, batchChars: number): Promise<VerifyResult> {
  const maxLine = options.maxLineBytes;
  const pool = new BatchPool(threads, options.baseSeq);
  const queue: Queued[] = [];
  const maxQueued = (pool.workers + 1) * IN_FLIGHT_PER_THREAD;
  let lines = 0;
  let sinceProgress = 0;
  // Text not yet handed out: `parts`, of which the last `tail` characters are an unfinished line.
  let parts: string[] = [];
  let partsLength = 0;
  let tail = 0;

  const enqueue = (text: string) => {
    const entry = pool.prepare(text);
    entry.promise.catch(() => {}); // awaited in order below; one left behind after a problem is nobody's business
    queue.push(entry);
  };
  /** Hands out the whole lines held, keeping the unfinished one (all of it at the end). */
  const handOut = (all = false) => {
    if (partsLength - (all ? 0 : tail) === 0) return;
    const text = parts.length === 1 ? parts[0]! : parts.join('');
    const cut = all ? text.length : text.length - tail;
    enqueue(text.slice(0, cut));
    parts = cut < text.length ? [text.slice(cut)] : [];
    partsLength = text.length - cut;
  };
  /** Checks the oldest queued entry; the result when it ends the walk. */
  const checkOldest = async (): Promise<VerifyResult | undefined> => {
    const next = queue.shift()!;
    options.signal?.throwIfAborted();
    if (next === 'overlong') {
      return checker.result({ seq: checker.head.seq + 1, kind: 'malformed', message: `line ${lines + 1} is longer than ${maxLine} bytes` });
    }
    // While a thread still has the batch needed next, this thread prepares waiting ones.
    // One at a time, letting the threads' replies in between, so that they get their next ones.
    while (!next.job.done && pool.help()) await new Promise<void>((resolve) => setImmediate(resolve));
    const batch = await next.promise;
    const problem = applyBatch(batch, checker, lines);
    if (problem) return checker.result(problem);
    lines += batch.lines;
    if (options.onProgress && checker.count - sinceProgress >= 10_000) {
      sinceProgress = checker.count;
      options.onProgress(checker.count);
    }
    return undefined;
  };
  /** Takes a decoded chunk; true when the stream must not be read further (an over-long line). */
  const take = (text: string): boolean => {
    if (text.length > 0) {
      parts.push(text);
      partsLength += text.length;
      const nl = text.lastIndexOf('\n');
      tail = nl === -1 ? tail + text.length : text.length - nl - 1;
    }
    if (partsLength - tail >= batchChars) handOut();
    if (tail > maxLine) {
      handOut();
      queue.push('overlong');
      return true;
    }
    return false;
  };

  try {
    let stop = false;
    for (const text of stream.first) if (!stop) stop = take(text);
    if (!stop) {
      for await (const chunk of { [Symbol.asyncIterator]: () => stream.rest }) {
        options.signal?.throwIfAborted();
        if (take(stream.decode(chunk))) break;
        while (queue.length >= maxQueued) {
          const result = await checkOldest();
          if (result) return result;
        }
      }
    }
    if (queue[queue.length - 1] !== 'overlong') {
      const end = stream.end();
      if (end.length > 0) {
        parts.push(end);
        partsLength += end.length;
      }
      handOut(true);
    }
    while (queue.length > 0) {
      const result = await checkOldest();
      if (result) return result;
    }
    return checker.result(checker.finish());
  } finally {
    await pool.close();
  }
}

const NO_BODY: Body = {};

/** Feeds a prepared batch to the checker; `linesBefore`: lines of the stream before the batch. */
function applyBatch(batch: PreparedBatch, checker: ChainChecker, linesBefore: number): AuditProblem | undefined {
  const { seqs, hashes, notes } = batch;
  const leaves = Buffer.from(batch.leaves.buffer, batch.leaves.byteOffset, batch.leaves.byteLength);
  const row: PreparedRow = { seq: 0, kind: '', prevHash: '', hash: '' };
  let plain = 0;
  let n = 0;
  for (let i = 0; i < batch.count; i++) {
    const note = notes[n];
    let problem: AuditProblem | undefined;
    if (note !== undefined && note.i === i) {
      n += 1;
      const at = `line ${linesBefore + note.line + 1}`;
      if (note.parseError !== undefined) problem = { seq: checker.head.seq + 1, kind: 'malformed', message: `${at}: ${note.parseError}` };
      else if (note.canonicalError !== undefined) problem = { seq: note.row!.seq, kind: 'malformed', message: `${at}: ${note.canonicalError}` };
      else if (note.fault) problem = checker.checkPrepared(note.row!, RecordFault.from(note.fault));
      else problem = checker.checkPrepared(note.row!, note.body ?? NO_BODY, leaves.subarray(32 * i, 32 * i + 32));
    } else {
      const at = 128 * plain++;
      row.seq = seqs[i]!;
      row.prevHash = hashes.slice(at, at + 64);
      row.hash = hashes.slice(at + 64, at + 128);
      problem = checker.checkPrepared(row, NO_BODY, leaves.subarray(32 * i, 32 * i + 32));
    }
    if (problem) return problem;
  }
  return undefined;
}

/**
 * A batch of lines, prepared: its records (non-blank lines, less those before the base) by
 * index. A plain record passed recordChecks, is of a kind the checkpoint checks do not look
 * into and has the usual hashes; every other record has a note.
 */
export interface PreparedBatch {
  /** Lines in the batch, blank ones included. */
  lines: number;
  count: number;
  /** The seq of each record (NaN for a line that is not a record). */
  seqs: Float64Array;
  /** prevHash and hash of each plain record, 128 characters per plain record, in order. */
  hashes: string;
  /** The Merkle leaf hash of each record that passed recordChecks, 32 bytes at 32 * index. */
  leaves: Uint8Array;
  /** By index. */
  notes: BatchNote[];
}

export interface BatchNote {
  i: number;
  /** The line's index in the batch. */
  line: number;
  /** The line is not a record (parseJsonlLine's error). */
  parseError?: string;
  /** The body has no canonical form (canonicalJson's error). */
  canonicalError?: string;
  row?: PreparedRow;
  fault?: { problem?: AuditProblem; afterLink?: boolean; copyOf?: number };
  /** The body, for the kinds the checkpoint checks look into. */
  body?: Body;
}

const leafInput = Buffer.alloc(33, 0);

/** Prepares a batch of lines (whole lines; the last one may lack its newline at the stream's end). */
export function prepareBatch(text: string, baseSeq: number | undefined): PreparedBatch {
  let seqs = new Float64Array(64);
  let leaves = Buffer.allocUnsafeSlow(32 * 64);
  const hashes: string[] = [];
  const notes: BatchNote[] = [];
  let count = 0;
  let lines = 0;
  const add = (seq: number): number => {
    if (count === seqs.length) {
      const more = new Float64Array(count * 2);
      more.set(seqs);
      seqs = more;
      const bigger = Buffer.allocUnsafeSlow(64 * count);
      leaves.copy(bigger);
      leaves = bigger;
    }
    seqs[count] = seq;
    return count++;
  };
  for (let start = 0; start < text.length; ) {
    let nl = text.indexOf('\n', start);
    if (nl === -1) nl = text.length;
    const line = text.slice(start, nl);
    start = nl + 1;
    const index = lines++;
    if (line.charCodeAt(0) !== 0x7b && line.trim().length === 0) continue;
    // The quick way gives the same row and body text; the kinds whose whole body the
    // checkpoint checks need take the full way.
    let row: AuditRow;
    let body: Body;
    const quick = quickLine(line);
    if (quick && !SPECIAL_KINDS.has(quick.row.kind)) {
      row = quick.row;
      body = quick.fields;
      if (baseSeq !== undefined && row.seq <= baseSeq) continue;
    } else {
      const parsed = parseJsonlLine(line);
      if ('error' in parsed) {
        notes.push({ i: add(Number.NaN), line: index, parseError: parsed.error });
        continue;
      }
      row = parsed.row as AuditRow;
      body = parsed.body;
      if (baseSeq !== undefined && row.seq <= baseSeq) continue;
      try {
        row.body = canonicalBodyText(body);
      } catch (error) {
        notes.push({ i: add(row.seq), line: index, row: preparedRow(row), canonicalError: (error as Error).message });
        continue;
      }
    }
    const r = row;
    const checked = recordChecks(row, body);
    const i = add(r.seq);
    if (checked instanceof RecordFault) {
      notes.push({ i, line: index, row: preparedRow(r), fault: { ...checked } });
      continue;
    }
    // The hash is the record's (64 hex digits); its leaf, hashed where it lies (see checkChunk).
    leafInput.write(r.hash, 1, 'hex');
    leaves.write(oneShotHash('sha256', leafInput, 'binary'), 32 * i, 32, 'latin1');
    if (SPECIAL_KINDS.has(r.kind)) notes.push({ i, line: index, row: preparedRow(r), body: checked });
    else if (r.prevHash.length !== 64) notes.push({ i, line: index, row: preparedRow(r) });
    else hashes.push(r.prevHash, r.hash);
  }
  return { lines, count, seqs: seqs.subarray(0, count), hashes: hashes.join(''), leaves: leaves.subarray(0, 32 * count), notes };
}

function preparedRow(r: AuditRow): PreparedRow {
  return { seq: r.seq, kind: r.kind, prevHash: r.prevHash, hash: r.hash };
}

interface Job {
  text: string;
  done: boolean;
  resolve: (batch: PreparedBatch) => void;
  reject: (error: unknown) => void;
}

/** Batches a worker thread holds at once: enough to go on with while this thread is busy. */
const PER_WORKER = 3;

/**
 * Worker threads preparing batches, fed as they finish; this thread prepares the next waiting
 * batch itself while the one it needs is still with a thread, and every batch when no thread
 * could start or a thread failed.
 */
class BatchPool {
  private readonly threads: { worker: Worker; jobs: Map<number, Job> }[] = [];
  private readonly waiting: Job[] = [];
  private nextId = 0;
  private closed = false;

  constructor(
    workers: number,
    private readonly baseSeq: number | undefined,
  ) {
    for (let t = 0; t < workers; t++) {
      const worker = jsonlThreads.start({ workerData: { baseSeq } });
      if (!worker) break;
      const thread = { worker, jobs: new Map<number, Job>() };
      this.threads.push(thread);
      worker.on('message', (m: { id: number; batch: PreparedBatch }) => {
        const job = thread.jobs.get(m.id);
        if (!job) return;
        thread.jobs.delete(m.id);
        jsonlThreads.batches += 1;
        this.finish(job, m.batch);
        this.pump();
      });
      worker.on('error', () => {}); // an exit follows
      worker.once('exit', () => {
        this.threads.splice(this.threads.indexOf(thread), 1);
        if (this.closed) return;
        // Its unfinished batches are the oldest: first in line again.
        this.waiting.unshift(...thread.jobs.values());
        thread.jobs.clear();
        this.pump();
        // None left: whoever waits for a batch would wait for ever.
        if (this.threads.length === 0) while (this.help());
      });
    }
  }

  get workers(): number {
    return this.threads.length;
  }

  prepare(text: string): { promise: Promise<PreparedBatch>; job: Job } {
    let job!: Job;
    const promise = new Promise<PreparedBatch>((resolve, reject) => (job = { text, done: false, resolve, reject }));
    this.waiting.push(job);
    this.pump();
    return { promise, job };
  }

  /** Prepares the oldest waiting batch here; false when none is waiting. */
  help(): boolean {
    const job = this.waiting.shift();
    if (!job) return false;
    try {
      this.finish(job, prepareBatch(job.text, this.baseSeq));
    } catch (error) {
      job.done = true;
      job.reject(error);
    }
    return true;
  }

  private finish(job: Job, batch: PreparedBatch): void {
    job.done = true;
    job.resolve(batch);
  }

  private pump(): void {
    for (const thread of this.threads) {
      while (thread.jobs.size < PER_WORKER && this.waiting.length > 0) {
        const job = this.waiting.shift()!;
        const id = this.nextId++;
        thread.jobs.set(id, job);
        thread.worker.postMessage({ id, text: job.text });
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.map((t) => t.worker.terminate()));
  }
}

/**
 * The canonical text of a parsed body. JSON.stringify (native) writes exactly what
 * canonicalJson does for a parsed value whose object keys are already in sorted order, whose
 * numbers are all finite and that nests no deeper than canonicalJson accepts; an exported body
 * is like that, and checking it is cheaper than encoding it. Anything else (keys out of order,
 * 1e999...) goes through canonicalJson, which gives the same text or the same error as before.
 */
export function canonicalBodyText(body: Body): string {
  return plainCanonical(body, 0) ? JSON.stringify(body) : canonicalJson(body);
}

/** True when JSON.stringify of this parsed JSON value is its canonical JSON. */
function plainCanonical(value: unknown, depth: number): boolean {
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value !== 'object' || value === null) return typeof value === 'string' || typeof value === 'boolean' || value === null;
  // canonicalJson refuses an object or array at this depth.
  if (depth >= MAX_CANONICAL_DEPTH) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!plainCanonical(value[i], depth + 1)) return false;
    return true;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  const o = value as Record<string, unknown>;
  const keys = Object.keys(o);
  for (let i = 0; i < keys.length; i++) {
    // Strictly ascending in UTF-16 order (Array#sort's default, canonicalJson's order).
    if (i > 0 && !(keys[i - 1]! < keys[i]!)) return false;
    if (!plainCanonical(o[keys[i]!], depth + 1)) return false;
  }
  return true;
}
