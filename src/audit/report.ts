// The evidence report: one self-contained HTML file for an auditor covering a period — who
// accessed what (per principal and connection), what was denied (rule, reason), what was held
// for review and who approved or rejected it, and whether the ledger verifies (chain, signed
// checkpoints, and how much of the period the last checkpoint covers).
//
// Everything in the ledger is attacker-controllable text (commands above all), so every value
// goes through escapeHtml, and the page also carries a Content-Security-Policy that forbids
// scripts and any external resource: a mistake in escaping still cannot run code.
import type { CheckpointCheckerOptions } from './checkpoints.js';
import type { Store } from '../store/store.js';
import { readFilteredAudit } from './export.js';
import type { AuditBody } from './record.js';
import { rangeFilter, type TimeRange } from './replay.js';
import { verifyAudit, type VerifyResult } from './verify.js';

export interface ReportOptions {
  /** Checkpoint checks for the verification (trusted keys); false: the hash chain only. */
  checkpoints?: CheckpointCheckerOptions | false;
  /** Where the signatures were checked with, in words for the report. */
  signedBy?: string;
  /** Most rows per table (default 5000); the rest are counted. */
  maxRows?: number;
  now?: Date;
}

export interface AccessRow {
  principal: string;
  principalKind?: string;
  onBehalfOf?: string;
  connection: string;
  commands: number;
  allowed: number;
  denied: number;
  reviewed: number;
  executed: number;
  failed: number;
  classes: string[];
  first: string;
  last: string;
}

export interface DeniedRow {
  seq: number;
  time: string;
  principal: string;
  onBehalfOf?: string;
  connection: string;
  session?: string;
  command: string;
  rule: string;
  reason: string;
}

export interface ReviewRow {
  seq: number;
  time: string;
  principal: string;
  onBehalfOf?: string;
  connection: string;
  command: string;
  rule: string;
  /** approved, rejected, expired, cancelled, or pending when undecided in the period. */
  status: string;
  /** Who voted (with quorum approvals, several people). */
  voters: string[];
  decidedBy?: string;
  decidedAt?: string;
  outcome?: string;
}

export interface ReportData {
  range: TimeRange;
  generatedAt: string;
  store: string;
  records: number;
  firstSeq?: number;
  lastSeq?: number;
  sessions: number;
  access: AccessRow[];
  denied: DeniedRow[];
  deniedTotal: number;
  reviews: ReviewRow[];
  reviewsTotal: number;
  verification: VerifyResult;
  signedBy?: string;
  /** Records of the period after the last signed checkpoint (checkpoint records aside). */
  uncoveredInPeriod?: number;
}

