// The vault a config asks for: `masking.vault.key` (a secret reference) or, without it, the
// SLUICE_VAULT_KEY environment variable. No key means no vault: placeholders stay one-way.
import type { SluiceConfig } from '../config/schema.js';
import { resolveSecret } from '../credentials/secrets.js';
import { log } from '../util/log.js';
import { parseVaultKey, PlaceholderVault, type VaultStore } from './vault.js';

/** The vault key of a config, or undefined when none is configured. Throws on a malformed key. */
export function vaultKey(config: SluiceConfig, baseDir: string, env: NodeJS.ProcessEnv = process.env): Buffer | undefined {
  const ref = config.masking.vault.key;
  if (ref) return parseVaultKey(resolveSecret(ref, { baseDir, label: 'masking.vault.key' }), 'masking.vault.key');
  const fromEnv = env.SLUICE_VAULT_KEY;
  if (fromEnv !== undefined && fromEnv !== '') return parseVaultKey(fromEnv, 'SLUICE_VAULT_KEY');
  return undefined;
}

/** The running vault for a config and its key (vaultKey), or undefined without a key. */
export function createVault(config: SluiceConfig, key: Buffer | undefined, store: VaultStore): PlaceholderVault | undefined {
  if (!key) return undefined;
  let lastReport = 0;
  return new PlaceholderVault({
    store,
    key,
    ttlMs: config.masking.vault.ttl,
    maxPending: config.masking.vault.max_pending,
    onProblem: ({ kind, count, error }) => {
      // At most one line every 10 s: a store outage would otherwise flood the log.
      const now = Date.now();
      if (now - lastReport < 10_000) return;
      lastReport = now;
      if (kind === 'dropped') log.warn('placeholder vault: mappings dropped because the write buffer is full (masking.vault.max_pending); those placeholders stay one-way');
      else log.warn({ err: error, count }, 'placeholder vault: mappings could not be written; those placeholders stay one-way');
    },
  });
}
