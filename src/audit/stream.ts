// The audit stream: delivers committed audit records to SIEM targets (webhook, syslog) in seq
// order, at least once. Each target has its own loop: read the next page after its cursor from
// the store, send it as one batch, then move the durable cursor (stream-cursor.ts). A failed
// batch is retried with exponential back-off until it goes through; nothing is skipped, so a
// target that stays down falls behind (and /readyz says so) but loses nothing, even across
// restarts. The loops only read committed rows through the Store, so the gate never waits for
// a target.
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditRow, Store } from '../store/store.js';
import { StoreError } from '../store/errors.js';
import { log } from '../util/log.js';
import { formatAnchorLine, parseSignedCheckpoint } from './checkpoints.js';
import { rowFormatter } from './export.js';
import type { OcsfOptions } from './ocsf.js';
import type { StreamCursorStore } from './stream-cursor.js';

export interface StreamBatch {
  /** Seq of the first record sent. */
  firstSeq: number;
  /** Seq of the last record read for this batch (records of other kinds may be skipped). */
  lastSeq: number;
  rows: AuditRow[];
  /** One formatted line per row, without newlines. */
  lines: string[];
}

export interface StreamTransport {
  /** Whether a resolved send means the receiver has the batch (HTTP 2xx), or only that it left (syslog). */
  readonly acknowledged: boolean;
  /** Where it delivers, safe to log (no credentials). */
  readonly describe: string;
  send(batch: StreamBatch): Promise<void>;
  /** Unacknowledged transports: whether what was sent went out on a connection that is still up. */
  healthy?(): boolean;
  close(): Promise<void>;
}

/** `anchor`: checkpoint records as anchor lines, the format of audit.checkpoint.anchor.file. */
export type StreamFormat = 'jsonl' | 'ocsf' | 'anchor';

export interface StreamTarget {
  name: string;
  format: StreamFormat;
  transport: StreamTransport;
  /** Only these record kinds (default: all). */
  kinds?: readonly string[];
  /** Records read per batch (default 500). */
  batchSize?: number;
  /** Where a target with no cursor yet starts: the first record (default) or the current head. */
  start?: 'beginning' | 'end';
}

export interface AuditStreamOptions {
  /** How often an idle target looks for new records (default 1 s). */
  pollIntervalMs?: number;
  /** First retry delay after a failed batch; doubles up to retryMaxMs (defaults 1 s, 5 min). */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** /readyz warns when a target is this many records behind the head (default 10000). */
  lagWarning?: number;
  /**
   * Unacknowledged transports (syslog): a batch counts as delivered once the connection has
   * stayed up this long after it was written (default 2 s).
   */
  settleMs?: number;
  ocsf?: Omit<OcsfOptions, 'decision'>;
}

export interface StreamTargetStatus {
  name: string;
  describe: string;
  /** Last seq the target has (durably recorded). */
  delivered: number;
  /** The error of the last attempt, while the target is failing. */
  lastError?: string;
  failingSince?: string;
  failures: number;
  /** Records that could not be formatted (sent as error lines, or skipped for anchors), and the first. */
  unformattable?: { count: number; firstSeq: number; error: string };
}

interface TargetState {
  target: StreamTarget;
  kinds: Set<string> | undefined;
  batchSize: number;
  format: (row: AuditRow) => Promise<string> | string;
  /** Durable cursor: everything up to here is delivered. */
  confirmed: number;
  /** Read position: the next batch starts after this. */
  read: number;
  /** Unacknowledged transports: batches sent but not yet confirmed (end seq, when written), oldest first. */
  pending: { seq: number; at: number }[];
  lastError: string | undefined;
  failingSince: string | undefined;
  failures: number;
  unformattable: { count: number; firstSeq: number; error: string } | undefined;
  loop: Promise<void> | undefined;
}

export class AuditStream {
  private readonly states: TargetState[];
  private readonly abort = new AbortController();
  private closed = false;
  private readonly pollIntervalMs: number;
  private readonly retryInitialMs: number;
  private readonly retryMaxMs: number;
  private readonly lagWarning: number;
  private readonly settleMs: number;

