-- Sluice store, version 2 (SQLite): SCRAM-SHA-256 verifiers beside key hashes, short-lived
-- tokens, and the installation secret SCRAM salts are derived from.

-- PostgreSQL's text form: SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>. Keys
-- created before this version have none and keep working where cleartext is allowed.
ALTER TABLE api_keys ADD COLUMN scram TEXT;
-- 1 for a short-lived token (slt_...), 0 for an API key (slk_...).
ALTER TABLE api_keys ADD COLUMN token INTEGER NOT NULL DEFAULT 0 CHECK (token IN (0, 1));

CREATE TABLE meta (
  name   TEXT PRIMARY KEY,
  value  TEXT NOT NULL
) STRICT;

-- 32 random bytes, made once here (inside the migration's transaction, so two processes
-- starting together cannot make two). randomblob() draws from SQLite's CSPRNG, seeded by the OS.
INSERT INTO meta (name, value) VALUES ('installation_secret', lower(hex(randomblob(32))));
