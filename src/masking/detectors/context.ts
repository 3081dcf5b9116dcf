// What every detector gets: the text, its lower-case form (made once, on demand, for keyword
// prefilters and labels) and the profile's settings that detectors need.
import type { Candidate } from '../types.js';

export class ScanContext {
  private lowered: string | undefined;

  constructor(
    readonly text: string,
    /** Default region for national phone numbers (ISO 3166 alpha-2). */
    readonly region: string,
  ) {}

  get lower(): string {
    return (this.lowered ??= this.text.toLowerCase());
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
