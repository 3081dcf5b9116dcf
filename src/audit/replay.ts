// Session replay from the ledger: every record of a session, grouped by action into a timeline
// (who, command, intent, decision and rule, review and approver, outcome, masked findings,
// timings, recording), and the list of sessions in a period. Read-only: works on any store a
// CLI can open, and never needs the gateway.
import type { MaskReport } from '../masking/columns.js';
import type { AuditRow, Store } from '../store/store.js';
import { parseDuration } from '../util/units.js';
import { readAuditPages, readFilteredAudit, type AuditFilter } from './export.js';
import type { AuditBody, AuditIntent } from './record.js';
import { parseCast, readRecording, recordingRefOf, sessionCast, type Cast, type RecordingRef } from './recording.js';

export interface ReplayReview {
  seq: number;
  time: string;
  offsetMs: number;
  /** The review's state after this record: pending, approved, rejected, expired, cancelled. */
  status: string;
  /** What happened: a vote, a grant that covered the command...; absent for a plain state change. */
  event?: string;
  /** A vote's verdict, and the approvals counted towards the quorum. */
  vote?: string;
  approvals?: number;
  quorum?: number;
  reviewId?: string;
  approver?: string;
  note?: string;
}

export interface ReplayOutcome {
  seq: number;
  time: string;
  outcome: string;
  approver?: string;
  rows?: number;
  durationMs?: number;
  error?: string;
  exitCode?: number | null;
  truncated?: boolean;
  timedOut?: boolean;
  masked?: MaskReport;
  secretsRedacted?: number;
  recording?: RecordingRef | { error: string };
}

export interface ReplayRecordingCheck {
  status: 'ok' | 'missing' | 'altered' | 'invalid' | 'not-checked';
  message?: string;
}

export interface ReplayStep {
  actionId: string;
  seq: number;
  time: string;
  /** Since the session's first record. */
  offsetMs: number;
  principal?: string;
  principalKind?: string;
  agent?: string;
  onBehalfOf?: string;
  connection?: string;
  door?: string;
  command?: string;
  intent?: AuditIntent;
  effect?: string;
  rule?: string;
  reason?: string;
  reviews: ReplayReview[];
  outcome?: ReplayOutcome;
  recordingCheck?: ReplayRecordingCheck;
}

/** A record of the session that belongs to no decision (a reveal, a review decided elsewhere...). */
export interface ReplayEvent {
  seq: number;
  time: string;
  offsetMs: number;
  kind: string;
  actionId?: string;
  principal?: string;
  approver?: string;
  reason?: string;
  detail?: Record<string, unknown>;
}

export interface ReplayActor {
  name: string;
  kind?: string;
  onBehalfOf?: string;
}

export interface SessionReplay {
  session: string;
  start: string;
  end: string;
  durationMs: number;
  actors: ReplayActor[];
  connections: string[];
  doors: string[];
  counts: { commands: number; allowed: number; denied: number; reviewed: number; approved: number; executed: number; failed: number };
  steps: ReplayStep[];
  events: ReplayEvent[];
}

function parseBody(row: AuditRow): AuditBody {
  return JSON.parse(row.body) as AuditBody;
}

