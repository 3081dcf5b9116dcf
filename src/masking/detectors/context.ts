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
