-- Sluice store, version 5: the placeholder vault (masking/vault.ts). Each row maps a
-- placeholder within a scope to its value sealed with AES-256-GCM under the vault key (the
-- key never reaches the store); rows are deleted once expired.
CREATE TABLE placeholder_vault (
  scope TEXT NOT NULL,
  placeholder TEXT NOT NULL,
  type TEXT NOT NULL,
  key_id TEXT NOT NULL,
  sealed TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  PRIMARY KEY (scope, placeholder)
);
CREATE INDEX placeholder_vault_placeholder ON placeholder_vault (placeholder);
CREATE INDEX placeholder_vault_expires ON placeholder_vault (expires_at);
