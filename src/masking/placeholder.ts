// Placeholders: typed, stable within a scope, and safe wherever an agent may paste them.
//
//   SLUICE_EMAIL_kqbvtnmdrcfgph
//
// "SLUICE_", the type in capitals, "_", then 14 letters from a 16-letter consonant alphabet
// (56 bits). Only [A-Z0-9_a-z]: nothing that SQL string literals, JSON strings or shell words
// treat specially, no digit runs that look like a number, no vowels that spell words, and a
// prefix no real value carries. The same (key, scope, type, value) always gives the same
// placeholder, so an agent can still group and join on masked values, and nothing needs to
// be stored for that.
//
// Derivation: a subkey per (scope, type), HMAC-SHA256(key, JSON ["placeholder", scope, type]),
// made once; then keyed BLAKE2s-256 (RFC 7693) of the value's UTF-8 under that subkey, whose
// first 7 bytes give the letters. Keyed BLAKE2s is a MAC, so without the key no guess of a
// low-entropy value (an SSN) can be checked against a placeholder; other scopes and types
// have unrelated subkeys. A value of up to 64 bytes costs one BLAKE2s compression.
// `hash` replacements: subkey HMAC-SHA256(key, JSON ["hash", type]), 8 bytes, 16 letters.
import { createHmac, randomBytes } from 'node:crypto';
import { KeyedBlake2s } from './blake2s.js';

const ALPHABET = 'bcdfghjkmnpqrstv';
const TOKEN_LENGTH = 14;
const HASH_LENGTH = 16;

/** Matches a placeholder anywhere in a text. */
export const PLACEHOLDER_PATTERN = /SLUICE_[A-Z][A-Z0-9_]*?_[bcdfghjkmnpqrstv]{14}(?![A-Za-z0-9_])/g;

/** Placeholder type label: capitals, digits and single underscores. */
export function typeLabel(type: string): string {
  return type.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'VALUE';
}

/** Two letters per byte, looked up (a placeholder is made per masked value). */
const PAIRS = Array.from({ length: 256 }, (_, byte) => ALPHABET[byte >> 4]! + ALPHABET[byte & 15]!);

/** Values remembered per cache generation; two generations make a cheap LRU. */
const CACHE_SIZE = 4096;
/** Longer inputs (a whole text column) are not cached: the cache stays under a few MB. */
const MAX_CACHED = 256;
/** Scopes whose subkeys are kept (sessions come and go); all are dropped past this. */
const MAX_SCOPES = 4096;
const MAX_TYPES = 1024;

/** A key for placeholders when none is configured: stable for this process only. */
let processKey: Buffer | undefined;
export function defaultPlaceholderKey(): Buffer {
  return (processKey ??= randomBytes(32));
}

/** Recently made placeholders and hashes by value, shared by a key's minters and bounded. */
interface ValueCache {
  recent: Map<string, CacheEntry>;
  older: Map<string, CacheEntry>;
}

interface CacheEntry {
  /** The minter (scope and type) the text was made by: one value has one entry. */
  minter: Minter;
  text: string;
}

/**
 * Makes the placeholders (or hashes) of one scope and type. Column maskers hold one, so a
 * value costs a cache look-up or one compression, and no string is built to find it.
 */
export class Minter {
  private readonly digest = new Uint8Array(32);

  constructor(
    private readonly mac: KeyedBlake2s,
    private readonly prefix: string,
    private readonly letters: number,
    private readonly cache: ValueCache,
  ) {}

  mint(value: string): string {
    if (value.length > MAX_CACHED) return this.make(value);
    // A repeated value (a status, a customer's email on every order row) costs a Map
    // look-up. An entry of another minter (the same value in another scope) is a miss.
    const cache = this.cache;
    let entry = cache.recent.get(value);
    if (entry !== undefined && entry.minter === this) return entry.text;
    entry = cache.older.get(value);
    const text = entry !== undefined && entry.minter === this ? entry.text : this.make(value);
    if (cache.recent.size >= CACHE_SIZE) {
      cache.older = cache.recent;
      cache.recent = new Map();
    }
    cache.recent.set(value, { minter: this, text });
    return text;
  }

  private make(value: string): string {
    const digest = this.digest;
    this.mac.digest(value, digest);
    let out = this.prefix;
    for (let i = 0; i < this.letters >> 1; i++) out += PAIRS[digest[i]!]!;
    return out;
  }
}

export class Placeholders {
  private readonly key: Buffer;
  private readonly cache: ValueCache = { recent: new Map(), older: new Map() };
  private scopes = new Map<string, Map<string, Minter>>();
  private readonly hashers = new Map<string, Minter>();

  constructor(key?: Buffer | string) {
    const bytes = key === undefined ? defaultPlaceholderKey() : Buffer.isBuffer(key) ? key : Buffer.from(key, 'utf8');
    if (bytes.length < 16) throw new Error('the masking key must be at least 16 bytes');
    this.key = Buffer.from(bytes);
  }

  /** The minter of placeholders for a type within a scope ("session:ID", "agent:NAME", "global"). */
  minter(scope: string, type: string): Minter {
    let types = this.scopes.get(scope);
    if (types === undefined) {
      if (this.scopes.size >= MAX_SCOPES) this.scopes = new Map();
      types = new Map();
      this.scopes.set(scope, types);
    }
    let minter = types.get(type);
    if (minter === undefined) {
      minter = new Minter(this.subkey(['placeholder', scope, type]), `SLUICE_${typeLabel(type)}_`, TOKEN_LENGTH, this.cache);
      if (types.size < MAX_TYPES) types.set(type, minter);
    }
    return minter;
  }

  /** The minter of keyed one-way hashes of a type (the same in every scope). */
  hasher(type: string): Minter {
    let minter = this.hashers.get(type);
    if (minter === undefined) {
      minter = new Minter(this.subkey(['hash', type]), 'hash_', HASH_LENGTH, this.cache);
      if (this.hashers.size < MAX_TYPES) this.hashers.set(type, minter);
    }
    return minter;
  }

  /** The placeholder for a value of a type within a scope. */
  placeholder(scope: string, type: string, value: string): string {
    return this.minter(scope, type).mint(value);
  }

  /** A keyed one-way hash (not reversible, the same in every scope): `hash_` and 16 letters. */
  hash(type: string, value: string): string {
    return this.hasher(type).mint(value);
  }

  /** JSON keeps the parts apart whatever they contain (a scope with a NUL cannot pose as a type). */
  private subkey(parts: string[]): KeyedBlake2s {
    return new KeyedBlake2s(createHmac('sha256', this.key).update(JSON.stringify(parts), 'utf8').digest());
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
