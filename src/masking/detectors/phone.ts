// Phone numbers, confirmed by awesome-phonenumber (libphonenumber metadata). International
// numbers start with "+"; national ones need a phone-like grouping (one kind of separator,
// or an area code in parentheses) or a label ("phone:", "tel", "mobile") before them, and
// are validated for the profile's default region. Dates, IPs, versions and ISBNs are not.
import { parsePhoneNumber } from 'awesome-phonenumber';
import type { Candidate } from '../types.js';
import { PRIORITY, scanRuns, type ScanContext } from './context.js';

const CANDIDATE =
  /(?<![\w.+/:=-])(?:\+\d[\d \-.()]{5,20}\d|\(\d{2,5}\)[ .-]?\d[\d \-.]{3,12}\d|\d{2,5}[ .-]\d[\d \-.]{3,12}\d|\d{7,12})(?![\w/:@]|[.-]\d)/g;
const LABELS = ['phone', 'tel', 'mobile', 'cell', 'fax', 'call', 'whatsapp', 'sms'];
const DATE = /^(?:\d{4}[-./ ]\d{1,2}[-./ ]\d{1,2}|\d{1,2}[-./ ]\d{1,2}[-./ ]\d{2,4})$/;

/**
 * Runs after the checksummed detectors: a candidate they already claimed (a card, an IBAN,
 * an SSN) is not parsed again, since parsing is the expensive part (~0.1 ms a number).
 */
export function scanPhone(ctx: ScanContext, out: Candidate[]): void {
  // isPhone wants at least 7 digits in a candidate: only runs of number characters with
  // that many can hold one.
  if (!ctx.hasDigits(7)) return;
  let claimed: Candidate[] | undefined;
  scanRuns(CANDIDATE, ctx.text, ctx.numberRuns(7), (m, offset) => {
    const raw = m[0];
    const start = m.index + offset;
    const end = start + raw.length;
    claimed ??= out.filter((c) => c.priority > PRIORITY.phone).sort((a, b) => a.start - b.start);
    if (overlaps(claimed, start, end)) return;
    if (isPhone(ctx, raw, start)) out.push({ type: 'phone', start, end, priority: PRIORITY.phone });
  });
}

/** The reference path: the regex over the whole text. */
export function scanPhonePlain(ctx: ScanContext, out: Candidate[]): void {
  const text = ctx.text;
  let claimed: Candidate[] | undefined;
  CANDIDATE.lastIndex = 0;
  for (let m = CANDIDATE.exec(text); m; m = CANDIDATE.exec(text)) {
    const raw = m[0];
    const start = m.index;
    const end = start + raw.length;
    claimed ??= out.filter((c) => c.priority > PRIORITY.phone).sort((a, b) => a.start - b.start);
    if (overlaps(claimed, start, end)) continue;
    if (isPhonePlain(ctx, raw, start)) out.push({ type: 'phone', start, end, priority: PRIORITY.phone });
  }
}

function overlaps(sorted: readonly Candidate[], start: number, end: number): boolean {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid]!.end <= start) lo = mid + 1;
    else hi = mid;
  }
  // Candidates of one detector do not overlap, but several detectors' may: look a few ahead.
  for (let i = lo; i < sorted.length && i < lo + 8; i++) if (sorted[i]!.start < end && sorted[i]!.end > start) return true;
  return false;
}

/**
 * Whether a candidate is a phone number (`isPhonePlain`'s decision, in one pass over the
 * characters without intermediate strings; the label is looked for only when it matters).
 */
