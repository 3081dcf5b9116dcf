// The placeholder vault: which value a placeholder stands for, kept in the store so that a
// placeholder an agent sends back can be swapped for its value (masking/detokenise.ts) and a
// human can ask to see it (reveal). Values are sealed with AES-256-GCM under the vault key;
// the additional data binds each sealed value to its scope, placeholder and type, so a row
// copied onto another placeholder or scope fails authentication instead of decrypting.
//
// The masker hands every placeholder to `record()` synchronously, on the hot path of result
// masking. `record()` never waits for the store: new mappings go into a bounded write-behind
// buffer that is sealed and written in batches. When the buffer is full (the store is slow or
// down) a mapping is dropped: its placeholder stays one-way (de-tokenising or revealing it is
// refused as unknown) and the masked result itself is unaffected. Nothing unmasked can come
// out of that, and the masker never blocks on the store.
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import type { VaultEntry } from '../store/store.js';
import { MAX_VAULT_LOOKUP } from '../store/vault.js';

/** Distinct placeholders one command may have swapped: beyond it the command is refused. */
export const MAX_PLACEHOLDERS_PER_LOOKUP = 10_000;
import type { PlaceholderSink } from './types.js';

export type { VaultEntry };

/** The part of the Store the vault uses (store/store.ts implements it). */
export interface VaultStore {
  /** Inserts or replaces (same scope and placeholder) entries, all in one transaction. */
  putVaultEntries(entries: readonly VaultEntry[]): Promise<void>;
  /** Unexpired entries (expiresAt > now) for these placeholders in these scopes. */
  getVaultEntries(placeholders: readonly string[], scopes: readonly string[], now: string): Promise<VaultEntry[]>;
  /** Deletes entries with expiresAt <= now; returns how many. */
  pruneVault(now: string): Promise<number>;
}

export type VaultErrorCode = 'no_vault' | 'wrong_key' | 'tampered' | 'unavailable' | 'invalid_key' | 'too_many';

export class VaultError extends Error {
  constructor(
    readonly code: VaultErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'VaultError';
  }
}

/** A value found for a placeholder. */
export interface VaultValue {
  placeholder: string;
  scope: string;
  type: string;
  value: string;
}

export interface VaultOptions {
  store: VaultStore;
  /** 32 bytes (AES-256). */
  key: Buffer;
  /** How long a mapping lives after the masker last handed the placeholder out. */
  ttlMs: number;
  /** Most mappings waiting to be written; beyond it new ones are dropped (default 10000). */
  maxPending?: number;
  /** Delay before a batch is written (default 50 ms). */
  flushDelayMs?: number;
  /** How often expired mappings are deleted (default: the TTL, at most 10 minutes). */
  pruneEveryMs?: number;
  /** Clock (tests). */
  now?: () => number;
  /** Told about failed writes and drops (counts only, never values). */
  onProblem?: (problem: { kind: 'write_failed' | 'dropped'; count: number; error?: unknown }) => void;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;
/** How many recently written mappings are remembered so that repeats are not written again. */
const WRITTEN_LIMIT = 100_000;
const AAD_PREFIX = 'sluice-vault-v1';

/**
 * The vault key from its text form: base64 of exactly 32 bytes (`openssl rand -base64 32`).
 * Throws VaultError('invalid_key') with a message that never contains the text.
 */
export function parseVaultKey(text: string, where = 'the vault key'): Buffer {
  const trimmed = text.trim();
  const key = /^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) ? Buffer.from(trimmed, 'base64') : Buffer.alloc(0);
  if (key.length !== 32) {
    throw new VaultError('invalid_key', `${where} must be 32 random bytes in base64 (44 characters; make one with: openssl rand -base64 32)`);
  }
  return key;
}

/** A fingerprint of the key stored with each entry (HMAC, so it says nothing about the key). */
export function vaultKeyId(key: Buffer): string {
  return createHmac('sha256', key).update('sluice vault key id').digest('hex').slice(0, 16);
}

function aad(scope: string, placeholder: string, type: string): Buffer {
  return Buffer.from(`${AAD_PREFIX}\0${scope}\0${placeholder}\0${type}`, 'utf8');
}