/** Gathers the report for a period from the store and verifies the ledger. */
export async function buildReport(store: Store, range: TimeRange, options: ReportOptions = {}): Promise<ReportData> {
  const maxRows = options.maxRows ?? 5000;
  const access = new Map<string, AccessRow>();
  const denied: DeniedRow[] = [];
  let deniedTotal = 0;
  const reviews = new Map<string, ReviewRow>();
  const reviewOrder: string[] = [];
  const decisions = new Map<string, { key: string; effect?: string }>();
  const sessions = new Set<string>();
  let records = 0;
  let firstSeq: number | undefined;
  let lastSeq: number | undefined;

  for await (const page of readFilteredAudit(store, rangeFilter(range))) {
    for (const row of page) {
      records++;
      firstSeq ??= row.seq;
      lastSeq = row.seq;
      if (row.session) sessions.add(row.session);
      if (row.kind !== 'decision' && row.kind !== 'outcome' && row.kind !== 'review') continue;
      const body = JSON.parse(row.body) as AuditBody;
      const detail = (body.detail ?? {}) as Record<string, unknown>;
      if (body.kind === 'decision') {
        const key = `${body.principal ?? '-'}\u0000${body.onBehalfOf ?? ''}\u0000${body.connection ?? '-'}`;
        let a = access.get(key);
        if (!a) {
          a = {
            principal: body.principal ?? '-',
            ...(typeof detail.principalKind === 'string' ? { principalKind: detail.principalKind } : {}),
            ...(body.onBehalfOf ? { onBehalfOf: body.onBehalfOf } : {}),
            connection: body.connection ?? '-',
            commands: 0,
            allowed: 0,
            denied: 0,
            reviewed: 0,
            executed: 0,
            failed: 0,
            classes: [],
            first: row.time,
            last: row.time,
          };
          access.set(key, a);
        }
        a.commands++;
        a.last = row.time;
        if (body.effect === 'allow') a.allowed++;
        if (body.effect === 'deny') a.denied++;
        if (body.effect === 'review') a.reviewed++;
        if (body.intent?.class && !a.classes.includes(body.intent.class)) a.classes.push(body.intent.class);
        if (body.actionId) decisions.set(body.actionId, { key, ...(body.effect ? { effect: body.effect } : {}) });
        if (body.effect === 'deny') {
          deniedTotal++;
          if (denied.length < maxRows) {
            denied.push({
              seq: row.seq,
              time: row.time,
              principal: body.principal ?? '-',
              ...(body.onBehalfOf ? { onBehalfOf: body.onBehalfOf } : {}),
              connection: body.connection ?? '-',
              ...(body.session ? { session: body.session } : {}),
              command: body.command ?? '',
              rule: body.rule ?? '-',
              reason: body.reason ?? '',
            });
          }
        }
        if (body.effect === 'review' && body.actionId) {
          reviewOrder.push(body.actionId);
          reviews.set(body.actionId, {
            seq: row.seq,
            time: row.time,
            principal: body.principal ?? '-',
            ...(body.onBehalfOf ? { onBehalfOf: body.onBehalfOf } : {}),
            connection: body.connection ?? '-',
            command: body.command ?? '',
            rule: body.rule ?? '-',
            status: 'pending',
            voters: [],
          });
        }
        continue;
      }
      const review = body.actionId ? reviews.get(body.actionId) : undefined;
      if (body.kind === 'review' && review) {
        // A vote names its voter; a verdict settles the review (with a quorum, after the last vote).
        if (detail.event === 'vote' && body.approver && !review.voters.includes(body.approver)) review.voters.push(body.approver);
        const status = typeof detail.status === 'string' ? detail.status : detail.event === 'grant-used' ? 'approved' : undefined;
        if (status && status !== 'pending') {
          review.status = status;
          review.decidedAt = row.time;
          const by = review.voters.length ? review.voters.join(', ') : body.approver;
          if (by) review.decidedBy = by;
        }
        continue;
      }
      if (body.kind === 'outcome') {
        if (review) {
          review.outcome = body.outcome ?? 'unknown';
          if (body.approver && !review.decidedBy) review.decidedBy = body.approver;
          if (review.status === 'pending' && body.outcome && ['rejected', 'expired', 'cancelled'].includes(body.outcome)) review.status = body.outcome;
          if (review.status === 'pending' && body.approver) review.status = 'approved';
        }
        const decision = body.actionId ? decisions.get(body.actionId) : undefined;
        const a = decision ? access.get(decision.key) : undefined;
        if (a && (body.outcome === 'succeeded' || body.outcome === 'failed')) {
          a.executed++;
          if (body.outcome === 'failed') a.failed++;
        }
      }
    }
  }

  const verification = await verifyAudit(store, { checkpoints: options.checkpoints ?? {} });
  const last = verification.checkpoints?.last;
  let uncoveredInPeriod: number | undefined;
  if (options.checkpoints !== false && firstSeq !== undefined && lastSeq !== undefined) {
    // Records of the period are seq-ordered but may interleave with others; counted exactly.
    uncoveredInPeriod = last ? await countAfter(store, range, last.treeSize) : records;
  }
  const reviewRows = reviewOrder.map((id) => reviews.get(id)!);
  return {
    range,
    generatedAt: (options.now ?? new Date()).toISOString(),
    store: store.kind,
    records,
    ...(firstSeq !== undefined ? { firstSeq } : {}),
    ...(lastSeq !== undefined ? { lastSeq } : {}),
    sessions: sessions.size,
    access: [...access.values()].sort((x, y) => x.principal.localeCompare(y.principal) || x.connection.localeCompare(y.connection)),
    denied,
    deniedTotal,
    reviews: reviewRows.slice(0, maxRows),
    reviewsTotal: reviewRows.length,
    verification,
    ...(options.signedBy ? { signedBy: options.signedBy } : {}),
    ...(uncoveredInPeriod !== undefined ? { uncoveredInPeriod } : {}),
  };
}

