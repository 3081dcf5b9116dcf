// JSONL export of the audit chain: one stored record per line, read from the store page by
// page so millions of records stream in constant memory.
//
//   {"seq":1,"time":"...","kind":"decision","session":"...",...,"prevHash":"<64 hex>","hash":"<64 hex>","body":{...}}
//
// `body` is the stored canonical body, embedded as JSON (so the line is plain JSON to any
// tool); a verifier re-encodes it canonically to recompute the hash. The search columns are
// included as stored, so an export verifies with the same checks as the store.
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { AuditQuery, AuditRow, Store } from '../store/store.js';

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

/**
 * Parses one export line. The returned row has an empty `body`: the caller encodes the parsed
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
  for (const k of ['time', 'kind', 'prevHash', 'hash'] as const) {
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