function isPhone(ctx: ScanContext, raw: string, at: number): boolean {
  const n = raw.length;
  let digits = 0;
  for (let i = 0; i < n; i++) {
    const code = raw.charCodeAt(i);
    if (code >= 48 && code <= 57) digits++;
  }
  if (digits < 7 || digits > 15) return false;
  if (raw.charCodeAt(0) === 43 /* + */) return valid(raw);
  if (DATE.test(raw)) return false;
  if (digits === 13 && ISBN.test(raw)) return false;
  // Looked for only when a rule below needs it (no closure: this runs per candidate).
  let labelled: boolean | undefined;
  // The body: after an area code in parentheses and one separator.
  let from = 0;
  if (raw.charCodeAt(0) === 40 /* ( */) {
    const area = AREA.exec(raw);
    if (area) from = area[0].length;
  }
  const whole = from === 0;
  // One kind of separator; groups between them, none empty.
  let separator = -1;
  let groups = 0;
  let length = 0;
  let longest = 0;
  let shortest = Infinity;
  let first = 0;
  let shape = '';
  for (let i = from; i <= n; i++) {
    const code = i < n ? raw.charCodeAt(i) : -1;
    if (code >= 48 && code <= 57) {
      length++;
      continue;
    }
    if (i < n) {
      if (separator < 0) separator = code;
      else if (code !== separator) return false;
    }
    if (groups === 0) first = length;
    shape += groups === 0 ? `${length}` : `-${length}`;
    groups++;
    if (length > longest) longest = length;
    if (length < shortest) shortest = length;
    length = 0;
  }
  if (separator < 0) {
    // A bare run of digits is an id or an amount unless a label says otherwise.
    return labelledAt(ctx, at) && valid(raw, ctx.region);
  }
  if (shortest === 0) return false;
  // Dotted quads with short groups are IP addresses.
  if (separator === 46 /* . */ && groups === 4 && whole && longest <= 3 && !(labelled ??= labelledAt(ctx, at))) return false;
  // Phone grouping: no group longer than 8. Two groups are a decimal number or a range
  // ("12345.678901", "2019-2024") unless the first carries a trunk prefix ("030 12345678").
  if (longest > 8) return false;
  if (groups === 2 && whole && !(first > 0 && raw.charCodeAt(from) === 48) && !(labelled ??= labelledAt(ctx, at))) return false;
  // North American numbers are grouped 3-3-4 (or 1-3-3-4); "2024-0611-77" is a case number.
  if (NANP_REGIONS.has(ctx.region) && whole && !(labelled ??= labelledAt(ctx, at)) && !NANP_GROUPS.has(shape)) return false;
  return valid(raw, ctx.region);
}

function labelledAt(ctx: ScanContext, at: number): boolean {
  return ctx.labelBefore(at, LABELS, 20);
}

/** An ISBN-13 prefix: the first digits 978 or 979 (the separators between them vary). */
const ISBN = /^\D*9\D*7\D*[89]/;
const AREA = /^\(\d+\)[ .-]?/;

/** The reference form of `isPhone`, step by step with strings and regexes. */
function isPhonePlain(ctx: ScanContext, raw: string, at: number): boolean {
  const digits = raw.replace(/\D/g, '');
  if (digits.length < 7 || digits.length > 15) return false;
  if (raw.startsWith('+')) return valid(raw);
  if (DATE.test(raw)) return false;
  if (/^97[89]/.test(digits) && digits.length === 13) return false; // ISBN-13
  const labelled = ctx.labelBefore(at, LABELS, 20);
  const body = raw.replace(/^\(\d+\)[ .-]?/, '');
  const separators = body.replace(/\d/g, '');
  if (separators.length === 0) {
    // A bare run of digits is an id or an amount unless a label says otherwise.
    if (!labelled || raw !== body) return labelled && valid(raw, ctx.region);
    return valid(raw, ctx.region);
  }
  if (new Set(separators).size > 1) return false;
  const groups = body.split(separators[0]!);
  if (groups.some((group) => group.length === 0)) return false;
  // Dotted quads with short groups are IP addresses.
  if (separators[0] === '.' && groups.length === 4 && raw === body && groups.every((group) => group.length <= 3) && !labelled) return false;
  // Phone grouping: no group longer than 8. Two groups are a decimal number or a range
  // ("12345.678901", "2019-2024") unless the first carries a trunk prefix ("030 12345678").
  if (groups.some((group) => group.length > 8)) return false;
  if (groups.length === 2 && raw === body && !groups[0]!.startsWith('0') && !labelled) return false;
  // North American numbers are grouped 3-3-4 (or 1-3-3-4); "2024-0611-77" is a case number.
  if (NANP_REGIONS.has(ctx.region) && raw === body && !labelled && !NANP_GROUPS.has(groups.map((group) => group.length).join('-'))) return false;
  return valid(raw, ctx.region);
}

/** North American numbering: [2-9]XX [2-9]XX XXXX, optionally after 1. */
const NANP = /^1?[2-9]\d{2}[2-9]\d{6}$/;
const NANP_REGIONS = new Set(['US', 'CA']);
const NANP_GROUPS = new Set(['3-3-4', '1-3-3-4']);

const cache = new Map<string, boolean>();

function valid(raw: string, region?: string): boolean {
  // A cheap necessary condition first: parsing costs about 0.1 ms.
  if (!raw.startsWith('+') && region && NANP_REGIONS.has(region) && !NANP.test(raw.replace(/\D/g, ''))) return false;
  const key = `${region ?? ''}|${raw}`;
  let ok = cache.get(key);
  if (ok === undefined) {
    try {
      ok = parsePhoneNumber(raw, region ? { regionCode: region } : {}).valid;
    } catch {
      ok = false;
    }
    if (cache.size >= 10_000) cache.clear();
    cache.set(key, ok);
  }
  return ok;
}