/** The session's timeline, or undefined when the ledger has no record of it. */
export async function loadSessionReplay(store: Store, session: string): Promise<SessionReplay | undefined> {
  const rows: AuditRow[] = [];
  for await (const page of readAuditPages(store, { session })) rows.push(...page);
  if (rows.length === 0) return undefined;
  const startMs = Date.parse(rows[0]!.time);
  const offset = (time: string) => Math.max(0, Date.parse(time) - startMs);
  const steps = new Map<string, ReplayStep>();
  const events: ReplayEvent[] = [];
  const pendingReviews = new Map<string, ReplayReview[]>();
  const pendingOutcomes = new Map<string, ReplayOutcome>();

  for (const row of rows) {
    const body = parseBody(row);
    const detail = (body.detail ?? {}) as Record<string, unknown>;
    if (body.kind === 'decision' && body.actionId) {
      steps.set(body.actionId, {
        actionId: body.actionId,
        seq: row.seq,
        time: row.time,
        offsetMs: offset(row.time),
        ...pick(body, ['principal', 'agent', 'onBehalfOf', 'connection', 'door', 'command', 'intent', 'effect', 'rule', 'reason']),
        ...(typeof detail.principalKind === 'string' ? { principalKind: detail.principalKind } : {}),
        reviews: pendingReviews.get(body.actionId) ?? [],
      });
      continue;
    }
    const step = body.actionId ? steps.get(body.actionId) : undefined;
    if (body.kind === 'review' && body.actionId) {
      const review: ReplayReview = {
        seq: row.seq,
        time: row.time,
        offsetMs: offset(row.time),
        status: typeof detail.status === 'string' ? detail.status : detail.event === 'grant-used' ? 'approved' : 'unknown',
        ...(typeof detail.event === 'string' ? { event: detail.event } : {}),
        ...(typeof detail.vote === 'string' ? { vote: detail.vote } : {}),
        ...(typeof detail.approvals === 'number' ? { approvals: detail.approvals } : {}),
        ...(typeof detail.quorum === 'number' ? { quorum: detail.quorum } : {}),
        ...(typeof detail.reviewId === 'string' ? { reviewId: detail.reviewId } : {}),
        ...(body.approver ? { approver: body.approver } : {}),
        ...(typeof detail.note === 'string' ? { note: detail.note } : {}),
      };
      if (step) step.reviews.push(review);
      else pendingReviews.set(body.actionId, [...(pendingReviews.get(body.actionId) ?? []), review]);
      continue;
    }
    if (body.kind === 'outcome' && body.actionId) {
      const recording = recordingRefOf(detail);
      const outcome: ReplayOutcome = {
        seq: row.seq,
        time: row.time,
        outcome: body.outcome ?? 'unknown',
        ...pick(body, ['approver', 'rows', 'durationMs']),
        ...(typeof detail.error === 'string' ? { error: detail.error } : {}),
        ...(typeof detail.exitCode === 'number' || detail.exitCode === null ? { exitCode: detail.exitCode } : {}),
        ...(detail.truncated === true ? { truncated: true } : {}),
        ...(detail.timedOut === true ? { timedOut: true } : {}),
        ...(isMaskReport(detail.masked) ? { masked: detail.masked } : {}),
        ...(typeof detail.secretsRedacted === 'number' ? { secretsRedacted: detail.secretsRedacted } : {}),
        ...(recording ? { recording } : {}),
      };
      if (step) step.outcome = outcome;
      else pendingOutcomes.set(body.actionId, outcome);
      continue;
    }
    events.push({
      seq: row.seq,
      time: row.time,
      offsetMs: offset(row.time),
      kind: body.kind,
      ...pick(body, ['actionId', 'principal', 'approver', 'reason']),
      ...(body.detail ? { detail: body.detail } : {}),
    });
  }
  // Reviews and outcomes whose decision is not in this session (should not happen) stay visible.
  for (const [actionId, reviews] of pendingReviews) {
    if (steps.has(actionId)) continue;
    for (const r of reviews) events.push({ seq: r.seq, time: r.time, offsetMs: r.offsetMs, kind: 'review', actionId, ...(r.approver ? { approver: r.approver } : {}) });
  }
  for (const [actionId, o] of pendingOutcomes) {
    const step = steps.get(actionId);
    if (step) step.outcome = o;
    else events.push({ seq: o.seq, time: o.time, offsetMs: offset(o.time), kind: 'outcome', actionId });
  }
  events.sort((a, b) => a.seq - b.seq);

  const ordered = [...steps.values()].sort((a, b) => a.seq - b.seq);
  const actors = new Map<string, ReplayActor>();
  for (const s of ordered) {
    if (!s.principal) continue;
    const key = `${s.principal}\u0000${s.onBehalfOf ?? ''}`;
    if (!actors.has(key)) actors.set(key, { name: s.principal, ...(s.principalKind ? { kind: s.principalKind } : {}), ...(s.onBehalfOf ? { onBehalfOf: s.onBehalfOf } : {}) });
  }
  const last = rows[rows.length - 1]!;
  return {
    session,
    start: rows[0]!.time,
    end: last.time,
    durationMs: offset(last.time),
    actors: [...actors.values()],
    connections: unique(ordered.map((s) => s.connection)),
    doors: unique(ordered.map((s) => s.door)),
    counts: {
      commands: ordered.length,
      allowed: ordered.filter((s) => s.effect === 'allow').length,
      denied: ordered.filter((s) => s.effect === 'deny').length,
      reviewed: ordered.filter((s) => s.effect === 'review').length,
      approved: ordered.filter((s) => s.reviews.some((r) => r.status === 'approved')).length,
      executed: ordered.filter((s) => s.outcome?.outcome === 'succeeded' || s.outcome?.outcome === 'failed').length,
      failed: ordered.filter((s) => s.outcome?.outcome === 'failed').length,
    },
    steps: ordered,
    events,
  };
}