  constructor(
    private readonly store: Store,
    private readonly cursors: StreamCursorStore,
    targets: readonly StreamTarget[],
    options: AuditStreamOptions = {},
  ) {
    this.pollIntervalMs = Math.max(10, options.pollIntervalMs ?? 1000);
    this.retryInitialMs = Math.max(10, options.retryInitialMs ?? 1000);
    this.retryMaxMs = Math.max(this.retryInitialMs, options.retryMaxMs ?? 300_000);
    this.lagWarning = Math.max(1, options.lagWarning ?? 10_000);
    this.settleMs = Math.max(0, options.settleMs ?? 2000);
    const names = new Set<string>();
    this.states = targets.map((target) => {
      if (names.has(target.name)) throw new Error(`two audit stream targets are named ${target.name}`);
      names.add(target.name);
      const kinds = target.format === 'anchor' ? new Set(['checkpoint']) : target.kinds && target.kinds.length > 0 ? new Set(target.kinds) : undefined;
      return {
        target,
        kinds,
        batchSize: Math.min(10_000, Math.max(1, Math.floor(target.batchSize ?? 500))),
        format: target.format === 'anchor' ? anchorLine : rowFormatter(store, target.format, options.ocsf),
        confirmed: 0,
        read: 0,
        pending: [],
        lastError: undefined,
        failingSince: undefined,
        failures: 0,
        unformattable: undefined,
        loop: undefined,
      };
    });
  }

  /** Resumes every target from its cursor and starts delivering. */
  async start(): Promise<void> {
    for (const s of this.states) {
      let cursor = this.cursors.get(s.target.name);
      if (cursor === undefined) {
        cursor = s.target.start === 'end' ? (await this.store.auditHead()).seq : 0;
        await this.cursors.set(s.target.name, cursor);
      }
      s.confirmed = s.read = cursor;
    }
    for (const s of this.states) s.loop = this.run(s);
  }

  status(): StreamTargetStatus[] {
    return this.states.map((s) => ({
      name: s.target.name,
      describe: s.target.transport.describe,
      delivered: s.confirmed,
      failures: s.failures,
      ...(s.lastError ? { lastError: s.lastError } : {}),
      ...(s.failingSince ? { failingSince: s.failingSince } : {}),
      ...(s.unformattable ? { unformattable: { ...s.unformattable } } : {}),
    }));
  }

  /** Warnings for /readyz: targets that fail, or lag more than `lagWarning` records behind `head`. */
  warnings(head: number): { code: string; message: string }[] {
    const out: { code: string; message: string }[] = [];
    for (const s of this.states) {
      const behind = Math.max(0, head - s.confirmed);
      const where = `audit stream target ${s.target.name} (${s.target.transport.describe})`;
      if (s.lastError) {
        out.push({ code: 'audit_stream_failing', message: `${where} is failing since ${s.failingSince}: ${s.lastError}; ${behind} record(s) not delivered yet, retrying` });
      } else if (behind > this.lagWarning) {
        out.push({ code: 'audit_stream_behind', message: `${where} is ${behind} records behind the ledger` });
      }
      if (s.unformattable) {
        const u = s.unformattable;
        out.push({ code: 'audit_stream_unformattable', message: `${where}: ${u.count} record(s) could not be formatted and went as error lines (or, for anchors, not at all), the first seq ${u.firstSeq}: ${u.error}; run sluice audit verify` });
      }
    }
    return out;
  }

