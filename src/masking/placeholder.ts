// Placeholders: typed, stable within a scope, and safe wherever an agent may paste them.
//
//   SLUICE_EMAIL_kqbvtnmdrcfgph
//
// "SLUICE_", the type in capitals, "_", then 14 letters from a 16-letter consonant alphabet
// (56 bits of a keyed HMAC-SHA256 of scope, type and value). Only [A-Z0-9_a-z]: nothing that
// SQL string literals, JSON strings or shell words treat specially, no digits runs that look
// like a number, no vowels that spell words, and a prefix no real value carries. The same
// (key, scope, type, value) always gives the same placeholder, so an agent can still group
// and join on masked values, and nothing needs to be stored for that. The key must be
// secret: with it, a guess of a low-entropy value (an SSN) could be checked against a
// placeholder.
import { randomBytes } from 'node:crypto';
import { HmacSha256 } from './hmac.js';

const ALPHABET = 'bcdfghjkmnpqrstv';
const TOKEN_LENGTH = 14;

/** Matches a placeholder anywhere in a text. */
export const PLACEHOLDER_PATTERN = /SLUICE_[A-Z][A-Z0-9_]*?_[bcdfghjkmnpqrstv]{14}(?![A-Za-z0-9_])/g;

/** Placeholder type label: capitals, digits and single underscores. */
export function typeLabel(type: string): string {
  return type.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'VALUE';
}

/** Two letters per byte, looked up (a placeholder is made per masked value). */
const PAIRS = Array.from({ length: 256 }, (_, byte) => ALPHABET[byte >> 4]! + ALPHABET[byte & 15]!);

function letters(digest: Uint8Array, count: number): string {
  let out = '';
  for (let i = 0; out.length < count; i++) out += PAIRS[digest[i]!]!;
  return out.length > count ? out.slice(0, count) : out;
}

/** Values remembered per placeholder cache generation; two generations make a cheap LRU. */
const CACHE_SIZE = 4096;
/** Longer inputs (a whole text column) are not cached: the cache stays under a few MB. */
const MAX_CACHED = 256;

/** A key for placeholders when none is configured: stable for this process only. */
let processKey: Buffer | undefined;
export function defaultPlaceholderKey(): Buffer {
  return (processKey ??= randomBytes(32));
}

export class Placeholders {
  private readonly hmac: HmacSha256;
  private readonly digest = new Uint8Array(32);
  private readonly labels = new Map<string, string>();
  // Recently made placeholders and hashes by their HMAC input: a repeated value (a status,
  // a customer's email on every order row) costs a Map lookup instead of an HMAC. Bounded:
  // the older generation is dropped when the newer fills up.
  private recent = new Map<string, string>();
  private older = new Map<string, string>();

  constructor(key?: Buffer | string) {
    const bytes = key === undefined ? defaultPlaceholderKey() : Buffer.isBuffer(key) ? key : Buffer.from(key, 'utf8');
    if (bytes.length < 16) throw new Error('the masking key must be at least 16 bytes');
    this.hmac = new HmacSha256(bytes);
  }

  /** The placeholder for a value of a type within a scope ("session:ID", "agent:NAME", "global"). */
  placeholder(scope: string, type: string, value: string): string {
    let label = this.labels.get(type);
    if (label === undefined) {
      label = `SLUICE_${typeLabel(type)}_`;
      if (this.labels.size < 1024) this.labels.set(type, label);
    }
    return this.cached(`p\0${scope}\0${type}\0${value}`, label, TOKEN_LENGTH);
  }

  /** A keyed one-way hash (not reversible, the same in every scope): `hash_` and 16 letters. */
  hash(type: string, value: string): string {
    return this.cached(`h\0${type}\0${value}`, 'hash_', 16);
  }

  private cached(input: string, prefix: string, count: number): string {
    if (input.length > MAX_CACHED) {
      this.hmac.digest(input, this.digest);
      return prefix + letters(this.digest, count);
    }
    let out = this.recent.get(input);
    if (out !== undefined) return out;
    out = this.older.get(input);
    if (out === undefined) {
      this.hmac.digest(input, this.digest);
      out = prefix + letters(this.digest, count);
    }
    if (this.recent.size >= CACHE_SIZE) {
      this.older = this.recent;
      this.recent = new Map();
    }
    this.recent.set(input, out);
    return out;
  }
}

/** Spans of placeholders already in a text (masking twice must not mask them again). */
export function placeholderSpans(text: string): [number, number][] {
  if (!text.includes('SLUICE_')) return [];
  const spans: [number, number][] = [];
  PLACEHOLDER_PATTERN.lastIndex = 0;
  for (let m = PLACEHOLDER_PATTERN.exec(text); m; m = PLACEHOLDER_PATTERN.exec(text)) spans.push([m.index, m.index + m[0].length]);
  return spans;
}
