// Values recognised only by what labels them: dates of birth, person names and postal
// addresses after "dob:", "name:", "address:" (in prose, config, JSON or CSV-like text).
// Without a label a date is a timestamp and a capitalised word is just a word.
import type { Candidate } from '../types.js';
import { PRIORITY, type ScanContext } from './context.js';

const SEP = `["']?[ \\t]*(?:[:=]|=>|,)[ \\t]*["']?`;
const DOB_LABEL = new RegExp(`\\b(?:dob|d\\.o\\.b\\.?|date[ _-]?of[ _-]?birth|birth[ _-]?date|birthday|born(?:[ _]on)?)${SEP}`, 'gi');
const DATE =
  /(?:\d{4}-\d{2}-\d{2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{1,2}(?:st|nd|rd|th)? [A-Z][a-z]{2,8}\.?,? \d{4}|[A-Z][a-z]{2,8}\.? \d{1,2}(?:st|nd|rd|th)?,? \d{4})/y;

const NAME_LABEL = new RegExp(
  `\\b(?:(full|first|last|given|family|middle|maiden|customer|patient|contact|employee|account|holder|card[ _-]?holder|user)[ _-]?name|(surname|forename)|(name)|(customer|patient|contact|holder))${SEP}`,
  'gi',
);
const NAME = /\p{Lu}[\p{L}'’.-]*(?:[ ]\p{Lu}[\p{L}'’.-]*){0,3}/uy;

const ADDRESS_LABEL = new RegExp(`\\b(?:(ip|mac|email|e-mail|web|server|bind|listen|remote|local|wallet|contract|memory|return|base|host|proxy)[ _-]?)?(?:address|addr|street|mailing[ _-]?address|home[ _-]?address)${SEP}`, 'gi');
// A house number, a street, and the rest of the line up to a sentence end, quote or separator.
const ADDRESS = /\d{1,6}[A-Za-z]?,?[ ]+\p{L}(?:[^\n\r"'|;.]|\.(?=\S)){2,100}/uy;

export function scanDateOfBirth(ctx: ScanContext, out: Candidate[]): void {
  if (!/dob|d\.o\.b|birth|born/.test(ctx.lower)) return;
  const text = ctx.text;
  DOB_LABEL.lastIndex = 0;
  for (let m = DOB_LABEL.exec(text); m; m = DOB_LABEL.exec(text)) {
    const at = m.index + m[0].length;
    DATE.lastIndex = at;
    const date = DATE.exec(text);
    if (date) out.push({ type: 'dob', start: at, end: at + date[0].length, priority: PRIORITY.labelled });
  }
}

export function scanName(ctx: ScanContext, out: Candidate[]): void {
  const lower = ctx.lower;
  if (!lower.includes('name') && !/customer|patient|contact|holder/.test(lower)) return;
  const text = ctx.text;
  NAME_LABEL.lastIndex = 0;
  for (let m = NAME_LABEL.exec(text); m; m = NAME_LABEL.exec(text)) {
    const at = m.index + m[0].length;
    NAME.lastIndex = at;
    const name = NAME.exec(text);
    if (!name) continue;
    let value = name[0].replace(/[.-]+$/, '');
    // A bare "name:" labels many things (services, files); ask for a first and last name.
    const words = value.split(' ').length;
    if ((m[3] || m[4]) && words < 2) continue;
    if (m[3] && /^(?:Production|Staging|Default|Test|The|My|New)$/.test(value.split(' ')[0]!)) continue;
    value = value.trimEnd();
    out.push({ type: 'name', start: at, end: at + value.length, priority: PRIORITY.labelled });
  }
}

export function scanAddress(ctx: ScanContext, out: Candidate[]): void {
  if (!/addr|street/.test(ctx.lower)) return;
  const text = ctx.text;
  ADDRESS_LABEL.lastIndex = 0;
  for (let m = ADDRESS_LABEL.exec(text); m; m = ADDRESS_LABEL.exec(text)) {
    if (m[1]) continue; // "ip address:", "email address:", ...
    const at = m.index + m[0].length;
    ADDRESS.lastIndex = at;
    const address = ADDRESS.exec(text);
    if (!address) continue;
    const value = address[0].replace(/[\s,.]+$/, '');
    out.push({ type: 'address', start: at, end: at + value.length, priority: PRIORITY.labelled });
  }
}
