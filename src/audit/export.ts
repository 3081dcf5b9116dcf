// Exports of the audit chain, read from the store page by page so millions of records stream in
// constant memory. JSONL: one stored record per line, verifiable offline. OCSF: one event per
// line for a SIEM (audit/ocsf.ts).
//
//   {"seq":1,"time":"...","kind":"decision","session":"...",...,"prevHash":"<64 hex>","hash":"<64 hex>","body":{...}}
//
// `body` is the stored canonical body, embedded as JSON (so the line is plain JSON to any
// tool); a verifier re-encodes it canonically to recompute the hash. The search columns are
// included as stored, so an export verifies with the same checks as the store.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { AuditQuery, AuditRow, Store } from '../store/store.js';
import { auditRowToOcsf, type OcsfOptions } from './ocsf.js';
import type { AuditBody } from './record.js';

export interface AuditExportOptions extends Omit<AuditQuery, 'limit'> {
  /** Most records in total (default: all). */
  limit?: number;
  /** Records per store read (default 5000). */
  pageSize?: number;
  signal?: AbortSignal;
}

const OPTIONAL_COLUMNS = ['actionId', 'session', 'principal', 'connection', 'effect'] as const;

/** One export line, without the newline. */
export function auditRowToJsonl(row: AuditRow): string {
  let out = `{"seq":${row.seq},"time":${JSON.stringify(row.time)},"kind":${JSON.stringify(row.kind)}`;
  for (const col of OPTIONAL_COLUMNS) {
    const v = row[col];
    if (v !== undefined) out += `,${JSON.stringify(col)}:${JSON.stringify(v)}`;
  }
  // The stored body is already JSON text; embedding it avoids a parse and re-encode.
  return out + `,"prevHash":${JSON.stringify(row.prevHash)},"hash":${JSON.stringify(row.hash)},"body":${row.body}}`;
}

const STRING_FIELDS = ['time', 'kind', 'prevHash', 'hash'] as const;

/**
 * Parses one export line. The returned row has no `body`: the caller encodes the parsed
 * body canonically (see verifyAuditJsonl).
 */
export function parseJsonlLine(
  line: string,
): { row: Omit<AuditRow, 'body'>; body: Record<string, unknown> } | { error: string } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { error: 'not valid JSON' };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return { error: 'not a JSON object' };
  const o = v as Record<string, unknown>;
  if (typeof o.seq !== 'number') return { error: 'seq is missing or not a number' };
  for (const k of STRING_FIELDS) {
    if (typeof o[k] !== 'string') return { error: `${k} is missing or not a string` };
  }
  if (typeof o.body !== 'object' || o.body === null || Array.isArray(o.body)) return { error: 'body is missing or not an object' };
  const row: Omit<AuditRow, 'body'> = {
    seq: o.seq,
    time: o.time as string,
    kind: o.kind as string,
    prevHash: o.prevHash as string,
    hash: o.hash as string,
  };
  for (const col of OPTIONAL_COLUMNS) {
    const c = o[col];
    if (c === undefined || c === null) continue;
    if (typeof c !== 'string') return { error: `${col} is not a string` };
    row[col] = c;
  }
  return { row, body: o.body as Record<string, unknown> };
}

/** Reads matching records page by page, in seq order (or newest first with `descending`). */
export async function* readAuditPages(store: Store, options: AuditExportOptions = {}): AsyncGenerator<AuditRow[]> {
  const pageSize = Math.min(100_000, Math.max(1, Math.floor(options.pageSize ?? 5000)));
  let remaining = options.limit ?? Number.POSITIVE_INFINITY;
  if (!(remaining >= 0)) throw new RangeError('limit must be a number >= 0');
  const { pageSize: _p, limit: _l, signal, ...filters } = options;
  let afterSeq = filters.afterSeq;
  let beforeSeq = filters.beforeSeq;
  while (remaining > 0) {
    signal?.throwIfAborted();
    const limit = Math.min(pageSize, remaining);
    const query: AuditQuery = { ...filters, limit };
    if (afterSeq !== undefined) query.afterSeq = afterSeq;
    if (beforeSeq !== undefined) query.beforeSeq = beforeSeq;
    const page = await store.readAudit(query);
    if (page.length === 0) return;
    yield page;
    remaining -= page.length;
    if (page.length < limit) return;
    const last = page[page.length - 1]!.seq;
    if (options.descending) beforeSeq = last;
    else afterSeq = last;
  }
}

/** Export lines, each ending in "\n". */
export async function* exportAuditJsonl(store: Store, options: AuditExportOptions = {}): AsyncGenerator<string> {
  for await (const page of readAuditPages(store, options)) {
    for (const row of page) yield auditRowToJsonl(row) + '\n';
  }
}

/** Writes the export to a stream, honouring back-pressure. Returns the number of records. */
export async function writeAuditJsonl(store: Store, out: Writable, options: AuditExportOptions = {}): Promise<number> {
  let count = 0;
  for await (const page of readAuditPages(store, options)) {
    let chunk = '';
    for (const row of page) chunk += auditRowToJsonl(row) + '\n';
    count += page.length;
    if (!out.write(chunk)) await once(out, 'drain', options.signal ? { signal: options.signal } : {});
  }
  return count;
}

// --- Filtered exports (time, kind) and the OCSF format ---------------------------------------

