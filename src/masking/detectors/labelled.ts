// Values recognised only by what labels them: dates of birth, person names and postal
// addresses after "dob:", "name:", "address:" (in prose, config, JSON or CSV-like text).
// Without a label a date is a timestamp and a capitalised word is just a word.
import type { Candidate } from '../types.js';
import { matchAt, startsAround } from './anchors.js';
import { PRIORITY, type ScanContext } from './context.js';

// Each label regex is tried only near its words: a match of DOB_LABEL starts at "dob",
// "d.o.b", "born", or at most 8 characters before "birth" ("date of birth"); of NAME_LABEL
// at "customer", "patient", "contact", "holder" or at most 12 before "name" ("card_holder_
// name"); of ADDRESS_LABEL at most 20 before "addr" ("residential_mailing_address") or "street".
/** The words the label detectors are anchored at (the engine scans for them with the others). */
export const LABEL_KEYWORDS = ['dob', 'd.o.b', 'born', 'birth', 'name', 'customer', 'patient', 'contact', 'holder', 'addr', 'street'];

const SEP = `["']?[ \\t]*(?:[:=]|=>|,)[ \\t]*["']?`;
const DOB_LABEL = new RegExp(`\\b(?:dob|d\\.o\\.b\\.?|date[ _-]?of[ _-]?birth|birth[ _-]?date|birthday|born(?:[ _]on)?)${SEP}`, 'gi');
const DATE =
  /(?:\d{4}-\d{2}-\d{2}|\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{1,2}(?:st|nd|rd|th)? [A-Z][a-z]{2,8}\.?,? \d{4}|[A-Z][a-z]{2,8}\.? \d{1,2}(?:st|nd|rd|th)?,? \d{4})/y;

const NAME_LABEL = new RegExp(
  `\\b(?:(full|first|last|given|family|middle|maiden|customer|patient|contact|employee|account|holder|card[ _-]?holder|user)[ _-]?name|(surname|forename)|(name)|(customer|patient|contact|holder))${SEP}`,
  'gi',
);
const NAME = /\p{Lu}[\p{L}'’.-]*(?:[ ]\p{Lu}[\p{L}'’.-]*){0,3}/uy;

