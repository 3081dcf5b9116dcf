// Keyed digests of values the ledger must not hold in clear: statement parameters, tool-call
// arguments, values that were masked. A record keeps `hmac:` + the first 128 bits (hex) of
// HMAC-SHA-256(key, value), so an auditor who knows a value can find the records that carry
// it (`sluice audit search --value`), while a reader of the ledger cannot test guesses without
// the key. The key (32 random bytes) lives outside the audit tables, like the checkpoint
// signing key: SLUICE_AUDIT_HMAC_KEY (base64), else the file `audit.hmac_key`, else a file
// beside the embedded store (or beside the checkpoint key), created on first start, mode 0600.
// Every node sharing a store must use the same key, or searches miss the other nodes' records.
//
// What a value is: a string is its UTF-8 bytes; a number, boolean or bigint its JSON text
// (42, true); a Buffer its bytes. null and undefined are kept as they are (no value to hide).
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { SluiceConfig } from '../config/schema.js';
import { parseStoreUrl } from '../store/open.js';
import { createKeyFileOnce } from './key-file.js';
import type { AuditRow, Store } from '../store/store.js';
import { log } from '../util/log.js';

export const DIGEST_PREFIX = 'hmac:';
export const DIGEST_KEY_FILE = 'audit-hmac.key';
export const DIGEST_KEY_ENV = 'SLUICE_AUDIT_HMAC_KEY';
const DIGEST_HEX = 32;
const DIGEST = new RegExp(`^${DIGEST_PREFIX}[0-9a-f]{${DIGEST_HEX}}$`);

export function isValueDigest(v: unknown): v is string {
  return typeof v === 'string' && DIGEST.test(v);
}

export class ValueDigester {
  /** Names the key without revealing it (first 16 hex of SHA-256 over a label and the key). */
  readonly keyId: string;

  constructor(private readonly key: Buffer) {
    if (!Buffer.isBuffer(key) || key.length < 32) throw new Error('the audit HMAC key must be at least 32 bytes');
    this.keyId = createHash('sha256').update('sluice-audit-hmac-key\n').update(key).digest('hex').slice(0, 16);
  }

  static generate(): ValueDigester {
    return new ValueDigester(randomBytes(32));
  }

  /** `hmac:` + 32 hex digits for one value. */
  digest(value: string | number | boolean | bigint | Uint8Array): string {
    const h = createHmac('sha256', this.key);
    h.update(typeof value === 'string' ? value : value instanceof Uint8Array ? value : String(value));
    return DIGEST_PREFIX + h.digest('hex').slice(0, DIGEST_HEX);
  }

  /**
   * The same JSON shape with every scalar replaced by its digest: object keys (argument names)
   * stay readable, values do not. null stays null.
   */
  digestJson(value: unknown, depth = 0): unknown {
    if (value === null || value === undefined) return value;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return this.digest(value);
    if (value instanceof Uint8Array) return this.digest(value);
    if (depth >= MAX_RECORDED_DEPTH) return TOO_DEEP;
    if (Array.isArray(value)) return value.map((v) => this.digestJson(v, depth + 1));
    if (typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = this.digestJson(v, depth + 1);
      return out;
    }
    return this.digest(String(value));
  }

  /** Digests of a statement's bound parameters: null for SQL NULL. */
  digestParams(params: readonly (string | Uint8Array | null)[]): (string | null)[] {
    return params.map((p) => (p === null ? null : this.digest(p)));
  }
}

/**
 * What a record keeps of JSON values (tool arguments): their digests, or without a digester
 * (no shared key) the shape alone, every value left out as null. For the gate and the doors.
 */
export function recordableJson(value: unknown, digester: ValueDigester | undefined, depth = 0): unknown {
  if (digester) return digester.digestJson(value);
  const nested = typeof value === 'object' && value !== null && !(value instanceof Uint8Array);
  if (nested && depth >= MAX_RECORDED_DEPTH) return TOO_DEEP;
  if (Array.isArray(value)) return value.map((v) => recordableJson(v, undefined, depth + 1));
  if (nested) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = recordableJson(v, undefined, depth + 1);
    return out;
  }
  return null;
}

/**
 * Argument JSON nested deeper than this is recorded as TOO_DEEP from there on: agent input must
 * not overflow the stack while its record is built (canonical JSON allows 64 levels in all).
 */
const MAX_RECORDED_DEPTH = 32;
const TOO_DEEP = '[nested too deep to record]';

/** What a record keeps of bound statement parameters: digests (null for SQL NULL), or without a digester only how many. */
export function recordableParams(params: readonly (string | Uint8Array | null)[], digester: ValueDigester | undefined): (string | null)[] | number {
  return digester ? digester.digestParams(params) : params.length;
}

/**
 * Loads the key file, or creates it (32 random bytes, base64, mode 0600) when missing. A key
 * file others can read is refused.
 */
