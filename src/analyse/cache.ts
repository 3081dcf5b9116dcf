// A bounded LRU cache of Intents keyed by the exact command text, and an Analyser wrapper
// that uses it. Correctness with session state: an analyser may say, per result, that the
// result depends on or changes the session (PostgreSQL PREPARE, EXECUTE, DEALLOCATE); such
// results are never stored, so the next call with the same text runs the analysis again and
// sees (and updates) the session. Cached Intents are frozen so no caller can alter what the
// next caller gets.
//
// A second level serves statements that differ only in literals (`WHERE aid = 48213`,
// `WHERE aid = 7`): an analyser may come with a shape function (PostgreSQL: sql-shape.ts)
// that replaces the literals whose values its analysis provably ignores and answers undefined
// for anything else. On an exact-text miss the shape is looked up in a cache of its own, so a
// shape can never be mistaken for a real text. Only cacheable results that are not `unknown`
// are stored under a shape: unknown results carry the parser's messages, which may quote a
// literal.
import type { Intent } from '../gate/types.js';
import type { Analyser, AnalysisSession } from './analyser.js';
import { deepFreeze } from './intent.js';

/** An analyser that can say whether a result may be reused for the same text. */
export interface CacheAwareAnalyser extends Analyser {
  analyseCacheable(command: string, session?: AnalysisSession): { intent: Intent; cacheable: boolean };
}

export function isCacheAware(a: Analyser): a is CacheAwareAnalyser {
  return typeof (a as Partial<CacheAwareAnalyser>).analyseCacheable === 'function';
}

export interface LruCacheOptions {
  /** Most entries kept. */
  maxEntries?: number;
  /** Most characters of key text kept in total (large statements count for more). */
  maxChars?: number;
  /** Longest key worth caching; longer texts are analysed every time. */
  maxKeyLength?: number;
}

export const DEFAULT_CACHE_ENTRIES = 10_000;
export const DEFAULT_CACHE_CHARS = 8_000_000;
export const DEFAULT_CACHE_KEY_LENGTH = 65_536;

/** Least-recently-used map with bounds on entries and on total key length. */
export class LruCache<V> {
  private readonly map = new Map<string, V>();
  private chars = 0;
  readonly maxEntries: number;
  readonly maxChars: number;
  readonly maxKeyLength: number;
  hits = 0;
  misses = 0;

  constructor(options: LruCacheOptions = {}) {
    this.maxEntries = Math.max(1, options.maxEntries ?? DEFAULT_CACHE_ENTRIES);
    this.maxChars = Math.max(1, options.maxChars ?? DEFAULT_CACHE_CHARS);
    this.maxKeyLength = Math.max(1, options.maxKeyLength ?? DEFAULT_CACHE_KEY_LENGTH);
  }

  get size(): number {
    return this.map.size;
  }

  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    // Move to the most recent end (Map keeps insertion order).
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  set(key: string, value: V): void {
    if (key.length > this.maxKeyLength) return;
    if (this.map.has(key)) {
      this.map.delete(key);
      this.chars -= key.length;
    }
    this.map.set(key, value);
    this.chars += key.length;
    while (this.map.size > this.maxEntries || this.chars > this.maxChars) {
      const oldest = this.map.keys().next();
      if (oldest.done === true) break;
      this.map.delete(oldest.value);
      this.chars -= oldest.value.length;
    }
  }

  delete(key: string): void {
    if (this.map.delete(key)) this.chars -= key.length;
  }

  clear(): void {
    this.map.clear();
    this.chars = 0;
  }
}

/**
 * A command's shape: its text with literals the analysis ignores replaced, or undefined when
 * the command must be analysed on its own. Every command with a given shape must get the
 * same Intent from the analyser.
 */
export type ShapeFunction = (command: string) => string | undefined;

export interface CachingAnalyserOptions {
  /** Opt in to the shape cache (only for an analyser whose shape function is proven for it). */
  shape?: ShapeFunction;
  /** The cache of Intents by shape (never the text cache); by default one with the text cache's bounds. */
  shapeCache?: LruCache<Intent>;
}

/**
 * Serves repeated commands from a cache. Results are cached only when the inner analyser
 * says they may be (see CacheAwareAnalyser); an analyser that cannot say is cached only for
 * calls without a session, since such an analyser cannot depend on one.
 */
export class CachingAnalyser implements CacheAwareAnalyser {
  readonly language: string;
  /** The key prefix, so that several analysers can share one cache. */
  private readonly prefix: string;
  private readonly shape: ShapeFunction | undefined;
  /** Intents by shape; undefined without a shape function. */
  readonly shapeCache: LruCache<Intent> | undefined;

  constructor(
    private readonly inner: Analyser,
    readonly cache: LruCache<Intent> = new LruCache<Intent>(),
    options: CachingAnalyserOptions = {},
  ) {
    this.language = inner.language;
    this.prefix = `${inner.language}\u0000`;
    // One map for both would let a real text collide with a shape key.
    if (options.shapeCache !== undefined && options.shapeCache === cache) throw new TypeError('the shape cache must not be the text cache');
    this.shape = options.shape;
    this.shapeCache = options.shape === undefined
      ? undefined
      : options.shapeCache ?? new LruCache<Intent>({ maxEntries: cache.maxEntries, maxChars: cache.maxChars, maxKeyLength: cache.maxKeyLength });
  }

  analyse(command: string, session?: AnalysisSession): Intent {
    return this.analyseCacheable(command, session).intent;
  }

  analyseCacheable(command: string, session?: AnalysisSession): { intent: Intent; cacheable: boolean } {
    if (typeof command !== 'string') return this.fresh(command, session);
    const key = this.prefix + command;
    const hit = this.cache.get(key);
    if (hit !== undefined) return { intent: hit, cacheable: true };
    const shape = this.shapeKey(command);
    if (shape !== undefined) {
      const same = this.shapeCache?.get(shape);
      if (same !== undefined) return { intent: same, cacheable: true };
    }
    const result = this.fresh(command, session);
    if (result.cacheable) {
      this.cache.set(key, result.intent);
      if (shape !== undefined && result.intent.class !== 'unknown') this.shapeCache?.set(shape, result.intent);
    }
    return result;
  }

  private shapeKey(command: string): string | undefined {
    if (this.shape === undefined) return undefined;
    const shape = this.shape(command);
    return shape === undefined ? undefined : this.prefix + shape;
  }

  private fresh(command: string, session: AnalysisSession | undefined): { intent: Intent; cacheable: boolean } {
    if (isCacheAware(this.inner)) {
      const r = this.inner.analyseCacheable(command, session);
      return { intent: deepFreeze(r.intent), cacheable: r.cacheable };
    }
    return { intent: deepFreeze(this.inner.analyse(command, session)), cacheable: session === undefined };
  }
}