/** Seals a value for (scope, placeholder, type). */
export function sealValue(key: Buffer, scope: string, placeholder: string, type: string, value: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad(scope, placeholder, type));
  const body = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64');
}

/** Opens a sealed value; throws when the key is wrong or the entry was altered or moved. */
export function openValue(key: Buffer, scope: string, placeholder: string, type: string, sealed: string): string {
  const raw = Buffer.from(sealed, 'base64');
  if (raw.length < IV_BYTES + TAG_BYTES) throw new Error('sealed value too short');
  const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
  decipher.setAAD(aad(scope, placeholder, type));
  decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
  return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
}

/** The scopes a caller's placeholders can come from, most specific first. */
export function callerScopes(caller: { session?: string; principal?: string }): string[] {
  const scopes: string[] = [];
  if (caller.session !== undefined) scopes.push(`session:${caller.session}`);
  if (caller.principal !== undefined) scopes.push(`agent:${caller.principal}`);
  scopes.push('global');
  return scopes;
}

interface Pending {
  scope: string;
  placeholder: string;
  type: string;
  value: string;
}

export class PlaceholderVault implements PlaceholderSink {
  readonly keyId: string;
  private readonly key: Buffer;
  private readonly store: VaultStore;
  private readonly ttlMs: number;
  private readonly maxPending: number;
  private readonly flushDelayMs: number;
  private readonly now: () => number;
  private readonly onProblem: VaultOptions['onProblem'];
  /** Mappings not yet written, by scope + NUL + placeholder. */
  private pending = new Map<string, Pending>();
  /** When recently written mappings were written (ms), by scope and placeholder. */
  private readonly recent = new Map<string, Map<string, number>>();
  private recentCount = 0;
  private timer: NodeJS.Timeout | undefined;
  private pruner: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;
  /** Mappings dropped because the buffer was full (for metrics and tests). */
  dropped = 0;

  constructor(options: VaultOptions) {
    if (!Buffer.isBuffer(options.key) || options.key.length !== 32) throw new VaultError('invalid_key', 'the vault key must be 32 bytes');
    if (!(options.ttlMs > 0)) throw new Error('the vault TTL must be positive');
    this.key = options.key;
    this.keyId = vaultKeyId(options.key);
    this.store = options.store;
    this.ttlMs = options.ttlMs;
    this.maxPending = options.maxPending ?? 10_000;
    this.flushDelayMs = options.flushDelayMs ?? 50;
    this.now = options.now ?? Date.now;
    this.onProblem = options.onProblem;
    const pruneEvery = options.pruneEveryMs ?? Math.min(this.ttlMs, 10 * 60_000);
    if (pruneEvery > 0) {
      this.pruner = setInterval(() => void this.prune().catch((error: unknown) => this.onProblem?.({ kind: 'write_failed', count: 0, error })), pruneEvery);
      this.pruner.unref();
    }
  }

