// US Social Security numbers: AAA-GG-SSSS with a valid area (not 000, 666 or 900-999),
// group (not 00) and serial (not 0000). Without dashes only after an "ssn" label.
import type { Candidate } from '../types.js';
import { PRIORITY, scanRuns, type ScanContext } from './context.js';

const DASHED = /(?<![\d-])(\d{3})-(\d{2})-(\d{4})(?![\d-])/g;
const LABELLED = /(?<![\d-])(\d{3})[ ]?(\d{2})[ ]?(\d{4})(?![\d-])/g;
const LABELS = ['ssn', 'social security', 'soc sec', 'ss#', 'ss #'];

export function validSsn(area: string, group: string, serial: string): boolean {
  const a = Number(area);
  return a !== 0 && a !== 666 && a < 900 && group !== '00' && serial !== '0000';
}

export function scanSsn(ctx: ScanContext, out: Candidate[]): void {
  if (!ctx.hasDigits(9)) return;
  const text = ctx.text;
  const runs = ctx.numberRuns(9);
  scanRuns(DASHED, text, runs, (m, offset) => {
    if (validSsn(m[1]!, m[2]!, m[3]!)) out.push({ type: 'ssn', start: m.index + offset, end: m.index + offset + m[0].length, priority: PRIORITY.ssn });
  });
  if (!LABELS.some((label) => ctx.lower.includes(label))) return;
  scanRuns(LABELLED, text, runs, (m, offset) => {
    if (m[0].includes('-')) return;
    if (validSsn(m[1]!, m[2]!, m[3]!) && ctx.labelBefore(m.index + offset, LABELS, 20)) {
      out.push({ type: 'ssn', start: m.index + offset, end: m.index + offset + m[0].length, priority: PRIORITY.ssn });
    }
  });
}

/** The reference path: the regexes over the whole text. */
export function scanSsnPlain(ctx: ScanContext, out: Candidate[]): void {
  const text = ctx.text;
  DASHED.lastIndex = 0;
  for (let m = DASHED.exec(text); m; m = DASHED.exec(text)) {
    if (validSsn(m[1]!, m[2]!, m[3]!)) out.push({ type: 'ssn', start: m.index, end: m.index + m[0].length, priority: PRIORITY.ssn });
  }
  if (!LABELS.some((label) => ctx.lower.includes(label))) return;
  LABELLED.lastIndex = 0;
  for (let m = LABELLED.exec(text); m; m = LABELLED.exec(text)) {
    if (m[0].includes('-')) continue;
    if (validSsn(m[1]!, m[2]!, m[3]!) && ctx.labelBefore(m.index, LABELS, 20)) {
      out.push({ type: 'ssn', start: m.index, end: m.index + m[0].length, priority: PRIORITY.ssn });
    }
  }
}
