// IBANs: country code, check digits and BBAN, printed with or without groups of four,
// confirmed by ibantools (country length and mod-97).
import { isValidIBAN } from 'ibantools';
import type { Candidate } from '../types.js';
import { PRIORITY, type ScanContext } from './context.js';

const CANDIDATE = /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b/g;

export function scanIban(ctx: ScanContext, out: Candidate[]): void {
  const text = ctx.text;
  CANDIDATE.lastIndex = 0;
  for (let m = CANDIDATE.exec(text); m; m = CANDIDATE.exec(text)) {
    let raw = m[0];
    // The optional tail can swallow the next word's start; retry without it.
    while (raw.length > 0 && !isValidIBAN(raw.replace(/ /g, ''))) {
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
