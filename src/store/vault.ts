// Row mapping and checks for the placeholder vault table (store version 5), shared by both
// stores. The store never sees a value in clear: masking/vault.ts seals it first.
import { StoreError } from './errors.js';
import type { VaultEntry } from './store.js';

export const VAULT_COLUMNS = 'scope, placeholder, type, key_id, sealed, created_at, expires_at';

/** Most placeholders or scopes one lookup may name. */
export const MAX_VAULT_LOOKUP = 1000;

/** VaultEntry's fields in VAULT_COLUMNS order; all of them are non-empty text. */
const FIELDS = ['scope', 'placeholder', 'type', 'keyId', 'sealed', 'createdAt', 'expiresAt'] as const satisfies readonly (keyof VaultEntry)[];

export function checkVaultEntries(entries: unknown): readonly VaultEntry[] {
  if (!Array.isArray(entries)) throw new StoreError('invalid', 'putVaultEntries: entries must be an array');
  entries.forEach((e: unknown, i) => {
    if (typeof e !== 'object' || e === null) throw new StoreError('invalid', `putVaultEntries: entry ${i} is not an object`);
    for (const f of FIELDS) {
      const v = (e as Record<string, unknown>)[f];
      if (typeof v !== 'string' || v.length === 0) throw new StoreError('invalid', `putVaultEntries: entry ${i} needs a non-empty string ${f}`);
    }
  });
  return entries as VaultEntry[];
}

export function checkVaultLookup(placeholders: unknown, scopes: unknown, now: unknown): void {
  for (const [what, list] of [['placeholders', placeholders], ['scopes', scopes]] as const) {
    if (!Array.isArray(list) || list.some((v) => typeof v !== 'string') || list.length > MAX_VAULT_LOOKUP) {
      throw new StoreError('invalid', `getVaultEntries: ${what} must be an array of at most ${MAX_VAULT_LOOKUP} strings`);
    }
  }
  if (typeof now !== 'string') throw new StoreError('invalid', 'getVaultEntries: now must be an ISO time string');
}

/** A VaultEntry from a raw row in VAULT_COLUMNS order. */
export function vaultEntryFromRaw(r: readonly unknown[]): VaultEntry {
  return Object.fromEntries(FIELDS.map((field, i) => [field, r[i]])) as unknown as VaultEntry;
}