  /** Stops the loops (a batch in flight gets a few seconds) and closes the transports. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    const loops = this.states.map((s) => s.loop ?? Promise.resolve());
    await Promise.race([Promise.allSettled(loops), sleep(5000, undefined, { ref: false })]);
    for (const s of this.states) {
      const healthy = s.target.transport.healthy?.() ?? true;
      await s.target.transport.close().catch(() => undefined);
      // A clean close flushed what was written on a healthy connection.
      const last = s.pending.at(-1);
      if (last && healthy) await this.confirm(s, last.seq).catch(() => undefined);
    }
  }

  private async run(s: TargetState): Promise<void> {
    let delay = this.retryInitialMs;
    while (!this.closed) {
      try {
        const progressed = await this.step(s);
        if (s.lastError) log.info({ target: s.target.name }, 'audit stream target delivers again');
        s.lastError = undefined;
        s.failingSince = undefined;
        delay = this.retryInitialMs;
        if (!progressed) await this.pause(this.pollIntervalMs);
      } catch (error) {
        if (this.closed) break;
        const message = error instanceof Error ? error.message : String(error);
        if (!s.lastError) log.warn({ target: s.target.name, error: message }, 'audit stream target failing; retrying with back-off');
        s.lastError = message;
        s.failingSince ??= new Date().toISOString();
        s.failures++;
        await this.pause(delay);
        delay = Math.min(delay * 2, this.retryMaxMs);
      }
    }
  }

  /** Sends the next batch; false when there was nothing new. */
  private async step(s: TargetState): Promise<boolean> {
    const transport = s.target.transport;
    if (!transport.acknowledged && s.pending.length > 0) {
      if (transport.healthy?.() ?? true) {
        // Batches the connection has outlived by settleMs count as delivered.
        const settled = Date.now() - this.settleMs;
        let seq: number | undefined;
        while (s.pending.length > 0 && s.pending[0]!.at <= settled) seq = s.pending.shift()!.seq;
        if (seq !== undefined) await this.confirm(s, seq);
      } else {
        // It broke: what was sent since the cursor may be lost, so send it again.
        s.read = s.confirmed;
        s.pending = [];
      }
    }
    const rows = await this.store.readAudit({ afterSeq: s.read, limit: s.batchSize });
    if (rows.length === 0) return false;
    const lastSeq = rows[rows.length - 1]!.seq;
    const chosen = s.kinds ? rows.filter((r) => s.kinds!.has(r.kind)) : rows;
    if (chosen.length > 0) {
      const lines: string[] = [];
      for (const row of chosen) {
        const line = await this.formatted(s, row);
        if (line !== undefined) lines.push(line);
      }
      await transport.send({ firstSeq: chosen[0]!.seq, lastSeq, rows: chosen, lines });
    }
    s.read = lastSeq;
    if (transport.acknowledged || (chosen.length === 0 && s.pending.length === 0)) await this.confirm(s, lastSeq);
    else s.pending.push({ seq: lastSeq, at: Date.now() });
    return true;
  }

  /**
   * A row's line. A store failure is thrown (the batch is retried); a row that cannot be
   * formatted at all (a damaged body, a checkpoint without its signature) would fail every
   * retry and hold back everything after it, so it goes as an error line naming its seq (the
   * SIEM sees that something is wrong there), or, for anchor lines, not at all; either way
   * it is logged and reported in /readyz.
   */
  private async formatted(s: TargetState, row: AuditRow): Promise<string | undefined> {
    try {
      return await s.format(row);
    } catch (error) {
      if (error instanceof StoreError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      if (!s.unformattable) s.unformattable = { count: 0, firstSeq: row.seq, error: message };
      s.unformattable.count++;
      log.error({ target: s.target.name, seq: row.seq, error: message }, 'audit stream: a record cannot be formatted; sent as an error line');
      if (s.target.format === 'anchor') return undefined;
      return JSON.stringify({ seq: row.seq, kind: row.kind, sluice_stream_error: `record ${row.seq} could not be formatted: ${message}` });
    }
  }

  private async confirm(s: TargetState, seq: number): Promise<void> {
    if (seq <= s.confirmed) return;
    await this.cursors.set(s.target.name, seq);
    s.confirmed = seq;
  }

  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.abort.signal }).catch(() => undefined);
  }
}

/** A checkpoint record as an anchor line: `{"seq":…,"treeSize":…,"rootHash":…,"time":…,"keyId":…,"signature":…}`. */
export function anchorLine(row: AuditRow): string {
  const detail = (JSON.parse(row.body) as { detail?: unknown }).detail;
  const signed = parseSignedCheckpoint(detail);
  if (typeof signed === 'string') throw new Error(`checkpoint record ${row.seq} cannot be anchored: ${signed}`);
  return formatAnchorLine(row.seq, signed);
}