async function countAfter(store: Store, range: TimeRange, seq: number): Promise<number> {
  let n = 0;
  // A checkpoint record is itself a signed statement; it is not content left unsigned.
  for await (const page of readFilteredAudit(store, { ...rangeFilter(range), afterSeq: seq })) for (const row of page) if (row.kind !== 'checkpoint') n++;
  return n;
}

// ---------------------------------------------------------------------------------------
// HTML

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe for HTML content and quoted attributes; control characters shown, not passed. */
export function escapeHtml(value: unknown): string {
  // eslint-disable-next-line no-control-regex -- control characters are made visible
  return String(value ?? '').replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1b1f24;margin:2rem auto;max-width:75rem;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;white-space:pre-wrap;word-break:break-all}
.status{padding:.8rem 1rem;border-radius:6px;margin:.5rem 0;font-weight:600}
.ok{background:#dafbe1;border:1px solid #4ac26b}.failed{background:#ffebe9;border:1px solid #ff8182}.warn{background:#fff8c5;border:1px solid #d4a72c}
.muted{color:#59636e}dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}dt{font-weight:600}dd{margin:0}
`;

function who(principal: string, onBehalfOf?: string, kind?: string): string {
  return `${escapeHtml(principal)}${kind ? ` <span class="muted">(${escapeHtml(kind)})</span>` : ''}${onBehalfOf ? ` <span class="muted">for</span> ${escapeHtml(onBehalfOf)}` : ''}`;
}

function table(headers: string[], rows: string[][], empty: string): string {
  if (rows.length === 0) return `<p class="muted">${escapeHtml(empty)}</p>`;
  return `<table><thead><tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.join('')}</tr>`)
    .join('\n')}</tbody></table>`;
}

const td = (html: string) => `<td>${html}</td>`;
const num = (n: number) => `<td class="n">${n}</td>`;
const code = (text: string) => `<td><code>${escapeHtml(text)}</code></td>`;

function verificationHtml(d: ReportData): string {
  const v = d.verification;
  const parts: string[] = [];
  if (v.ok) {
    parts.push(`<div class="status ok">Ledger verified: ${v.count} records, hash chain intact, head ${v.head.seq}:${escapeHtml(v.head.hash)}</div>`);
  } else {
    const p = v.problem!;
    parts.push(
      `<div class="status failed">Ledger verification FAILED at record ${p.seq} (${escapeHtml(p.kind)}): ${escapeHtml(p.message)}</div>` +
        `<p>${v.count} record(s) before it verified. ${d.lastSeq !== undefined && d.lastSeq >= p.seq ? `Records of this period from ${p.seq} on cannot be relied on.` : 'The problem lies after this period, but a broken ledger must be investigated.'}</p>`,
    );
  }
  const cp = v.checkpoints;
  if (cp) {
    const covered = d.uncoveredInPeriod === undefined ? '' : d.uncoveredInPeriod === 0 ? 'Every record of this period is covered by a signed checkpoint.' : `${d.uncoveredInPeriod} record(s) of this period are after the last signed checkpoint and are covered by the hash chain only.`;
    parts.push(
      `<dl><dt>Signed checkpoints</dt><dd>${cp.count}${cp.last ? `; the last covers records 1-${cp.last.treeSize}, signed ${escapeHtml(cp.last.time)} by key ${escapeHtml(cp.last.keyId)}` : ' (none yet)'}</dd>` +
        `<dt>Records after it</dt><dd>${cp.uncovered}</dd>` +
        (d.signedBy ? `<dt>Signatures checked with</dt><dd>${escapeHtml(d.signedBy)}</dd>` : '') +
        (cp.anchored !== undefined ? `<dt>Anchored checkpoints</dt><dd>${cp.anchored} match the ledger</dd>` : '') +
        `<dt>Coverage of the period</dt><dd>${escapeHtml(covered) || 'no records in this period'}</dd></dl>`,
    );
  } else {
    parts.push('<p class="status warn">Signed checkpoints were not checked (hash chain only).</p>');
  }
  return parts.join('\n');
}