/**
 * Records are stamped when they are appended and sealed a moment later; with several nodes
 * their clocks differ a little. A time filter therefore starts reading this much before `from`
 * and stops this much after `to`, and filters each record exactly in between.
 */
export const TIME_SLACK_MS = 10 * 60_000;

export interface AuditFilter extends Omit<AuditExportOptions, 'descending'> {
  /** Records at or after this time. */
  from?: Date;
  /** Records before this time. */
  to?: Date;
  /** Only these record kinds (decision, outcome, review...). */
  kinds?: readonly string[];
}

/**
 * The seq after which records are at least TIME_SLACK_MS older than `from`: a binary search
 * over seq (one primary-key read per step), so a period late in a long ledger is found without
 * reading everything before it.
 */
export async function seqBefore(store: Store, from: Date): Promise<number> {
  const target = from.getTime() - TIME_SLACK_MS;
  let lo = 0;
  let hi = (await store.auditHead()).seq;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    const [row] = await store.readAudit({ afterSeq: mid - 1, limit: 1 });
    if (!row || Date.parse(row.time) >= target) hi = mid - 1;
    else lo = Math.min(row.seq, hi);
  }
  return lo;
}

/** Matching records in seq order, page by page; `from`, `to` and `kinds` are applied here. */
export async function* readFilteredAudit(store: Store, filter: AuditFilter = {}): AsyncGenerator<AuditRow[]> {
  const { from, to, kinds, limit, ...rest } = filter;
  const options: AuditExportOptions = { ...rest };
  if (from) options.afterSeq = Math.max(options.afterSeq ?? 0, await seqBefore(store, from));
  const fromMs = from?.getTime();
  const toMs = to?.getTime();
  const kindSet = kinds && kinds.length > 0 ? new Set(kinds) : undefined;
  let remaining = limit ?? Number.POSITIVE_INFINITY;
  if (!(remaining >= 0)) throw new RangeError('limit must be a number >= 0');
  for await (const page of readAuditPages(store, options)) {
    const out: AuditRow[] = [];
    let done = false;
    for (const row of page) {
      const t = Date.parse(row.time);
      if (toMs !== undefined && t >= toMs + TIME_SLACK_MS) {
        done = true;
        break;
      }
      if (fromMs !== undefined && t < fromMs) continue;
      if (toMs !== undefined && t >= toMs) continue;
      if (kindSet && !kindSet.has(row.kind)) continue;
      out.push(row);
      if (--remaining <= 0) {
        done = true;
        break;
      }
    }
    if (out.length > 0) yield out;
    if (done) return;
  }
}

const DECISION_CACHE = 10_000;

/**
 * Turns rows into OCSF JSON lines. Outcome and review records take their activity and
 * command from the action's decision: the last few thousand decisions are kept, and an older
 * one is read from the store by action id (an indexed read).
 */
export class OcsfFormatter {
  private readonly decisions = new Map<string, AuditBody>();

  constructor(
    private readonly store: Store,
    private readonly options: Omit<OcsfOptions, 'decision'> = {},
  ) {}

  async line(row: AuditRow): Promise<string> {
    let decision: AuditBody | undefined;
    if (row.kind === 'decision') {
      if (row.actionId) this.remember(row.actionId, JSON.parse(row.body) as AuditBody);
    } else if (row.actionId && (row.kind === 'outcome' || row.kind === 'review')) {
      decision = await this.decisionOf(row.actionId);
    }
    return JSON.stringify(auditRowToOcsf(row, { ...this.options, ...(decision ? { decision } : {}) }));
  }

  private remember(actionId: string, body: AuditBody): void {
    this.decisions.delete(actionId);
    this.decisions.set(actionId, body);
    if (this.decisions.size > DECISION_CACHE) this.decisions.delete(this.decisions.keys().next().value!);
  }

  private async decisionOf(actionId: string): Promise<AuditBody | undefined> {
    const cached = this.decisions.get(actionId);
    if (cached) return cached;
    const [first] = await this.store.readAudit({ actionId, limit: 1 });
    if (first?.kind !== 'decision') return undefined;
    const body = JSON.parse(first.body) as AuditBody;
    this.remember(actionId, body);
    return body;
  }
}

export type ExportFormat = 'jsonl' | 'ocsf';

/** A formatter for rows: the export line without its newline. */
export function rowFormatter(store: Store, format: ExportFormat, ocsf: Omit<OcsfOptions, 'decision'> = {}): (row: AuditRow) => Promise<string> | string {
  if (format === 'jsonl') return auditRowToJsonl;
  const formatter = new OcsfFormatter(store, ocsf);
  return (row) => formatter.line(row);
}

/** Writes a filtered export in either format, honouring back-pressure. Returns the number of records. */
export async function writeAuditExport(
  store: Store,
  out: Writable,
  options: AuditFilter & { format: ExportFormat; ocsf?: Omit<OcsfOptions, 'decision'> },
): Promise<number> {
  const { format, ocsf, ...filter } = options;
  const line = rowFormatter(store, format, ocsf);
  let count = 0;
  for await (const page of readFilteredAudit(store, filter)) {
    let chunk = '';
    for (const row of page) chunk += (await line(row)) + '\n';
    count += page.length;
    if (!out.write(chunk)) await once(out, 'drain', options.signal ? { signal: options.signal } : {});
  }
  return count;
}