/** Checks every recording the session's outcomes name against its size and hash (sets recordingCheck). */
export async function checkRecordings(replay: SessionReplay, dir: string | undefined): Promise<void> {
  for (const step of replay.steps) {
    const ref = step.outcome?.recording;
    if (!ref) continue;
    if ('error' in ref) step.recordingCheck = { status: 'missing', message: `the recording was not written: ${ref.error}` };
    else if (!dir) step.recordingCheck = { status: 'not-checked', message: 'no recordings directory (set audit.recordings or pass --recordings)' };
    else {
      const check = await readRecording(dir, ref);
      step.recordingCheck = check.status === 'ok' ? { status: 'ok' } : { status: check.status, message: check.message };
    }
  }
}

/**
 * The session as one asciicast, from the recordings its outcome records name. Every recording
 * is checked first; any that is missing or does not match its record is a problem, and no cast
 * is produced (a replay must not show content the ledger does not vouch for).
 */
export async function buildSessionCast(replay: SessionReplay, dir: string): Promise<{ cast: Cast } | { problems: string[] }> {
  const parts: { offsetMs: number; cast: Cast }[] = [];
  const problems: string[] = [];
  for (const step of replay.steps) {
    const ref = step.outcome?.recording;
    if (!ref) continue;
    if ('error' in ref) {
      problems.push(`record ${step.outcome!.seq}: the recording was not written (${ref.error})`);
      continue;
    }
    const check = await readRecording(dir, ref);
    if (check.status !== 'ok') {
      problems.push(`record ${step.outcome!.seq}: ${check.message}`);
      continue;
    }
    try {
      // The command ran when its outcome was recorded less its duration (after any review wait).
      const ranAt = Date.parse(step.outcome!.time) - Date.parse(replay.start) - (step.outcome!.durationMs ?? 0);
      parts.push({ offsetMs: Math.max(step.offsetMs, ranAt), cast: parseCast(check.text) });
    } catch (error) {
      problems.push(`record ${step.outcome!.seq}: ${check.file}: ${(error as Error).message}`);
    }
  }
  if (problems.length) return { problems };
  if (parts.length === 0) return { problems: [`session ${replay.session} has no recordings (only shell commands run while audit.recordings was set are recorded)`] };
  const who = replay.actors.map(actorText).join(', ');
  return { cast: sessionCast(`${who || 'session'} (session ${replay.session})`, Date.parse(replay.start), parts) };
}

// ---------------------------------------------------------------------------------------
// Text

