// Phone numbers, confirmed by awesome-phonenumber (libphonenumber metadata). International
// numbers start with "+"; national ones need a phone-like grouping (one kind of separator,
// or an area code in parentheses) or a label ("phone:", "tel", "mobile") before them, and
// are validated for the profile's default region. Dates, IPs, versions and ISBNs are not.
import { parsePhoneNumber } from 'awesome-phonenumber';
import type { Candidate } from '../types.js';
import { PRIORITY, type ScanContext } from './context.js';

const CANDIDATE =
  /(?<![\w.+/:=-])(?:\+\d[\d \-.()]{5,20}\d|\(\d{2,5}\)[ .-]?\d[\d \-.]{3,12}\d|\d{2,5}[ .-]\d[\d \-.]{3,12}\d|\d{7,12})(?![\w/:@]|[.-]\d)/g;
const LABELS = ['phone', 'tel', 'mobile', 'cell', 'fax', 'call', 'whatsapp', 'sms'];
const DATE = /^(?:\d{4}[-./ ]\d{1,2}[-./ ]\d{1,2}|\d{1,2}[-./ ]\d{1,2}[-./ ]\d{2,4})$/;

/**
 * Runs after the checksummed detectors: a candidate they already claimed (a card, an IBAN,
 * an SSN) is not parsed again, since parsing is the expensive part (~0.1 ms a number).
 */
export function scanPhone(ctx: ScanContext, out: Candidate[]): void {
  // isPhone wants at least 7 digits in a candidate.
  if (!ctx.hasDigits(7)) return;
  const text = ctx.text;
  let claimed: Candidate[] | undefined;
  CANDIDATE.lastIndex = 0;
  for (let m = CANDIDATE.exec(text); m; m = CANDIDATE.exec(text)) {
    const raw = m[0];
    const start = m.index;
    const end = start + raw.length;
    claimed ??= out.filter((c) => c.priority > PRIORITY.phone).sort((a, b) => a.start - b.start);
    if (overlaps(claimed, start, end)) continue;
    if (isPhone(ctx, raw, start)) out.push({ type: 'phone', start, end, priority: PRIORITY.phone });
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

function isPhone(ctx: ScanContext, raw: string, at: number): boolean {
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
