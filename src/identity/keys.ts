// API keys: `slk_<id>_<secret>`. The id finds the record, the SHA-256 of the whole key is
// compared in constant time. 32 random bytes make a slow hash unnecessary; only the hash is
// stored, so the key is shown once at creation and never again.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiKeyRecord, Store } from '../store/store.js';

const KEY_PATTERN = /^slk_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

export interface NewKey {
  principal: string;
  kind: ApiKeyRecord['kind'];
  groups: string[];
  onBehalfOf?: string;
  /** Lifetime in milliseconds; undefined means the key does not expire. */
  ttlMs?: number;
}

export interface CreatedKey {
  /** The full key: print it once, never store or log it. */
  key: string;
  record: ApiKeyRecord;
}

export type KeyCheck =
  | { ok: true; record: ApiKeyRecord }
  | { ok: false; reason: 'malformed' | 'unknown' | 'revoked' | 'expired'; message: string };

export function hashKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

function randomId(): string {
  // 12 alphanumeric characters from unbiased random bytes.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let id = '';
  while (id.length < 12) {
    for (const byte of randomBytes(16)) {
      if (byte < 248 && id.length < 12) id += alphabet[byte % 62];
    }
  }
  return id;
}

export async function createKey(store: Store, request: NewKey, now = new Date()): Promise<CreatedKey> {
  if (request.onBehalfOf !== undefined && request.kind !== 'agent') {
    throw new Error('only an agent key can act on behalf of a human');
  }
  const id = randomId();
  const key = `slk_${id}_${randomBytes(32).toString('base64url')}`;
  const record: ApiKeyRecord = {
    id,
    principal: request.principal,
    kind: request.kind,
    groups: [...new Set(request.groups)].sort(),
    hash: hashKey(key),
    createdAt: now.toISOString(),
    ...(request.onBehalfOf !== undefined ? { onBehalfOf: request.onBehalfOf } : {}),
    ...(request.ttlMs !== undefined ? { expiresAt: new Date(now.getTime() + request.ttlMs).toISOString() } : {}),
  };
  await store.insertKey(record);
  return { key, record };
}

export async function checkKey(store: Store, key: string, now = new Date()): Promise<KeyCheck> {
  const match = KEY_PATTERN.exec(key);
  if (!match) return { ok: false, reason: 'malformed', message: 'not a Sluice API key (expected slk_<id>_<secret>)' };
  const record = await store.getKey(match[1]!);
  const presented = Buffer.from(hashKey(key), 'hex');
  // Compare even when the id is unknown, so timing does not reveal which ids exist.
  const expected = Buffer.from(record?.hash ?? '0'.repeat(64), 'hex');
  const equal = expected.length === presented.length && timingSafeEqual(expected, presented);
  if (!record || !equal) return { ok: false, reason: 'unknown', message: 'unknown API key' };
  if (record.revokedAt) return { ok: false, reason: 'revoked', message: `API key ${record.id} was revoked at ${record.revokedAt}` };
  if (record.expiresAt && Date.parse(record.expiresAt) <= now.getTime()) {
    return { ok: false, reason: 'expired', message: `API key ${record.id} expired at ${record.expiresAt}` };
  }
  return { ok: true, record };
}

/** A key's state for listings. */
export function keyStatus(record: ApiKeyRecord, now = new Date()): 'active' | 'revoked' | 'expired' {
  if (record.revokedAt) return 'revoked';
  if (record.expiresAt && Date.parse(record.expiresAt) <= now.getTime()) return 'expired';
  return 'active';
}