/** The report as one HTML document (inline CSS, no scripts, no external resources). */
export function renderReportHtml(d: ReportData): string {
  const period = `${d.range.from ?? 'the first record'} to ${d.range.to ?? 'now'}`;
  const more = (shown: number, total: number, what: string) =>
    total > shown ? `<p class="warn status">${total - shown} more ${escapeHtml(what)} not shown; use sluice audit export for the full list.</p>` : '';
  const access = table(
    ['Principal', 'Connection', 'Commands', 'Allowed', 'Denied', 'Reviewed', 'Ran', 'Failed', 'Intent classes', 'First', 'Last'],
    d.access.map((a) => [
      td(who(a.principal, a.onBehalfOf, a.principalKind)),
      td(escapeHtml(a.connection)),
      num(a.commands),
      num(a.allowed),
      num(a.denied),
      num(a.reviewed),
      num(a.executed),
      num(a.failed),
      td(escapeHtml(a.classes.join(', '))),
      td(escapeHtml(a.first)),
      td(escapeHtml(a.last)),
    ]),
    'No commands in this period.',
  );
  const denied = table(
    ['Record', 'Time', 'Principal', 'Connection', 'Command', 'Rule', 'Reason'],
    d.denied.map((r) => [num(r.seq), td(escapeHtml(r.time)), td(who(r.principal, r.onBehalfOf)), td(escapeHtml(r.connection)), code(r.command), td(escapeHtml(r.rule)), td(escapeHtml(r.reason))]),
    'Nothing was denied in this period.',
  );
  const reviews = table(
    ['Record', 'Requested', 'Principal', 'Connection', 'Command', 'Rule', 'Verdict', 'Decided by', 'Decided', 'Outcome'],
    d.reviews.map((r) => [
      num(r.seq),
      td(escapeHtml(r.time)),
      td(who(r.principal, r.onBehalfOf)),
      td(escapeHtml(r.connection)),
      code(r.command),
      td(escapeHtml(r.rule)),
      td(`<strong>${escapeHtml(r.status)}</strong>`),
      td(escapeHtml(r.decidedBy ?? '-')),
      td(escapeHtml(r.decidedAt ?? '-')),
      td(escapeHtml(r.outcome ?? '-')),
    ]),
    'No command was held for review in this period.',
  );
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sluice audit report: ${escapeHtml(period)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>Sluice audit report</h1>
<p class="muted">Period ${escapeHtml(period)} (from inclusive, to exclusive). Generated ${escapeHtml(d.generatedAt)} from the ${escapeHtml(d.store)} store.</p>
<dl>
<dt>Records in the period</dt><dd>${d.records}${d.firstSeq !== undefined ? ` (records ${d.firstSeq}-${d.lastSeq})` : ''}</dd>
<dt>Sessions</dt><dd>${d.sessions}</dd>
<dt>Commands denied</dt><dd>${d.deniedTotal}</dd>
<dt>Commands held for review</dt><dd>${d.reviewsTotal} (${d.reviews.filter((r) => r.status === 'approved').length} approved)</dd>
</dl>
<h2>Ledger verification</h2>
${verificationHtml(d)}
<h2>Who accessed what</h2>
${access}
<h2>Denied</h2>
${denied}
${more(d.denied.length, d.deniedTotal, 'denied commands')}
<h2>Held for review: verdicts and approvers</h2>
${reviews}
${more(d.reviews.length, d.reviewsTotal, 'reviewed commands')}
</body>
</html>
`;
}