/** Control characters shown, not obeyed: commands and reasons are attacker-controlled text. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  return text.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g, (c) => {
    const code = c.charCodeAt(0);
    if (code === 9) return '\t';
    if (code < 0x20) return `^${String.fromCharCode(code + 64)}`;
    if (code === 0x7f) return '^?';
    return `<U+${code.toString(16).toUpperCase().padStart(4, '0')}>`;
  });
}

function actorText(a: ReplayActor): string {
  return `${a.name}${a.kind ? ` (${a.kind})` : ''}${a.onBehalfOf ? ` for ${a.onBehalfOf}` : ''}`;
}

function offsetText(ms: number): string {
  return `+${(ms / 1000).toFixed(3)}s`;
}

function maskedText(m: MaskReport): string {
  const types = m.types ? Object.entries(m.types).map(([t, n]) => `${t} ${n}`) : [];
  const parts = [
    `${m.values} value${m.values === 1 ? '' : 's'} masked`,
    ...(m.columns.length ? [`columns ${m.columns.join(', ')}`] : []),
    ...(types.length ? [types.join(', ')] : []),
    ...(m.errors ? [`${m.errors} withheld (masking failed)`] : []),
  ];
  return parts.join('; ');
}

function outcomeText(o: ReplayOutcome): string {
  const parts = [o.outcome];
  if (o.exitCode !== undefined) parts.push(`exit ${o.exitCode === null ? 'none' : o.exitCode}`);
  if (o.error) parts.push(`error ${o.error}`);
  if (o.rows !== undefined) parts.push(`${o.rows} row${o.rows === 1 ? '' : 's'}`);
  if (o.durationMs !== undefined) parts.push(`${o.durationMs} ms`);
  if (o.truncated) parts.push('output truncated');
  if (o.timedOut) parts.push('timed out');
  if (o.secretsRedacted) parts.push(`${o.secretsRedacted} injected secret(s) cut out`);
  return parts.join(', ');
}

/** The replay as readable text (control characters in recorded text made visible). */
export function formatReplayText(r: SessionReplay): string {
  const out: string[] = [];
  const c = r.counts;
  out.push(`Session ${printable(r.session)}`);
  out.push(`  who          ${r.actors.map((a) => printable(actorText(a))).join('; ') || '-'}`);
  out.push(`  connections  ${r.connections.map(printable).join(', ') || '-'}${r.doors.length ? `  (doors: ${r.doors.map(printable).join(', ')})` : ''}`);
  out.push(`  time         ${r.start} .. ${r.end} (${(r.durationMs / 1000).toFixed(3)} s)`);
  out.push(
    `  commands     ${c.commands}: ${c.allowed} allowed, ${c.denied} denied, ${c.reviewed} held for review (${c.approved} approved); ${c.executed} ran, ${c.failed} failed`,
  );
  out.push('');
  const items: { seq: number; lines: string[] }[] = [];
  for (const s of r.steps) {
    const lines: string[] = [];
    const intent = s.intent ? `[${s.intent.class}${s.intent.flags?.length ? `: ${s.intent.flags.join(', ')}` : ''}]` : '';
    lines.push(
      [offsetText(s.offsetMs), `#${s.seq}`, s.effect ?? '?', s.rule ? `rule ${printable(s.rule)}` : '', intent, s.connection ? `on ${printable(s.connection)}` : '', s.door ? `via ${printable(s.door)}` : '']
        .filter(Boolean)
        .join('  '),
    );
    const who = s.principal ? printable(actorText({ name: s.principal, ...(s.principalKind ? { kind: s.principalKind } : {}), ...(s.onBehalfOf ? { onBehalfOf: s.onBehalfOf } : {}) })) : '-';
    lines.push(`    by       ${who}`);
    lines.push(`    command  ${printable(s.command ?? '').replace(/\n/g, '\n             ')}`);
    if (s.effect !== 'allow' && s.reason) lines.push(`    reason   ${printable(s.reason)}`);
    for (const rv of s.reviews) {
      const what =
        rv.event === 'vote'
          ? `vote ${rv.vote ?? '?'}${rv.approver ? ` by ${rv.approver}` : ''}${rv.quorum !== undefined ? ` (${rv.approvals ?? 0} of ${rv.quorum} approvals)` : ''} -> ${rv.status}`
          : rv.event === 'grant-used'
            ? `approved by an earlier grant${rv.approver ? ` of ${rv.approver}` : ''}`
            : `${rv.status}${rv.approver ? ` by ${rv.approver}` : ''}`;
      lines.push(`    review   ${offsetText(rv.offsetMs)} ${printable(what)}${rv.reviewId ? ` (${printable(rv.reviewId)})` : ''}${rv.note ? `: ${printable(rv.note)}` : ''}`);
    }
    const o = s.outcome;
    if (o) {
      lines.push(`    result   ${offsetText(Math.max(0, Date.parse(o.time) - Date.parse(r.start)))} ${printable(outcomeText(o))}${o.approver ? `; approved by ${printable(o.approver)}` : ''}`);
      if (o.masked && o.masked.values > 0) lines.push(`    masked   ${printable(maskedText(o.masked))}`);
      if (o.recording) {
        if ('error' in o.recording) lines.push(`    recording NOT WRITTEN: ${printable(o.recording.error)}`);
        else {
          const check = s.recordingCheck;
          const status = !check || check.status === 'not-checked' ? 'not checked' : check.status === 'ok' ? 'verified' : `${check.status.toUpperCase()}: ${check.message ?? ''}`;
          lines.push(`    recording ${printable(o.recording.path)} (${printable(status)})`);
        }
      }
    } else if (s.effect !== 'deny') lines.push('    result   (no outcome recorded)');
    items.push({ seq: s.seq, lines });
  }
  for (const e of r.events) {
    const what = [e.kind, e.principal ? `by ${e.principal}` : '', e.approver ? `approver ${e.approver}` : '', e.reason ?? ''].filter(Boolean).join('  ');
    items.push({ seq: e.seq, lines: [`${offsetText(e.offsetMs)}  #${e.seq}  ${printable(what)}`] });
  }
  items.sort((a, b) => a.seq - b.seq);
  for (const item of items) out.push(...item.lines, '');
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------
// Sessions in a period

export interface TimeRange {
  /** Inclusive, ISO. */
  from?: string;
  /** Exclusive, ISO. */
  to?: string;
}

export interface SessionSummary {
  session: string;
  start: string;
  end: string;
  actors: ReplayActor[];
  connections: string[];
  commands: number;
  denied: number;
  reviewed: number;
  records: number;
}

/**
 * A `--from`/`--to` value as an ISO time: an ISO date or date-time, or a duration meaning that
 * long before `now` (`24h`, `7d`).
 */
export function parseTimeArg(text: string, now = Date.now()): string {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/.test(trimmed)) return new Date(now - parseDuration(trimmed)).toISOString();
  if (!/^\d{4}-\d{2}-\d{2}/.test(trimmed)) throw new Error(`"${text}" is not a time: use an ISO date or time (2026-11-24, 2026-11-24T08:00:00Z) or a duration ago (24h, 7d)`);
  const ms = Date.parse(trimmed);
  if (Number.isNaN(ms)) throw new Error(`"${text}" is not a valid ISO date or time`);
  return new Date(ms).toISOString();
}

