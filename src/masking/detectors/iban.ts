// IBANs: country code, check digits and BBAN, printed with or without groups of four,
// confirmed by ibantools (country length and mod-97).
import { isValidIBAN } from 'ibantools';
import type { Candidate } from '../types.js';
import { PRIORITY, type ScanContext } from './context.js';

const CANDIDATE = /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b/g;

/** Mod-97 of the rearranged IBAN (letters as 10..35): 1 for every valid one. Cheaper than ibantools. */
function mod97(compact: string): number {
  let rest = 0;
  const n = compact.length;
  for (let k = 0; k < n; k++) {
    const code = compact.charCodeAt((k + 4) % n);
    if (code >= 48 && code <= 57) rest = (rest * 10 + code - 48) % 97;
    else if (code >= 65 && code <= 90) rest = (rest * 100 + code - 55) % 97;
    else return -1;
  }
  return rest;
}

/** ibantools' check, after the necessary mod-97 condition that rules out most candidates quickly. */
const validIban = (compact: string): boolean => mod97(compact) === 1 && isValidIBAN(compact);

export const scanIban = (ctx: ScanContext, out: Candidate[]): void => (ctx.hasDigits(2) ? iban(ctx, out, validIban) : undefined);
/** The reference path: ibantools for every candidate. */
export const scanIbanPlain = (ctx: ScanContext, out: Candidate[]): void => iban(ctx, out, isValidIBAN);

function iban(ctx: ScanContext, out: Candidate[], valid: (compact: string) => boolean): void {
  const text = ctx.text;
  CANDIDATE.lastIndex = 0;
  for (let m = CANDIDATE.exec(text); m; m = CANDIDATE.exec(text)) {
    let raw = m[0];
    // The optional tail can swallow the next word's start; retry without it.
    while (raw.length > 0 && !valid(raw.replace(/ /g, ''))) {
      const cut = raw.lastIndexOf(' ');
      if (cut < 0) {
        raw = '';
        break;
      }
      raw = raw.slice(0, cut);
    }
    if (raw.length >= 15) out.push({ type: 'iban', start: m.index, end: m.index + raw.length, priority: PRIORITY.iban });
  }
}
