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
import { createHmac, randomBytes } from 'node:crypto';

const ALPHABET = 'bcdfghjkmnpqrstv';
const TOKEN_LENGTH = 14;

/** Matches a placeholder anywhere in a text. */
export const PLACEHOLDER_PATTERN = /SLUICE_[A-Z][A-Z0-9_]*?_[bcdfghjkmnpqrstv]{14}(?![A-Za-z0-9_])/g;

/** Placeholder type label: capitals, digits and single underscores. */
export function typeLabel(type: string): string {
  return type.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'VALUE';
}

function letters(digest: Buffer, count: number): string {
  let out = '';
  for (let i = 0; out.length < count; i++) {
    const byte = digest[i]!;
    out += ALPHABET[byte >> 4]! + ALPHABET[byte & 15]!;
  }
  return out.slice(0, count);
}

/** A key for placeholders when none is configured: stable for this process only. */
let processKey: Buffer | undefined;
export function defaultPlaceholderKey(): Buffer {
  return (processKey ??= randomBytes(32));
}

export class Placeholders {
  private readonly key: Buffer;

  constructor(key?: Buffer | string) {
    this.key = key === undefined ? defaultPlaceholderKey() : Buffer.isBuffer(key) ? key : Buffer.from(key, 'utf8');
    if (this.key.length < 16) throw new Error('the masking key must be at least 16 bytes');
  }

  /** The placeholder for a value of a type within a scope ("session:ID", "agent:NAME", "global"). */
  placeholder(scope: string, type: string, value: string): string {
    const digest = createHmac('sha256', this.key).update(`p\0${scope}\0${type}\0${value}`).digest();
    return `SLUICE_${typeLabel(type)}_${letters(digest, TOKEN_LENGTH)}`;
  }

  /** A keyed one-way hash (not reversible, the same in every scope): `hash_` and 16 letters. */
  hash(type: string, value: string): string {
    const digest = createHmac('sha256', this.key).update(`h\0${type}\0${value}`).digest();
    return `hash_${letters(digest, 16)}`;
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
