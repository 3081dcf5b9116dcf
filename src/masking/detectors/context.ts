// What every detector gets: the text, its lower-case form (made once, on demand, for keyword
// prefilters and labels), the keyword positions (one pass for all detectors) and the
// profile's settings that detectors need.
import type { Candidate } from '../types.js';
import type { KeywordScanner } from './anchors.js';

export class ScanContext {
  private lowered: string | undefined;
  private scanned: number[][] | undefined;
  private present: string[] | undefined;
  private found: Map<string, number[]> | undefined;
  private runs: { spans: number[]; digits: number[] } | undefined;
  /** Digits counted so far by hasDigits, and where counting stopped. */
  private digitsSeen = 0;
  private digitsAt = 0;

  constructor(
    readonly text: string,
    /** Default region for national phone numbers (ISO 3166 alpha-2). */
    readonly region: string,
    /** The keywords of the profile's detectors, scanned for together on first use. */
    readonly keywords?: KeywordScanner,
  ) {}

  get lower(): string {
    return (this.lowered ??= this.text.toLowerCase());
  }

  /**
   * Whether offsets in `lower` are offsets in `text` (not so when lower-casing changed a
   * character's length, as with U+0130); anchored scans need it and fall back otherwise.
   */
  get aligned(): boolean {
    return this.lower.length === this.text.length;
  }

  /**
   * Whether the text has at least `n` ASCII digits. Detectors whose every finding holds that
   * many (cards 13, phones 7, SSNs 9) skip texts without: most short values have none.
   */
  hasDigits(n: number): boolean {
    if (n <= this.digitsSeen) return true;
    const text = this.text;
    let count = this.digitsSeen;
    for (let i = this.digitsAt; i < text.length; i++) {
      const code = text.charCodeAt(i);
      if (code >= 48 && code <= 57 && ++count >= n) {
        this.digitsSeen = count;
        this.digitsAt = i + 1;
        return true;
      }
    }
    this.digitsSeen = count;
    this.digitsAt = text.length;
    return false;
  }

  /**
   * Runs of the characters numbers are written with (ASCII digits, space, `(`, `)`, `+`,
   * `-`, `.`) that hold at least `min` digits (7 or more), each from its first digit, `(` or
   * `+` to its end: [start, end) pairs, flat. Card, phone and SSN candidates consist of these
   * characters, start with one of those three and hold that many digits, so their regexes
   * need only run around these runs (`scanRuns`), not over the whole text. A text of up to
   * 256 characters is returned whole, as one run.
   */
  numberRuns(min: number): readonly number[] {
    if (min < MIN_RUN_DIGITS) throw new Error(`number runs hold at least ${MIN_RUN_DIGITS} digits`);
    // A short text (a column value) is one run: scanning it whole costs less than finding runs.
    if (this.text.length <= SHORT_TEXT) return [0, this.text.length];
    const runs = (this.runs ??= findNumberRuns(this.text));
    if (min === MIN_RUN_DIGITS) return runs.spans;
    const out: number[] = [];
    for (let i = 0; i < runs.digits.length; i++) if (runs.digits[i]! >= min) out.push(runs.spans[2 * i]!, runs.spans[2 * i + 1]!);
    return out;
  }

  /**
   * The keywords of the profile's scan that occur in the text (most short values have none,
   * so rules can be picked by keyword instead of asking for each); undefined without a scan.
   */
  presentKeywords(): readonly string[] | undefined {
    const scanner = this.keywords;
    if (!scanner) return undefined;
    if (this.present) return this.present;
    const scanned = (this.scanned ??= scanner.scan(this.lower));
    this.present = scanner.keywords.filter((_, id) => scanned[id]!.length > 0);
    return this.present;
  }

  /** Whether the profile's keyword pass has run on this text (its `hits` cost nothing more). */
  get keywordsScanned(): boolean {
    return this.scanned !== undefined;
  }

  /** Every position of a lower-case keyword in `lower`, ascending (overlapping ones too). */
  hits(keyword: string): readonly number[] {
    const id = this.keywords?.id(keyword);
    if (id !== undefined) return (this.scanned ??= this.keywords!.scan(this.lower))[id]!;
    // A keyword outside the profile's scan (a detector run on its own): look for it directly.
    this.found ??= new Map();
    let hits = this.found.get(keyword);
    if (!hits) {
      hits = [];
      for (let at = this.lower.indexOf(keyword); at >= 0; at = this.lower.indexOf(keyword, at + 1)) hits.push(at);
      this.found.set(keyword, hits);
    }
    return hits;
  }

  /** Whether one of the labels occurs (lower case) in the `window` characters before `at`. */
  labelBefore(at: number, labels: readonly string[], window = 24): boolean {
    const from = Math.max(0, at - window);
    const before = this.lower.slice(from, at);
    return labels.some((label) => before.includes(label));
  }
}

const MIN_RUN_DIGITS = 7;
const SHORT_TEXT = 256;

/**
 * Seven or more number characters in a row from the first one a candidate can start with
 * (digit, `(`, `+`): a regex scans for them faster than a loop in JavaScript.
 */
const NUMBER_RUN = /[\d(+][\d ()+.-]{6,}/g;

function findNumberRuns(text: string): { spans: number[]; digits: number[] } {
  const spans: number[] = [];
  const digits: number[] = [];
  NUMBER_RUN.lastIndex = 0;
  for (let m = NUMBER_RUN.exec(text); m; m = NUMBER_RUN.exec(text)) {
    const run = m[0];
    let count = 0;
    for (let i = 0; i < run.length; i++) {
      const code = run.charCodeAt(i);
      if (code >= 48 && code <= 57) count++;
    }
    if (count >= MIN_RUN_DIGITS) {
      spans.push(m.index, m.index + run.length);
      digits.push(count);
    }
  }
  return { spans, digits };
}

/**
 * Runs a global regex over each run of `numberRuns` (with the one character before it and
 * the two after it, which its lookarounds may read) and calls `visit` with each match that
 * starts inside the run, and the offset of the match's text in `text`. For a regex whose
 * matches consist of number characters and start with a digit, `(` or `+`, and whose
 * lookarounds read no further, this finds exactly the matches a scan of the whole text finds
 * in those runs.
 */
export function scanRuns(regex: RegExp, text: string, runs: readonly number[], visit: (m: RegExpExecArray, offset: number) => void): void {
  for (let r = 0; r < runs.length; r += 2) {
    const start = runs[r]!;
    const end = runs[r + 1]!;
    const from = start > 0 ? start - 1 : 0;
    const part = text.slice(from, end + 2);
    regex.lastIndex = 0;
    for (let m = regex.exec(part); m; m = regex.exec(part)) if (m.index + from >= start && m.index + from < end) visit(m, from);
  }
}

export type Detector = (ctx: ScanContext, out: Candidate[]) => void;

/** Priorities: a higher one wins where candidates overlap. */
export const PRIORITY = {
  secret: 100,
  custom: 90,
  card: 60,
  iban: 60,
  ssn: 55,
  email: 50,
  phone: 40,
  labelled: 30,
  ip: 20,
} as const;
