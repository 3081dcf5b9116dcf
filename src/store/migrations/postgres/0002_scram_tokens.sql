-- Sluice store, version 2 (PostgreSQL): SCRAM-SHA-256 verifiers beside key hashes, short-lived
-- tokens, and the installation secret SCRAM salts are derived from.

-- PostgreSQL's text form: SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>. Keys
-- created before this version have none and keep working where cleartext is allowed.
ALTER TABLE api_keys
  ADD COLUMN scram TEXT,
  ADD COLUMN token BOOLEAN NOT NULL DEFAULT false;

CREATE TABLE meta (
  name   TEXT PRIMARY KEY,
  value  TEXT NOT NULL
);

-- 32 bytes made once here, under the migration lock. gen_random_uuid() (PostgreSQL 13+) draws
-- from the server's strong random source; three of them carry 366 random bits, hashed to 256.
INSERT INTO meta (name, value)
VALUES ('installation_secret', encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')), 'hex'));
