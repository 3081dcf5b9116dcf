// Shared helpers of the masking tests: the labelled corpus and a compiled default profile.
import { readFileSync } from 'node:fs';
import { compileMaskingProfile, DEFAULT_PROFILE } from '../../src/masking/index.js';

export const KEY = 'test-masking-key-0123456789abcdef';

/** Removes the marker that keeps secret scanners from flagging fake tokens in the repo. */
export const unsplit = (text: string): string => text.replaceAll('«»', '');

export interface CorpusLine {
  kind: string;
  text: string;
  /** Planted values with their type and span in `text`. */
  planted: { type: string; value: string; start: number; end: number }[];
  /** Look-alikes that must come out unchanged. */
  keep: string[];
}

export function loadCorpus(file = new URL('./corpus/corpus.jsonl', import.meta.url)): CorpusLine[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const raw = JSON.parse(line) as { kind: string; text: string; planted: { type: string; value: string }[]; keep: string[] };
      const text = unsplit(raw.text);
      return {
        kind: raw.kind,
        text,
        planted: raw.planted.map(({ type, value }) => {
          const v = unsplit(value);
          const start = text.indexOf(v);
          if (start < 0) throw new Error(`corpus: planted value not in its text: ${type}`);
          return { type, value: v, start, end: start + v.length };
        }),
        keep: raw.keep.map(unsplit),
      };
    });
}

export const defaultProfile = () => compileMaskingProfile('default', DEFAULT_PROFILE, { key: KEY }).forScope({ session: 'test' });