  /** PlaceholderSink: called by the masker for every placeholder handed out. Never throws, never waits. */
  record(entry: { placeholder: string; type: string; value: string; scope: string }): void {
    if (this.closed) return;
    // Most calls repeat a mapping written moments ago: answered from a per-scope map without
    // building a key string (this runs per masked value).
    const at = this.recent.get(entry.scope)?.get(entry.placeholder);
    if (at !== undefined && this.now() - at < this.ttlMs / 2) return;
    const id = entry.scope + '\0' + entry.placeholder;
    if (this.pending.has(id)) return;
    if (this.pending.size >= this.maxPending) {
      this.dropped++;
      this.onProblem?.({ kind: 'dropped', count: 1 });
      return;
    }
    this.pending.set(id, { scope: entry.scope, placeholder: entry.placeholder, type: entry.type, value: entry.value });
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, this.flushDelayMs);
      this.timer.unref();
    }
  }

  /** Writes everything pending; resolves when it is in the store (or the write failed and was reported). */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    // One write at a time, in order; a flush also waits for the writes before it.
    this.writing = this.writing.then(() => this.writeBatch());
    return this.writing;
  }

  private async writeBatch(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const now = this.now();
    const createdAt = new Date(now).toISOString();
    const expiresAt = new Date(now + this.ttlMs).toISOString();
    const rows: VaultEntry[] = [];
    for (const p of batch.values()) {
      rows.push({
        scope: p.scope,
        placeholder: p.placeholder,
        type: p.type,
        keyId: this.keyId,
        sealed: sealValue(this.key, p.scope, p.placeholder, p.type, p.value),
        createdAt,
        expiresAt,
      });
    }
    try {
      await this.store.putVaultEntries(rows);
    } catch (error) {
      // Lost mappings only make those placeholders one-way; say how many, never which values.
      this.onProblem?.({ kind: 'write_failed', count: rows.length, error });
      return;
    }
    for (const p of batch.values()) {
      let scoped = this.recent.get(p.scope);
      if (!scoped) this.recent.set(p.scope, (scoped = new Map()));
      if (!scoped.has(p.placeholder)) this.recentCount++;
      scoped.set(p.placeholder, now);
    }
    // Bounded: forgetting only means a mapping may be written once more.
    if (this.recentCount > WRITTEN_LIMIT) {
      this.recent.clear();
      this.recentCount = 0;
    }
  }

  /**
   * The values of placeholders for a caller, looked up in `scopes` (most specific first; see
   * callerScopes). Placeholders without an unexpired mapping are absent from the result.
   * Throws VaultError: `wrong_key` when an entry was sealed under another key, `tampered`
   * when it fails authentication, `unavailable` when the store cannot be read.
   */
  async lookup(placeholders: readonly string[], scopes: readonly string[]): Promise<Map<string, VaultValue>> {
    const found = new Map<string, VaultValue>();
    const missing: string[] = [];
    for (const placeholder of new Set(placeholders)) {
      const waiting = scopes.map((scope) => this.pending.get(scope + '\0' + placeholder)).find((p) => p !== undefined);
      if (waiting) found.set(placeholder, { placeholder, scope: waiting.scope, type: waiting.type, value: waiting.value });
      else missing.push(placeholder);
    }
    if (missing.length === 0) return found;
    if (missing.length > MAX_PLACEHOLDERS_PER_LOOKUP) {
      throw new VaultError('too_many', `a command may hold at most ${MAX_PLACEHOLDERS_PER_LOOKUP} distinct placeholders to swap for values (this one has ${missing.length})`);
    }
    const rows: VaultEntry[] = [];
    try {
      // The store reads a bounded number per query.
      for (let i = 0; i < missing.length; i += MAX_VAULT_LOOKUP) {
        rows.push(...(await this.store.getVaultEntries(missing.slice(i, i + MAX_VAULT_LOOKUP), scopes, new Date(this.now()).toISOString())));
      }
    } catch (error) {
      throw new VaultError('unavailable', 'the placeholder vault cannot be read from the store', { cause: error });
    }
    const rank = (scope: string) => scopes.indexOf(scope);
    rows.sort((a, b) => rank(a.scope) - rank(b.scope));
    for (const row of rows) {
      if (found.has(row.placeholder) || rank(row.scope) < 0) continue;
      if (row.keyId !== this.keyId) {
        throw new VaultError(
          'wrong_key',
          `the vault entry for ${row.placeholder} was sealed with another key (key id ${row.keyId}; the configured key has id ${this.keyId}): set masking.vault.key (or SLUICE_VAULT_KEY) to the key the vault was written with`,
        );
      }
      let value: string;
      try {
        value = openValue(this.key, row.scope, row.placeholder, row.type, row.sealed);
      } catch (error) {
        throw new VaultError('tampered', `the vault entry for ${row.placeholder} fails authentication: it was altered or moved to another placeholder or scope`, { cause: error });
      }
      found.set(row.placeholder, { placeholder: row.placeholder, scope: row.scope, type: row.type, value });
    }
    return found;
  }

  /** Deletes expired mappings from the store. */
  async prune(): Promise<number> {
    return this.store.pruneVault(new Date(this.now()).toISOString());
  }

  /** Writes what is pending and stops the timers. */
  async close(): Promise<void> {
    if (this.pruner) clearInterval(this.pruner);
    this.pruner = undefined;
    await this.flush();
    this.closed = true;
  }
}
