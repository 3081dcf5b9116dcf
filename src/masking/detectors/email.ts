// Email addresses: found from each "@" outwards, by hand (a regex would try every position).
import type { Candidate } from '../types.js';
import { PRIORITY, type ScanContext } from './context.js';

const LOCAL = new Uint8Array(128);
const DOMAIN = new Uint8Array(128);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789') {
  LOCAL[c.charCodeAt(0)] = 1;
  DOMAIN[c.charCodeAt(0)] = 1;
}
for (const c of "._%+-'") LOCAL[c.charCodeAt(0)] = 1;
for (const c of '.-') DOMAIN[c.charCodeAt(0)] = 1;

/** Local parts that name a service account in a URL or remote, not a person (git@github.com). */
const NOT_PEOPLE = new Set(['git']);

export function scanEmail(ctx: ScanContext, out: Candidate[]): void {
  const text = ctx.text;
  for (let at = text.indexOf('@'); at >= 0; at = text.indexOf('@', at + 1)) {
    let start = at;
    while (start > 0 && start > at - 64 && isIn(LOCAL, text.charCodeAt(start - 1))) start--;
    // Trim punctuation that cannot start a local part (quotes, dots from prose).
    while (start < at && (text[start] === '.' || text[start] === "'" || text[start] === '-')) start++;
    if (start === at || text[at - 1] === '.') continue;
    let end = at + 1;
    while (end < text.length && end < at + 254 && isIn(DOMAIN, text.charCodeAt(end))) end++;
    // A trailing dot or dash belongs to the sentence, not the domain.
    while (end > at + 1 && (text[end - 1] === '.' || text[end - 1] === '-')) end--;
    const domain = text.slice(at + 1, end);
    const labels = domain.split('.');
    if (labels.length < 2 || labels.some((label) => label.length === 0 || label.length > 63 || label.startsWith('-'))) continue;
    const tld = labels[labels.length - 1]!;
    if (!/^[A-Za-z]{2,24}$/.test(tld)) continue;
    // "icon@2x.png" is an asset name.
    if (/^\d+x$/i.test(labels[0]!)) continue;
    if (NOT_PEOPLE.has(text.slice(start, at).toLowerCase())) continue;
    // "https://public@o1.ingest.example.io": the user part of a URL, not a mailbox.
    if (start >= 3 && text.startsWith('://', start - 3)) continue;
    out.push({ type: 'email', start, end, priority: PRIORITY.email });
    at = end - 1;
  }
}

function isIn(table: Uint8Array, code: number): boolean {
  return code < 128 && table[code] === 1;
}