export function loadOrCreateDigestKey(path: string): { digester: ValueDigester; created: boolean } {
  let text: string;
  try {
    const st = statSync(path);
    if ((st.mode & 0o077) !== 0) {
      throw new Error(`the audit HMAC key ${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}); chmod 600 it`);
    }
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    const key = randomBytes(32);
    // Nodes sharing the file may start together: the first to link its key wins, the others load it.
    if (createKeyFileOnce(path, `${key.toString('base64')}\n`)) return { digester: new ValueDigester(key), created: true };
    return loadOrCreateDigestKey(path);
  }
  return { digester: new ValueDigester(decodeKey(text, path)), created: false };
}

function decodeKey(text: string, where: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length < 32) throw new Error(`${where} must hold at least 32 bytes, base64-encoded`);
  return key;
}

/**
 * Where the key comes from for a config: the environment, `audit.hmac_key`, beside an
 * embedded store, or beside the checkpoint key. Undefined for an in-memory store (a key that
 * is not kept). Throws when a PostgreSQL store leaves no place for it.
 */
export function digestKeySource(config: SluiceConfig, baseDir: string, env: NodeJS.ProcessEnv = process.env): { env: string } | { file: string } | undefined {
  if (env[DIGEST_KEY_ENV]) return { env: DIGEST_KEY_ENV };
  const configured = config.audit.hmac_key;
  if (configured) return { file: isAbsolute(configured) ? configured : resolve(baseDir, configured) };
  const target = parseStoreUrl(config.store.url);
  if (target.kind === 'postgres') {
    const signing = config.audit.checkpoint.key;
    if (signing) return { file: resolve(dirname(isAbsolute(signing) ? signing : resolve(baseDir, signing)), DIGEST_KEY_FILE) };
    throw new NoDigestKeyError(`with a PostgreSQL store, set audit.hmac_key (a file every node shares) or ${DIGEST_KEY_ENV}`);
  }
  if (target.path === ':memory:' || target.path === '') return undefined;
  const storePath = isAbsolute(target.path) ? target.path : resolve(baseDir, target.path);
  return { file: resolve(dirname(storePath), DIGEST_KEY_FILE) };
}

/** A PostgreSQL store names no place for the key (no audit.hmac_key, checkpoint key or env). */
export class NoDigestKeyError extends Error {
  override name = 'NoDigestKeyError';
}

/**
 * The runtime's digester, or undefined (with a warning) when a PostgreSQL store names no key:
 * then records leave such values out rather than hold them in clear or under a key that other
 * nodes do not share.
 */
export function runtimeValueDigester(loaded: { config: SluiceConfig; baseDir: string }): ValueDigester | undefined {
  try {
    return openValueDigester(loaded).digester;
  } catch (error) {
    if (!(error instanceof NoDigestKeyError)) throw error;
    log.warn(`${error.message} to make parameter and argument values searchable in the audit ledger; until then records leave them out`);
    return undefined;
  }
}

/** The digester for a config, creating its key file on first use (`create: false`: only read it). */
export function openValueDigester(
  loaded: { config: SluiceConfig; baseDir: string },
  options: { create?: boolean; env?: NodeJS.ProcessEnv } = {},
): { digester: ValueDigester; created: boolean; source: string } {
  const env = options.env ?? process.env;
  const source = digestKeySource(loaded.config, loaded.baseDir, env);
  if (!source) return { digester: ValueDigester.generate(), created: true, source: 'memory' };
  if ('env' in source) return { digester: new ValueDigester(decodeKey(env[source.env]!, source.env)), created: false, source: source.env };
  if (options.create === false) return { digester: new ValueDigester(decodeKey(readFileSync(source.file, 'utf8'), source.file)), created: false, source: source.file };
  const { digester, created } = loadOrCreateDigestKey(source.file);
  return { digester, created, source: source.file };
}

/** JSON paths (`detail.args.email`, `detail.params[2]`, `command`) in a record body where `digest` occurs. */
export function digestPaths(body: unknown, digest: string): string[] {
  const out: string[] = [];
  const walk = (v: unknown, path: string): void => {
    // Inside a string too: a command keeps the digests of the values redacted from it.
    if (typeof v === 'string') {
      if (v.includes(digest)) out.push(path);
    } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
    else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(x, path ? `${path}.${k}` : k);
    }
  };
  walk(body, '');
  return out;
}

export interface DigestMatch {
  row: AuditRow;
  /** Where in the body the digest occurs. */
  paths: string[];
}

/** Records whose body holds `digest`, oldest first, reading the store page by page. */
export async function* findDigest(store: Store, digest: string, options: { afterSeq?: number; pageSize?: number } = {}): AsyncGenerator<DigestMatch> {
  const pageSize = options.pageSize ?? 5000;
  let after = options.afterSeq ?? 0;
  for (;;) {
    const page = await store.readAudit({ afterSeq: after, limit: pageSize });
    for (const row of page) {
      // A digest is 128 random-looking bits: a plain substring test finds the candidates.
      if (!row.body.includes(digest)) continue;
      const paths = digestPaths(JSON.parse(row.body), digest);
      if (paths.length > 0) yield { row, paths };
    }
    if (page.length < pageSize) return;
    after = page[page.length - 1]!.seq;
  }
}
