// API keys `slk_<id>_<secret>` and short-lived tokens `slt_<id>_<secret>`: both are stored the
// same way and pass the same checks; the prefix only tells people which one they hold. The id
// finds the record, the SHA-256 of the whole key is compared in constant time. 32 random bytes
// make a slow hash unnecessary. Beside the hash the store keeps a SCRAM-SHA-256 verifier
// (identity/scram.ts), computed here because creation is the only moment Sluice holds the key.
// The key is shown once at creation and never again.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ApiKeyRecord, Store } from '../store/store.js';
import { SCRAM_ITERATIONS, computeScramVerifier, decodeScramVerifier, encodeScramVerifier, principalSalt, type ScramVerifier } from './scram.js';

const KEY_PATTERN = /^sl([kt])_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

export interface NewKey {
  principal: string;
  kind: ApiKeyRecord['kind'];
  groups: string[];
  onBehalfOf?: string;
  /** Lifetime in milliseconds; undefined means the key does not expire. */
  ttlMs?: number;
  /** A short-lived token (`slt_`) instead of an API key; it must have a lifetime. */
  token?: boolean;
  /** For a token: the key or token that asked for it (revoking that one stops this one). */
  parentId?: string;
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

const secrets = new WeakMap<Store, Promise<Buffer>>();

/** The store's installation secret, read once per store object (it never changes). */
export function installationSecret(store: Store): Promise<Buffer> {
  let secret = secrets.get(store);
  if (!secret) {
    secret = store.installationSecret();
    secrets.set(store, secret);
    // A failed read is not cached: the next login or creation tries again.
    secret.catch(() => secrets.delete(store));
  }
  return secret;
}

/** The SCRAM salt of a principal's keys (also the mock salt of a name without keys). */
export async function saltFor(store: Store, principal: string): Promise<Buffer> {
  return principalSalt(await installationSecret(store), principal);
}

export async function createKey(store: Store, request: NewKey, now = new Date()): Promise<CreatedKey> {
  if (request.onBehalfOf !== undefined && request.kind !== 'agent') {
    throw new Error('only an agent key can act on behalf of a human');
  }
  if (request.token && (request.ttlMs === undefined || !(request.ttlMs > 0))) throw new Error('a token needs a positive lifetime');
  const id = randomId();
  const key = `${request.token ? 'slt' : 'slk'}_${id}_${randomBytes(32).toString('base64url')}`;
  const verifier = await computeScramVerifier(key, await saltFor(store, request.principal), SCRAM_ITERATIONS);
  const record: ApiKeyRecord = {
    id,
    principal: request.principal,
    kind: request.kind,
    groups: [...new Set(request.groups)].sort(),
    hash: hashKey(key),
    createdAt: now.toISOString(),
    ...(request.onBehalfOf !== undefined ? { onBehalfOf: request.onBehalfOf } : {}),
    ...(request.ttlMs !== undefined ? { expiresAt: new Date(now.getTime() + request.ttlMs).toISOString() } : {}),
    scram: encodeScramVerifier(verifier),
    ...(request.token ? { token: true } : {}),
    ...(request.parentId !== undefined ? { parentId: request.parentId } : {}),
  };
  await store.insertKey(record);
  return { key, record };
}

/** What to call a record in messages. */
export function credentialName(record: ApiKeyRecord): string {
  return record.token ? `token ${record.id}` : `API key ${record.id}`;
}

/**
 * Why a record that proved its secret cannot be used, or undefined when it can. The same
 * words for every door: only someone holding the real key or token ever sees them.
 */
export function unusable(record: ApiKeyRecord, now = new Date()): { reason: 'revoked' | 'expired'; message: string } | undefined {
  if (record.revokedAt) return { reason: 'revoked', message: `${credentialName(record)} was revoked at ${record.revokedAt}` };
  if (record.expiresAt && Date.parse(record.expiresAt) <= now.getTime()) {
    return {
      reason: 'expired',
      message: record.token ? `token expired at ${record.expiresAt} (token ${record.id}); create a new one` : `API key ${record.id} expired at ${record.expiresAt}`,
    };
  }
  return undefined;
}

export async function checkKey(store: Store, key: string, now = new Date()): Promise<KeyCheck> {
  const match = KEY_PATTERN.exec(key);
  if (!match) return { ok: false, reason: 'malformed', message: 'not a Sluice API key or token (expected slk_<id>_<secret> or slt_<id>_<secret>)' };
  const record = await store.getKey(match[2]!);
  const presented = Buffer.from(hashKey(key), 'hex');
  // Compare even when the id is unknown, so timing does not reveal which ids exist.
  const expected = Buffer.from(record?.hash ?? '0'.repeat(64), 'hex');
  const equal = expected.length === presented.length && timingSafeEqual(expected, presented);
  // The prefix is covered by the hash, so a key cannot pass as a token or the other way round.
  if (!record || !equal) return { ok: false, reason: 'unknown', message: match[1] === 't' ? 'unknown token' : 'unknown API key' };
  const refused = await refusal(store, record, now);
  if (refused) return { ok: false, ...refused };
  return { ok: true, record };
}

/** Longest chain of tokens made from tokens that is followed back to its key. */
const MAX_ISSUER_DEPTH = 16;

/**
 * Like `unusable`, and also follows a token back to the key that issued it (through tokens
 * made from tokens): a token stops working when any credential it descends from is revoked,
 * has expired, or is gone.
 */
export async function refusal(store: Store, record: ApiKeyRecord, now = new Date()): Promise<{ reason: 'revoked' | 'expired'; message: string } | undefined> {
  const own = unusable(record, now);
  if (own) return own;
  let current = record;
  for (let depth = 0; current.parentId !== undefined; depth++) {
    if (depth >= MAX_ISSUER_DEPTH) return { reason: 'revoked', message: `${credentialName(record)} descends from more than ${MAX_ISSUER_DEPTH} tokens` };
    const parent = await store.getKey(current.parentId);
    if (!parent) return { reason: 'revoked', message: `${credentialName(record)} was issued by ${current.parentId}, which no longer exists` };
    const refused = unusable(parent, now);
    if (refused) return { reason: refused.reason, message: `${credentialName(record)} was issued by ${credentialName(parent)}, which is no longer valid (${refused.message})` };
    current = parent;
  }
  return undefined;
}

/** Most keys and tokens of one principal that a SCRAM login is checked against (the newest). */
export const MAX_SCRAM_CANDIDATES = 64;

/** Keys revoked or expired within this window still take part in SCRAM, so a refusal can say why. */
export const REFUSAL_WINDOW_MS = 24 * 60 * 60 * 1000;

/** What the PostgreSQL door needs to run SCRAM for a user name. */
export interface LoginVerifiers {
  salt: Buffer;
  iterations: number;
  candidates: { verifier: ScramVerifier; keyId: string }[];
  /** Usable keys without a verifier (made before store version 2): only cleartext can check them. */
  passwordKeys: boolean;
}

const scramSeen = new WeakSet<Store>();

/**
 * The SCRAM candidates for a login as `principal`: its keys with verifiers that are usable,
 * or stopped being usable within REFUSAL_WINDOW_MS. A name with no usable key gets the same
 * answer with no candidates (a mock exchange that fails like a wrong key), so whether a
 * principal exists does not show; undefined only while no key in the store has a verifier,
 * when every login is a cleartext one anyway.
 */
export async function loginVerifiers(store: Store, principal: string, now = new Date()): Promise<LoginVerifiers | undefined> {
  const since = new Date(now.getTime() - REFUSAL_WINDOW_MS).toISOString();
  const [records, salt] = await Promise.all([store.loginKeys(principal, since), saltFor(store, principal)]);
  const candidates: LoginVerifiers['candidates'] = [];
  let passwordKeys = false;
  // Bounded: every candidate costs an HMAC in the exchange, and a principal must not be able to
  // slow every login down by minting tokens. Usable credentials come first (newest first), so
  // a flood of expired tokens can only crowd out other unusable ones, which are there just to
  // say why a login failed.
  const recent = records
    .map((record) => ({ record, usable: !unusable(record, now) }))
    .sort((a, b) => (a.usable !== b.usable ? (a.usable ? -1 : 1) : a.record.createdAt < b.record.createdAt ? 1 : a.record.createdAt > b.record.createdAt ? -1 : 0))
    .slice(0, MAX_SCRAM_CANDIDATES)
    .map((entry) => entry.record);
  for (const record of recent) {
    const verifier = record.scram ? decodeScramVerifier(record.scram) : undefined;
    if (verifier && verifier.salt.equals(salt) && verifier.iterations === SCRAM_ITERATIONS) candidates.push({ verifier, keyId: record.id });
    else if (!unusable(record, now)) passwordKeys = true;
  }
  if (candidates.length === 0 && !passwordKeys) {
    if (!scramSeen.has(store)) {
      if (!(await store.hasScramKeys())) return undefined;
      scramSeen.add(store); // verifiers never disappear once a key has one
    }
  }
  return { salt, iterations: SCRAM_ITERATIONS, candidates, passwordKeys };
}

/** A key's state for listings. */
export function keyStatus(record: ApiKeyRecord, now = new Date()): 'active' | 'revoked' | 'expired' {
  if (record.revokedAt) return 'revoked';
  if (record.expiresAt && Date.parse(record.expiresAt) <= now.getTime()) return 'expired';
  return 'active';
}