/** The export filter for a range: it seeks to the range's start instead of reading from seq 1. */
export function rangeFilter(range: TimeRange): AuditFilter {
  return { ...(range.from !== undefined ? { from: new Date(range.from) } : {}), ...(range.to !== undefined ? { to: new Date(range.to) } : {}) };
}

/** Sessions with at least one record in the range, oldest first. */
export async function listSessions(store: Store, range: TimeRange = {}): Promise<SessionSummary[]> {
  const sessions = new Map<string, SessionSummary & { actorKeys: Set<string> }>();
  for await (const page of readFilteredAudit(store, rangeFilter(range))) {
    for (const row of page) {
      if (!row.session) continue;
      let s = sessions.get(row.session);
      if (!s) {
        s = { session: row.session, start: row.time, end: row.time, actors: [], actorKeys: new Set(), connections: [], commands: 0, denied: 0, reviewed: 0, records: 0 };
        sessions.set(row.session, s);
      }
      s.end = row.time;
      s.records++;
      if (row.connection && !s.connections.includes(row.connection)) s.connections.push(row.connection);
      if (row.kind !== 'decision') continue;
      s.commands++;
      if (row.effect === 'deny') s.denied++;
      if (row.effect === 'review') s.reviewed++;
      const body = parseBody(row);
      if (!body.principal) continue;
      const key = `${body.principal}\u0000${body.onBehalfOf ?? ''}`;
      if (s.actorKeys.has(key)) continue;
      s.actorKeys.add(key);
      const kind = (body.detail as { principalKind?: unknown } | undefined)?.principalKind;
      s.actors.push({ name: body.principal, ...(typeof kind === 'string' ? { kind } : {}), ...(body.onBehalfOf ? { onBehalfOf: body.onBehalfOf } : {}) });
    }
  }
  return [...sessions.values()].map(({ actorKeys: _k, ...s }) => s);
}

export function formatSessionsText(sessions: SessionSummary[]): string {
  if (sessions.length === 0) return 'no sessions in this period\n';
  const lines = sessions.map((s) =>
    [
      s.start,
      printable(s.session),
      s.actors.map((a) => printable(actorText(a))).join('; ') || '-',
      s.connections.length ? `on ${s.connections.map(printable).join(', ')}` : '',
      `${s.commands} command${s.commands === 1 ? '' : 's'}${s.denied ? `, ${s.denied} denied` : ''}${s.reviewed ? `, ${s.reviewed} reviewed` : ''}`,
    ]
      .filter(Boolean)
      .join('  '),
  );
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------

function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

function unique(values: (string | undefined)[]): string[] {
  return [...new Set(values.filter((v): v is string => typeof v === 'string'))];
}

function isMaskReport(v: unknown): v is MaskReport {
  return typeof v === 'object' && v !== null && Array.isArray((v as MaskReport).columns) && typeof (v as MaskReport).values === 'number';
}