// A personal prefix ("billing_address") belongs to the label; a technical one ("ip address") rules it out.
const ADDRESS_LABEL = new RegExp(
  `\\b(?:(ip|mac|email|e-mail|web|server|bind|listen|remote|local|wallet|contract|memory|return|base|host|proxy)[ _-]?|(?:billing|shipping|postal|delivery|residential|customer|contact|home|mailing)[ _-]?)?(?:address|addr|street|mailing[ _-]?address|home[ _-]?address)${SEP}`,
  'gi',
);
// A house number, a street, and the rest of the line up to a sentence end, quote or separator.
const ADDRESS = /\d{1,6}[A-Za-z]?,?[ ]+\p{L}(?:[^\n\r"'|;.]|\.(?=\S)){2,100}/uy;

const DOB_WORDS = words(['dob', 'd.o.b', 'birth', 'born']);
const NAME_WORDS = words(['name', 'customer', 'patient', 'contact', 'holder']);
const ADDRESS_WORDS = words(['addr', 'street']);

function words(list: string[]): { list: string[]; regex: RegExp } {
  return { list, regex: new RegExp(list.map((word) => word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')) };
}

/**
 * Whether one of the words occurs in the lower-case text: from the shared keyword pass when
 * it has run (a long text), else one regex test (a short value, where the pass may not be needed).
 */
function anyHit(ctx: ScanContext, words: { list: string[]; regex: RegExp }): boolean {
  return ctx.keywordsScanned ? words.list.some((word) => ctx.hits(word).length > 0) : words.regex.test(ctx.lower);
}

/** Where a label regex runs: at candidate starts near its words (fast), or over the whole text. */
type LabelRun = (ctx: ScanContext, regex: RegExp, sticky: RegExp, visit: (m: RegExpExecArray) => void, groups: (hits: (keyword: string) => readonly number[]) => (readonly [readonly number[], number, number])[]) => void;

const anchored: LabelRun = (ctx, regex, sticky, visit, groups) => {
  if (!ctx.aligned) return whole(ctx, regex, sticky, visit, groups);
  const starts = startsAround(groups((keyword) => ctx.hits(keyword)));
  matchAt(sticky, ctx.text, starts, (m) => {
    visit(m);
    return m.index + m[0].length;
  });
};

const whole: LabelRun = (ctx, regex, _sticky, visit) => {
  regex.lastIndex = 0;
  for (let m = regex.exec(ctx.text); m; m = regex.exec(ctx.text)) visit(m);
};

const DOB_STICKY = new RegExp(DOB_LABEL.source, 'yi');
const NAME_STICKY = new RegExp(NAME_LABEL.source, 'yi');
const ADDRESS_STICKY = new RegExp(ADDRESS_LABEL.source, 'yi');

export const scanDateOfBirth = (ctx: ScanContext, out: Candidate[]): void => dateOfBirth(ctx, out, anchored);
export const scanDateOfBirthPlain = (ctx: ScanContext, out: Candidate[]): void => dateOfBirth(ctx, out, whole);
export const scanName = (ctx: ScanContext, out: Candidate[]): void => name(ctx, out, anchored);
export const scanNamePlain = (ctx: ScanContext, out: Candidate[]): void => name(ctx, out, whole);
export const scanAddress = (ctx: ScanContext, out: Candidate[]): void => address(ctx, out, anchored);
export const scanAddressPlain = (ctx: ScanContext, out: Candidate[]): void => address(ctx, out, whole);

function dateOfBirth(ctx: ScanContext, out: Candidate[], run: LabelRun): void {
  if (!anyHit(ctx, DOB_WORDS)) return;
  const text = ctx.text;
  run(
    ctx,
    DOB_LABEL,
    DOB_STICKY,
    (m) => {
      const at = m.index + m[0].length;
      DATE.lastIndex = at;
      const date = DATE.exec(text);
      if (date) out.push({ type: 'dob', start: at, end: at + date[0].length, priority: PRIORITY.labelled });
    },
    (hits) => [
      [hits('dob'), 0, 0],
      [hits('d.o.b'), 0, 0],
      [hits('born'), 0, 0],
      [hits('birth'), -8, 0],
    ],
  );
}

function name(ctx: ScanContext, out: Candidate[], run: LabelRun): void {
  if (!anyHit(ctx, NAME_WORDS)) return;
  const text = ctx.text;
  run(
    ctx,
    NAME_LABEL,
    NAME_STICKY,
    (m) => {
      const at = m.index + m[0].length;
      NAME.lastIndex = at;
      const found = NAME.exec(text);
      if (!found) return;
      let value = found[0].replace(/[.-]+$/, '');
      // A bare "name:" labels many things (services, files); ask for a first and last name.
      const words = value.split(' ').length;
      if ((m[3] || m[4]) && words < 2) return;
      if (m[3] && /^(?:Production|Staging|Default|Test|The|My|New)$/.test(value.split(' ')[0]!)) return;
      value = value.trimEnd();
      out.push({ type: 'name', start: at, end: at + value.length, priority: PRIORITY.labelled });
    },
    (hits) => [
      [hits('name'), -12, 0],
      [hits('customer'), 0, 0],
      [hits('patient'), 0, 0],
      [hits('contact'), 0, 0],
      [hits('holder'), 0, 0],
    ],
  );
}

function address(ctx: ScanContext, out: Candidate[], run: LabelRun): void {
  if (!anyHit(ctx, ADDRESS_WORDS)) return;
  const text = ctx.text;
  run(
    ctx,
    ADDRESS_LABEL,
    ADDRESS_STICKY,
    (m) => {
      if (m[1]) return; // "ip address:", "email address:", ...
      const at = m.index + m[0].length;
      ADDRESS.lastIndex = at;
      const found = ADDRESS.exec(text);
      if (!found) return;
      const value = found[0].replace(/[\s,.]+$/, '');
      out.push({ type: 'address', start: at, end: at + value.length, priority: PRIORITY.labelled });
    },
    (hits) => [
      [hits('addr'), -20, 0],
      [hits('street'), -20, 0],
    ],
  );
}
