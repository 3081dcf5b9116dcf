// Payment card numbers: 13 to 19 digits, optionally grouped by spaces or dashes, with a
// known issuer prefix and a valid Luhn check digit.
import type { Candidate } from '../types.js';
import { PRIORITY, scanRuns, type ScanContext } from './context.js';

const CANDIDATE = /(?<![\d.,+-])\d(?:[ -]?\d){12,18}(?![\d])/g;

export function scanCard(ctx: ScanContext, out: Candidate[]): void {
  if (!ctx.hasDigits(13)) return;
  scanRuns(CANDIDATE, ctx.text, ctx.numberRuns(13), (m, offset) => {
    if (isCardNumber(m[0])) out.push({ type: 'card', start: m.index + offset, end: m.index + offset + m[0].length, priority: PRIORITY.card });
  });
}

/** The reference path: the regex over the whole text. */
export function scanCardPlain(ctx: ScanContext, out: Candidate[]): void {
  const text = ctx.text;
  CANDIDATE.lastIndex = 0;
  for (let m = CANDIDATE.exec(text); m; m = CANDIDATE.exec(text)) {
    const raw = m[0];
    if (isCardNumber(raw)) out.push({ type: 'card', start: m.index, end: m.index + raw.length, priority: PRIORITY.card });
  }
}

export function isCardNumber(raw: string): boolean {
  const separators = raw.replace(/\d/g, '');
  if (separators.length > 0) {
    // One kind of separator, groups of 3 to 6 digits (4-4-4-4, 4-6-5, 4-4-4-4-3).
    if (new Set(separators).size > 1) return false;
    const groups = raw.split(separators[0]!);
    if (groups.some((group, i) => group.length > 6 || (group.length < 3 && i < groups.length - 1) || group.length === 0)) return false;
  }
  const digits = separators.length > 0 ? raw.replace(/\D/g, '') : raw;
  return digits.length >= 13 && digits.length <= 19 && knownIssuer(digits) && luhn(digits);
}

/** Issuer prefixes of the card networks (Visa, Mastercard, Amex, Discover, Diners, JCB, UnionPay, Maestro). */
function knownIssuer(digits: string): boolean {
  const two = Number(digits.slice(0, 2));
  switch (digits[0]) {
    case '2': {
      const four = Number(digits.slice(0, 4));
      return four >= 2221 && four <= 2720;
    }
    case '3':
      return two === 30 || two === 34 || two === 35 || two === 36 || two === 37 || two === 38 || two === 39;
    case '4':
    case '5':
    case '6':
      return true;
    default:
      return false;
  }
}

export function luhn(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}
